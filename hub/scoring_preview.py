"""What a proposed health configuration would do: the live accounts scored today with the
configuration in force and with the proposed one. Nothing is saved; large tenants are
sampled. Shared by ``/api/scores/config/preview`` and the admin UI's preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from hub import scoring_config
from hub.db import db
from hub.scoring_store import Scope, account_ids, load_for_scoring
from scoring.config import ScoringConfig, parse_config
from scoring.features import FeatureBuilder
from scoring.frames import epoch_day
from scoring.health import HealthResult, score_health

PREVIEW_SAMPLE = 20_000


@dataclass(frozen=True)
class Comparison:
    based_on_version: int
    sampled: bool
    current: HealthResult
    proposed: HealthResult


def compare(session: Session, proposed: ScoringConfig) -> Comparison:
    """Score today's live accounts (every one, or one in k above ``PREVIEW_SAMPLE``) with the
    active configuration and with ``proposed``, from the same inputs."""
    current_row = scoring_config.active_version(session)
    current = parse_config(current_row.document)
    session.commit()  # the defaults may just have been saved as version 1
    day = epoch_day(datetime.now(UTC))
    with db.engine.connect() as conn:
        n = len(account_ids(conn, Scope()))
        k = max(1, -(-n // PREVIEW_SAMPLE))
        scope = Scope(modulo=(k, 0)) if k > 1 else Scope()
        inputs = load_for_scoring(conn, proposed.features, day, scope)
    return Comparison(
        based_on_version=current_row.version,
        sampled=k > 1,
        current=score_health(FeatureBuilder(inputs, current.features).at(day), current.health),
        proposed=score_health(FeatureBuilder(inputs, proposed.features).at(day), proposed.health),
    )
