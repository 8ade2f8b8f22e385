"""The admin UI's tier preview of a proposed health configuration (``hub.scoring_preview``
does the scoring)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from hub.scoring_preview import compare
from scoring.config import parse_config


def preview(session: Session, document: dict[str, Any]) -> dict[str, Any]:
    """Accounts per tier now and with ``document``; ConfigError if it is invalid."""
    proposed = parse_config(document)
    result = compare(session, proposed)
    old, new = result.current, result.proposed
    now_counts = Counter(t for t in old.tier if t is not None)
    new_counts = Counter(t for t in new.tier if t is not None)
    tiers = [name for name, _lower in proposed.health.tiers]
    return {
        "based_on_version": result.based_on_version,
        "accounts": len(new.score),
        "sampled": result.sampled,
        "current": {t: int(now_counts.get(t, 0)) for t in tiers},
        "proposed": {t: int(new_counts.get(t, 0)) for t in tiers},
        "moved": int(sum(a != b for a, b in zip(new.tier, old.tier, strict=True))),
    }
