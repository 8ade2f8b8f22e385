"""Settings forms generated from an integration's marshmallow schema: one input per field,
secrets as empty password inputs (write-only: leaving one blank keeps the stored value)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields
from werkzeug.datastructures import MultiDict

from hub.crypto import PLACEHOLDER


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text, secret, number, checkbox, url, email, list, json
    required: bool
    description: str
    value: Any
    is_set: bool  # for secrets: whether a value is stored


def _kind(field: fields.Field, secret: bool) -> str:
    if secret:
        return "secret"
    if isinstance(field, fields.Boolean):
        return "checkbox"
    if isinstance(field, fields.Integer | fields.Float | fields.Decimal):
        return "number"
    if isinstance(field, fields.Url):
        return "url"
    if isinstance(field, fields.Email):
        return "email"
    if isinstance(field, fields.List):
        scalar = (fields.String, fields.Integer, fields.Float, fields.Decimal)
        return "list" if isinstance(field.inner, scalar) else "json"
    if isinstance(field, fields.Dict | fields.Nested | fields.Raw) and not isinstance(
        field, fields.String
    ):
        return "json"
    return "text"


def describe(schema: type[Schema], secret_keys: frozenset[str], values: dict) -> list[Field]:
    """The form's fields with the values in force (secrets never included)."""
    out = []
    for name, field in schema().fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        secret = key in secret_keys or bool(field.metadata.get("secret"))
        kind = _kind(field, secret)
        value = values.get(key)
        if kind == "secret":
            shown: Any = ""
        elif kind == "list":
            shown = "\n".join(str(v) for v in value or [])
        elif kind == "json":
            shown = json.dumps(value, indent=2) if value not in (None, "") else ""
        else:
            shown = "" if value is None else value
        out.append(
            Field(
                name=key,
                kind=kind,
                required=bool(field.required),
                description=str(field.metadata.get("description", "")),
                value=shown,
                is_set=bool(value),
            )
        )
    return out


def payload(
    form_fields: list[Field], form: MultiDict, stored: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The submitted form as the schema's input; a blank secret keeps the stored one (read
    here on the server, so the schema validates it and it never reaches the browser)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form_fields:
        raw = form.get(f.name, "")
        if f.kind == "secret":
            if raw and raw != PLACEHOLDER:
                data[f.name] = raw
            elif stored.get(f.name):
                data[f.name] = stored[f.name]
        elif f.kind == "checkbox":
            data[f.name] = f.name in form
        elif f.kind == "list":
            items = [p.strip() for p in raw.replace(",", "\n").splitlines() if p.strip()]
            if items or f.required:
                data[f.name] = items
        elif f.kind == "json":
            if raw.strip():
                try:
                    data[f.name] = json.loads(raw)
                except ValueError as exc:
                    errors[f.name] = f"not valid JSON: {exc}"
        elif raw.strip() != "":
            data[f.name] = raw.strip()
    return data, errors
