"""Helpers the UI pages share: audit records, paging, query arguments, display filters."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, request
from markupsafe import Markup
from sqlalchemy import Select, func, select

from hub.audit import record
from hub.db import db
from hub.metrics import format_value
from hub.ui.security import current_user

PAGE_SIZE = 50
DASH = "\u2013"  # shown where there is no value


def audit(action: str, target: str, **details: Any) -> None:
    """Record a UI change in the audit log (committed with the change)."""
    user = current_user()
    record(db.session, user.actor if user else "ui", action, target, **details)


def int_arg(name: str, default: int, lo: int = 1, hi: int = 10_000_000) -> int:
    try:
        return max(lo, min(hi, int(request.args.get(name, default))))
    except (TypeError, ValueError):
        return default


@dataclass
class Page:
    items: list[Any]
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    def url(self, page: int) -> str:
        args = {k: v for k, v in request.args.items() if k != "page" and v != ""}
        args["page"] = str(page)
        return f"{request.path}?{urlencode(args)}"


def paginate(stmt: Select, scalars: bool = True, size: int = PAGE_SIZE) -> Page:
    """One page of ``stmt`` (``?page=``), counted and sliced in SQL."""
    page = int_arg("page", 1)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    query = stmt.offset((page - 1) * size).limit(size)
    rows = list(db.session.scalars(query) if scalars else db.session.execute(query))
    return Page(rows, page, size, int(total or 0))


def safe_next(target: str | None) -> str | None:
    """A same-site path to return to after sign-in, or None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _dt(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return value.strftime(fmt) + " UTC"
    return value.isoformat()


def _json_data(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block (not executed; CSP-safe)."""
    text = json.dumps(value, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # escaped above for an HTML script-data context


def _label(value: str | None) -> str:
    return (value or "").replace("_", " ")


def init_filters(app: Flask) -> None:
    app.jinja_env.filters["kpi"] = lambda value, key: format_value(key, value)
    app.jinja_env.filters["dt"] = _dt
    app.jinja_env.filters["json_data"] = _json_data
    app.jinja_env.filters["label"] = _label
    app.jinja_env.filters["money"] = lambda v: DASH if v is None else f"{float(v):,.2f}"
    app.jinja_env.filters["pct"] = lambda v: DASH if v is None else f"{float(v) * 100:.1f} %"
