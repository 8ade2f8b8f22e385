"""Salesforce record ids: 15-character (case-sensitive) to 18-character (case-safe) form."""

from __future__ import annotations

import re

_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")


def to18(record_id: str) -> str:
    """The 18-character id (an 18-character id is returned as given)."""
    if not _ID.match(record_id or ""):
        raise ValueError(f"{record_id!r} is not a Salesforce id")
    if len(record_id) == 18:
        return record_id
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(record_id[start : start + 5]) if ch.isupper())
        suffix += _SUFFIX[bits]
    return record_id + suffix


def is_id(value: str) -> bool:
    return bool(_ID.match(value or ""))
