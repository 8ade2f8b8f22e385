"""The tier preview of a proposed health configuration: the live accounts scored today with
the configuration in force and with the proposed one (nothing is saved; a sample for large
tenants). Composed from the scoring capability's public pieces, as /api/scores does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from hub import scoring_config
from hub.db import db
from hub.scoring_store import Scope, account_ids, load_for_scoring
from scoring.config import parse_config
from scoring.features import FeatureBuilder
from scoring.frames import epoch_day
from scoring.health import score_health

PREVIEW_SAMPLE = 20_000


def preview(session: Session, document: dict[str, Any]) -> dict[str, Any]:
    """Accounts per tier now and with ``document``; ConfigError if it is invalid."""
    current_row = scoring_config.active_version(session)
    proposed = parse_config(document)
    current = parse_config(current_row.document)
    session.commit()  # the defaults may just have been saved as version 1
    day = epoch_day(datetime.now(UTC))
    with db.engine.connect() as conn:
        n = len(account_ids(conn, Scope()))
        k = max(1, -(-n // PREVIEW_SAMPLE))
        scope = Scope(modulo=(k, 0)) if k > 1 else Scope()
        inputs = load_for_scoring(conn, proposed.features, day, scope)
    new = score_health(FeatureBuilder(inputs, proposed.features).at(day), proposed.health)
    old = score_health(FeatureBuilder(inputs, current.features).at(day), current.health)
    now_counts = Counter(t for t in old.tier if t is not None)
    new_counts = Counter(t for t in new.tier if t is not None)
    tiers = [name for name, _lower in proposed.health.tiers]
    return {
        "based_on_version": current_row.version,
        "accounts": len(new.score),
        "sampled": k > 1,
        "current": {t: int(now_counts.get(t, 0)) for t in tiers},
        "proposed": {t: int(new_counts.get(t, 0)) for t in tiers},
        "moved": int(sum(a != b for a, b in zip(new.tier, old.tier, strict=True))),
    }
