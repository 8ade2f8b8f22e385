"""The guards real CS platforms have, as pure functions over facts the engine loads.

- one enrolment per account and playbook, unless re-entry is allowed (at most N times every
  M days), and never twice for the same trigger firing (``trigger_ref``);
- snoozed accounts and playbooks are left alone until the snooze ends;
- frequency caps per contact across all playbooks (customer-facing channels);
- quiet hours in the contact's time zone (zoneinfo; DST-correct): a message is deferred to
  the end of the quiet window, never dropped;
- unsubscribe per channel (or ``all``);
- dry-run: messages are recorded with status ``dry_run`` and never sent.

``GuardSettings`` come from ``defaults/_guards.yaml`` (see ``loader.guard_settings``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(8, 0)
    channels: frozenset[str] = frozenset({"email", "sms"})


@dataclass(frozen=True)
class FrequencyCap:
    max: int
    per_days: int
    channels: frozenset[str] = frozenset()  # empty: every customer-facing channel


@dataclass(frozen=True)
class GuardSettings:
    quiet_hours: QuietHours | None = field(default_factory=QuietHours)
    caps: tuple[FrequencyCap, ...] = ()

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> GuardSettings:
        quiet = doc.get("quiet_hours")
        quiet_hours = None
        if quiet and quiet.get("enabled", True):
            quiet_hours = QuietHours(
                start=_time(quiet.get("start", "21:00")),
                end=_time(quiet.get("end", "08:00")),
                channels=frozenset(quiet.get("channels", ["email", "sms"])),
            )
        caps = tuple(
            FrequencyCap(
                max=int(c["max"]),
                per_days=int(c["per_days"]),
                channels=frozenset(c.get("channels", [])),
            )
            for c in doc.get("frequency_caps", [])
        )
        return cls(quiet_hours=quiet_hours, caps=caps)


def _time(value: str | time) -> time:
    if isinstance(value, time):
        return value
    hour, minute = str(value).split(":")
    return time(int(hour), int(minute))


@lru_cache(maxsize=1024)
def zone(*names: str | None) -> ZoneInfo:
    """The first valid IANA zone among ``names`` (contact's, then account's), else UTC."""
    for name in names:
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return UTC


def in_quiet_hours(local: time, quiet: QuietHours) -> bool:
    """Whether a local wall-clock time falls in the quiet window (which may span midnight)."""
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def quiet_until(now: datetime, tz: ZoneInfo, quiet: QuietHours | None) -> datetime | None:
    """When the quiet window that ``now`` falls in ends (UTC), or None if it is not quiet."""
    if quiet is None:
        return None
    local = now.astimezone(tz)
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), quiet):
        return None
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)
    end_local = datetime.combine(end_day, quiet.end, tzinfo=tz)
    return end_local.astimezone(UTC)


def unsubscribed(unsubscribed_channels: Iterable[str] | None, channel: str) -> bool:
    """Whether the contact opted out of ``channel`` (or of everything)."""
    chosen = set(unsubscribed_channels or ())
    return "all" in chosen or channel in chosen


def cap_hit(
    sent: list[tuple[str, datetime]],
    channel: str,
    now: datetime,
    caps: Iterable[FrequencyCap],
) -> FrequencyCap | None:
    """The first cap that one more message on ``channel`` would break, given ``sent``.

    ``sent`` is the contact's (channel, time) of customer-facing messages already queued or
    delivered (any playbook).
    """
    for cap in caps:
        if cap.channels and channel not in cap.channels:
            continue
        since = now - timedelta(days=cap.per_days)
        count = sum(1 for ch, at in sent if at > since and (not cap.channels or ch in cap.channels))
        if count >= cap.max:
            return cap
    return None


@dataclass(frozen=True)
class Reentry:
    """Re-entry rule of a playbook: at most ``max`` enrolments every ``per_days`` days."""

    allowed: bool = False
    max: int = 1
    per_days: int = 30


@dataclass(frozen=True)
class PastEnrolment:
    occurrence: int
    status: str
    enrolled_at: datetime
    trigger_ref: str | None


def enrolment_decision(
    past: list[PastEnrolment], ref: str | None, reentry: Reentry, now: datetime
) -> tuple[int | None, str | None]:
    """(occurrence to use, None) when the account may enrol now, else (None, why not)."""
    if not past:
        return 1, None
    if ref is not None and any(p.trigger_ref == ref for p in past):
        return None, "already_enrolled_for_this_trigger"
    if any(p.status == "active" for p in past):
        return None, "active_enrolment"
    if not reentry.allowed:
        return None, "reentry_not_allowed"
    since = now - timedelta(days=reentry.per_days)
    recent = sum(1 for p in past if p.enrolled_at > since)
    if recent >= reentry.max:
        return None, "reentry_limit"
    return max(p.occurrence for p in past) + 1, None


def snoozed(until: datetime | None, now: datetime) -> bool:
    return until is not None and until > now
