"""Sign in and sign out."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from hub.audit import record
from hub.db import db
from hub.ui.blueprint import bp
from hub.ui.common import safe_next
from hub.ui.security import (
    end_session,
    login_failed,
    login_locked,
    login_succeeded,
    sign_in,
)
from hub.users import authenticate


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    status = 200
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        if login_locked(email):
            error, status = "Too many failed sign-ins. Try again in 15 minutes.", 429
        else:
            user = authenticate(db.session, email, password)
            if user is None:
                login_failed(email)
                error, status = "The email or password is wrong.", 401
            else:
                login_succeeded(email)
                sign_in(user)
                record(db.session, f"user:{user.email}", "ui.sign_in", f"user:{user.id}")
                db.session.commit()
                return redirect(safe_next(request.args.get("next")) or url_for("ui.dashboard"))
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    end_session()
    flash("Signed out.")
    return redirect(url_for("ui.login"))
