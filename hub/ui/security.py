"""Who is signed in, what they may do, and the protections every UI response carries:
session cookie flags, CSRF on every form, secure headers, sign-in throttling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from hub.auth import Principal
from hub.db import db
from hub.models import User
from hub.users import session_stamp

csrf = CSRFProtect()

PUBLIC_ENDPOINTS = frozenset({"ui.login", "ui.static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
LOGIN_FAILURES_ALLOWED = 5
LOGIN_LOCK_SECONDS = 15 * 60


@dataclass(frozen=True)
class SignedIn:
    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return f"user:{self.email}"


def configure(app: Flask) -> None:
    """Cookie flags and CSRF for the UI (the API and webhooks use tokens and signatures)."""
    secure = app.config["CSHUB"].base_url.startswith("https://")
    app.config.setdefault("SESSION_COOKIE_NAME", "cshub_session")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in the UI's before_request only
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.config["WTF_CSRF_SSL_STRICT"] = secure
    csrf.init_app(app)


def current_user() -> SignedIn | None:
    return g.get("ui_user")


def load_user() -> SignedIn | None:
    """The user of this request's session, if it is still valid."""
    user_id, stamp = session.get("uid"), session.get("stamp")
    if not user_id or not stamp:
        return None
    row = db.session.get(User, user_id)
    if row is None or row.disabled_at is not None or session_stamp(row) != stamp:
        end_session()
        return None
    return SignedIn(row.id, row.email, row.role)


def sign_in(row: User) -> None:
    end_session()  # a fresh session: nothing carried over from before sign-in
    session.permanent = True
    session["uid"], session["stamp"] = row.id, session_stamp(row)


def end_session() -> None:
    """Forget the session and the CSRF token cached for this request."""
    session.clear()
    g.pop("csrf_token", None)
    g.pop("ui_user", None)


def guard() -> Response | None:
    """Before every UI request: require a session, CSRF on writes, admins for writes."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        if request.method not in SAFE_METHODS:
            csrf.protect()
        return None
    g.pop("ui_user", None)
    user = load_user()
    if user is None:
        return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
    g.ui_user = user
    g.principal = Principal(name=user.actor, role=user.role)
    if request.method not in SAFE_METHODS:
        csrf.protect()
        if not user.is_admin and request.endpoint != "ui.logout":
            abort(403, "Reps can look at everything but change nothing.")
    return None


def secure_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "ui.static":
        headers["Cache-Control"] = "no-store"
    return response


def _throttle_keys(email: str) -> list[str]:
    return [f"cshub:ui:login-fail:{email.strip().lower()}", f"cshub:ui:login-fail-ip:{_ip()}"]


def _ip() -> str:
    return request.remote_addr or "unknown"


def login_locked(email: str) -> bool:
    """Too many failed sign-ins for this email (or from this address) lately."""
    from hub.queue import queues

    counts = queues.redis.mget(_throttle_keys(email))
    limits = (LOGIN_FAILURES_ALLOWED, LOGIN_FAILURES_ALLOWED * 4)
    return any(int(c or 0) >= limit for c, limit in zip(counts, limits, strict=True))


def login_failed(email: str) -> None:
    from hub.queue import queues

    pipe = queues.redis.pipeline()
    for key in _throttle_keys(email):
        pipe.incr(key)
        pipe.expire(key, LOGIN_LOCK_SECONDS)
    pipe.execute()


def login_succeeded(email: str) -> None:
    from hub.queue import queues

    queues.redis.delete(_throttle_keys(email)[0])
