"""Milestones detected from events and metrics, and the lifecycle stage that follows them.

Definitions ship in ``defaults/_milestones.yaml``:

    milestones:
      hardware_connection_complete:
        segments: [individual_miner, mining_farm]
        any:
          - event: hardware_connection_complete
      efficient_operation:
        segments: [individual_miner, mining_farm]
        any:
          - metric: {name: efficiency_j_th, lte: 25}
    stages:   # a stage is entered once every milestone listed for the segment is reached
      adoption:  {from: onboarding, requires: {individual_miner: [...], "*": [...]}}

A milestone is reached at the first event (any time) or metric sample (in the last 45 days)
that satisfies one of its rules (as of ``now``) and is stored once per account
(``Milestone``, unique on account and key).
Stages only move forward along onboarding -> adoption -> expansion -> advocacy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.models import Account, Event, MetricSample, Milestone, SurveyResponse
from hub.playbooks.facts import AccountFacts

STAGE_ORDER = ("onboarding", "adoption", "expansion", "advocacy")
METRIC_LOOKBACK = timedelta(days=45)
"""Metric rules look at recent samples only (bounded work per run); events at all history."""
METRIC_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class MilestoneConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    event: str | None = None
    metric: str | None = None
    op: str | None = None
    threshold: float | None = None
    nps_gte: float | None = None
    features_min: int | None = None


@dataclass(frozen=True)
class MilestoneDef:
    key: str
    segments: frozenset[str]  # empty: every segment
    rules: tuple[Rule, ...]
    description: str = ""

    def applies(self, segment: str) -> bool:
        return not self.segments or segment in self.segments


@dataclass(frozen=True)
class StageRule:
    stage: str
    from_stage: str
    requires: dict[str, tuple[str, ...]]  # segment or "*" -> milestone keys


@dataclass(frozen=True)
class MilestoneConfig:
    milestones: dict[str, MilestoneDef] = field(default_factory=dict)
    stages: tuple[StageRule, ...] = ()

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> MilestoneConfig:
        milestones = {}
        for key, spec in (doc.get("milestones") or {}).items():
            rules = []
            for raw in spec.get("any", []):
                rules.append(_rule(key, raw))
            if not rules:
                raise MilestoneConfigError(f"milestone {key}: give at least one rule under 'any'")
            milestones[key] = MilestoneDef(
                key, frozenset(spec.get("segments", [])), tuple(rules), spec.get("description", "")
            )
        stages = []
        for stage, spec in (doc.get("stages") or {}).items():
            if stage not in STAGE_ORDER:
                raise MilestoneConfigError(f"unknown stage {stage}")
            requires = {str(k): tuple(v) for k, v in (spec.get("requires") or {}).items()}
            for keys in requires.values():
                unknown = set(keys) - set(milestones)
                if unknown:
                    raise MilestoneConfigError(f"stage {stage} requires unknown {sorted(unknown)}")
            stages.append(StageRule(stage, spec["from"], requires))
        return cls(milestones, tuple(stages))


def _rule(key: str, raw: dict[str, Any]) -> Rule:
    if "event" in raw:
        return Rule(event=str(raw["event"]))
    if "metric" in raw:
        spec = dict(raw["metric"])
        name = spec.pop("name", None)
        if not name or len(spec) != 1 or next(iter(spec)) not in METRIC_OPS:
            raise MilestoneConfigError(f"milestone {key}: metric rule is {{name, gt|gte|lt|lte}}")
        op, value = next(iter(spec.items()))
        return Rule(metric=name, op=op, threshold=float(value))
    if "nps" in raw:
        return Rule(nps_gte=float(raw["nps"]["gte"]))
    if "features_used" in raw:
        return Rule(features_min=int(raw["features_used"]["min"]))
    raise MilestoneConfigError(f"milestone {key}: unknown rule {raw}")


def _insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Milestone)
    return sqlite.insert(Milestone)


def detect(
    session: Session,
    config: MilestoneConfig,
    facts: dict[int, AccountFacts],
    lo: int,
    hi: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Find milestones newly reached by accounts in [lo, hi]; store them and add to ``facts``."""
    found: dict[tuple[int, str], tuple[datetime, dict[str, Any]]] = {}

    def consider(account_id: int, key: str, at: datetime, evidence: dict[str, Any]) -> None:
        f = facts.get(account_id)
        if f is None or key in f.milestones or not config.milestones[key].applies(f.segment):
            return
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if (account_id, key) not in found or at < found[(account_id, key)][0]:
            found[(account_id, key)] = (at, evidence)

    ids = sorted(facts)
    if not ids:
        return []
    by_event: dict[str, list[str]] = {}
    for m in config.milestones.values():
        for rule in m.rules:
            if rule.event:
                by_event.setdefault(rule.event, []).append(m.key)
    if by_event:
        for account_id, name, at in session.execute(
            select(Event.account_id, Event.name, func.min(Event.occurred_at))
            .where(
                Event.account_id.in_(ids),
                Event.name.in_(sorted(by_event)),
                Event.occurred_at <= now,
            )
            .group_by(Event.account_id, Event.name)
        ):
            at = _dt(at)
            for key in by_event[name]:
                consider(account_id, key, at, {"event": name})
    for m in config.milestones.values():
        lacking = [
            f.id for f in facts.values() if m.key not in f.milestones and m.applies(f.segment)
        ]
        if not lacking:
            continue
        for rule in m.rules:
            if rule.metric:
                col = MetricSample.value
                cond = {
                    "gt": col > rule.threshold,
                    "gte": col >= rule.threshold,
                    "lt": col < rule.threshold,
                    "lte": col <= rule.threshold,
                }[rule.op]
                for account_id, at in session.execute(
                    select(MetricSample.account_id, func.min(MetricSample.measured_at))
                    .where(
                        MetricSample.account_id.in_(lacking),
                        MetricSample.metric == rule.metric,
                        MetricSample.measured_at > now - METRIC_LOOKBACK,
                        MetricSample.measured_at <= now,
                        cond,
                    )
                    .group_by(MetricSample.account_id)
                ):
                    consider(
                        account_id,
                        m.key,
                        _dt(at),
                        {"metric": rule.metric, rule.op: rule.threshold},
                    )
            elif rule.nps_gte is not None:
                for account_id, at in session.execute(
                    select(SurveyResponse.account_id, func.min(SurveyResponse.answered_at))
                    .where(
                        SurveyResponse.account_id >= lo,
                        SurveyResponse.account_id <= hi,
                        SurveyResponse.kind == "nps",
                        SurveyResponse.score >= rule.nps_gte,
                        SurveyResponse.answered_at <= now,
                    )
                    .group_by(SurveyResponse.account_id)
                ):
                    consider(account_id, m.key, _dt(at), {"nps_gte": rule.nps_gte})
            elif rule.features_min is not None:
                for f in facts.values():
                    if len(f.features) >= rule.features_min:
                        first = max(sorted(f.features.values())[: rule.features_min])
                        consider(f.id, m.key, first, {"features": sorted(f.features)})
    rows = [
        {"account_id": a, "key": k, "reached_at": at, "evidence": ev}
        for (a, k), (at, ev) in sorted(found.items())
    ]
    if rows:
        stmt = _insert(session).on_conflict_do_nothing(index_elements=["account_id", "key"])
        for start in range(0, len(rows), 500):
            session.execute(stmt, rows[start : start + 500])
        for row in rows:
            facts[row["account_id"]].milestones[row["key"]] = row["reached_at"]
    return rows


def _dt(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def next_stage(config: MilestoneConfig, f: AccountFacts, now: datetime) -> str | None:
    """The furthest stage ``f`` qualifies for beyond its current one, or None."""
    stage = f.lifecycle_stage
    moved = None
    progressed = True
    while progressed:
        progressed = False
        for rule in config.stages:
            if rule.from_stage != stage:
                continue
            needed = rule.requires.get(f.segment, rule.requires.get("*", ()))
            if all((at := f.milestones.get(k)) is not None and at <= now for k in needed):
                stage = moved = rule.stage
                progressed = True
                break
    return moved


def progress_stages(
    session: Session, config: MilestoneConfig, facts: dict[int, AccountFacts], now: datetime
) -> dict[int, str]:
    """Move accounts forward along the stages their milestones allow; answer the moves."""
    moves = {}
    for f in facts.values():
        if f.lifecycle_stage not in STAGE_ORDER:
            continue  # renewal, churned: not driven by milestones
        target = next_stage(config, f, now)
        if target and STAGE_ORDER.index(target) > STAGE_ORDER.index(f.lifecycle_stage):
            moves[f.id] = target
    by_stage: dict[str, list[int]] = {}
    for account_id, stage in moves.items():
        by_stage.setdefault(stage, []).append(account_id)
        facts[account_id].lifecycle_stage = stage
    for stage, ids in by_stage.items():
        session.execute(
            update(Account)
            .where(Account.id.in_(ids))
            .values(lifecycle_stage=stage)
            .execution_options(synchronize_session=False)
        )
    return moves
