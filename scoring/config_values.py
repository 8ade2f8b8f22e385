"""Checks shared by the configuration sections: numbers and lists of names."""

from __future__ import annotations

import math
from typing import Any


def check_number(
    value: Any, path: str, problems: list[str], lo: float | None = None
) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"{path}: must be a finite number")
        return None
    if lo is not None and value < lo:
        problems.append(f"{path}: must be at least {lo}")
        return None
    return float(value)


def check_names(value: Any, path: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{path}: must be a list of names")
        return ()
    return tuple(value)
