"""The admin UI blueprint: every page is a view registered on ``bp``; the hooks every request
passes through (sign-in, CSRF, roles, secure headers) and the error pages are set up here,
once, when the module is imported."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hub.ui import security

bp = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/ui/static",
)
bp.before_request(security.guard)
bp.after_request(security.secure_headers)


def _page(code: int, title: str, message: str):
    return render_template("error.html", code=code, title=title, message=message), code


@bp.errorhandler(CSRFError)
def _csrf_error(_exc: CSRFError):
    return _page(
        400,
        "Form expired",
        "The form's security token is missing or expired. Reload the page and try again.",
    )


def _http_error(exc: HTTPException):
    return _page(exc.code or 500, exc.name, exc.description or "")


for _code in (400, 403, 404, 405, 409, 422, 429, 501, 502):
    bp.register_error_handler(_code, _http_error)
