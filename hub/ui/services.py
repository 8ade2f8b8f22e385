"""The UI's seams to the capabilities behind its pages (playbooks, scoring, inbox, connectors).

Each function looks its service up when called; where a capability is not installed the
function says so (``Unavailable``) and the page shows an honest empty state instead of
pretending. Nothing here implements another package's business rules.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


class Unavailable(RuntimeError):
    """The capability behind a page action is not installed in this build."""


def lookup(module: str, name: str) -> Callable[..., Any] | None:
    try:
        found = import_module(module)
    except ImportError:
        return None
    return getattr(found, name, None)


def need(module: str, name: str, what: str) -> Callable[..., Any]:
    func = lookup(module, name)
    if func is None:
        raise Unavailable(f"{what} is not available in this build ({module}.{name} is missing)")
    return func
