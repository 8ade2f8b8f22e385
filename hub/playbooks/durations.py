"""Durations in playbook YAML: ``30m``, ``48h``, ``3d``, ``2w`` or a number of days."""

from __future__ import annotations

import re
from datetime import timedelta

_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: object) -> timedelta:
    """A timedelta from ``value``; ValueError with a readable message when it is not one."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of days or text like 30m, 48h, 3d, 2w")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(days=value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    raise ValueError(f"{value!r} is not a duration (use 30m, 48h, 3d, 2w or a number of days)")
