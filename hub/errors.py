"""One error shape for every API and webhook answer: {"error": {"code", "message"}}."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.exceptions import HTTPException


class ApiError(HTTPException):
    """An error the client should see, with a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.details = details


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in details.items() if v is not None})
    return {"error": body}


def json_error(status: int, code: str, message: str, **details: Any):
    response = jsonify(error_body(code, message, **details))
    response.status_code = status
    return response


def from_http_exception(exc: HTTPException):
    """Map any werkzeug/flask-smorest HTTP error to the house shape."""
    if isinstance(exc, ApiError):
        return json_error(exc.code or 400, exc.error_code, exc.description or "", **exc.details)
    status = exc.code or 500
    code = (exc.name or "error").lower().replace(" ", "_")
    fields = None
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and "messages" in data:
        fields = data["messages"]
        code = "validation_error"
    message = exc.description or exc.name or "error"
    if fields is not None:
        message = "the request has invalid fields"
    return json_error(status, code, message, fields=fields)
