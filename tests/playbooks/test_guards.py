"""Guards: quiet hours across time zones, caps, unsubscribe, re-entry, snooze."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from hub.playbooks.guards import (
    FrequencyCap,
    GuardSettings,
    PastEnrolment,
    QuietHours,
    Reentry,
    cap_hit,
    enrolment_decision,
    in_quiet_hours,
    quiet_until,
    snoozed,
    unsubscribed,
    zone,
)

QUIET = QuietHours(start=time(21), end=time(8))


@pytest.mark.parametrize(
    ("now_utc", "tz", "expected_utc"),
    [
        # 23:30 in New York (EST, UTC-5) on 10 Jan -> 08:00 NY on 11 Jan = 13:00 UTC
        (
            datetime(2026, 1, 11, 4, 30, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 1, 11, 13, 0, tzinfo=UTC),
        ),
        # 06:00 in Singapore (UTC+8) -> 08:00 the same morning = 00:00 UTC
        (
            datetime(2026, 1, 10, 22, 0, tzinfo=UTC),
            "Asia/Singapore",
            datetime(2026, 1, 11, 0, 0, tzinfo=UTC),
        ),
        # 14:00 in Berlin: not quiet
        (datetime(2026, 1, 10, 13, 0, tzinfo=UTC), "Europe/Berlin", None),
        # the same UTC instant is quiet in Sydney (00:00 AEDT) but not in London (13:00)
        (
            datetime(2026, 1, 10, 13, 0, tzinfo=UTC),
            "Australia/Sydney",
            datetime(2026, 1, 10, 21, 0, tzinfo=UTC),
        ),
        # the night clocks go forward in Berlin (29 Mar 2026): 23:00 CET -> 08:00 CEST = 06:00 UTC
        (
            datetime(2026, 3, 28, 22, 0, tzinfo=UTC),
            "Europe/Berlin",
            datetime(2026, 3, 29, 6, 0, tzinfo=UTC),
        ),
        # the night clocks go back in New York (1 Nov 2026): 22:00 EDT -> 08:00 EST = 13:00 UTC
        (
            datetime(2026, 11, 1, 2, 0, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 1, 13, 0, tzinfo=UTC),
        ),
    ],
)
def test_quiet_hours_in_the_contacts_zone(now_utc, tz, expected_utc):
    """A message in the contact's night waits for their 08:00, whatever the zone or DST."""
    assert quiet_until(now_utc, zone(tz), QUIET) == expected_utc


def test_quiet_window_within_one_day_and_disabled():
    """A daytime window (12-14) works too; no window means never quiet."""
    lunch = QuietHours(start=time(12), end=time(14))
    assert in_quiet_hours(time(13), lunch) and not in_quiet_hours(time(14), lunch)
    assert quiet_until(datetime(2026, 1, 1, 13, tzinfo=UTC), zone("UTC"), None) is None


def test_unknown_zone_falls_back_to_the_accounts_then_utc():
    """A contact with a bad zone uses the account's zone, then UTC."""
    assert str(zone("Mars/Olympus", "Europe/Berlin")) == "Europe/Berlin"
    assert str(zone("nonsense", None)) == "UTC"


def test_frequency_caps_count_every_playbook_on_matching_channels():
    """Caps count a contact's recent customer messages; a channel-specific cap ignores others."""
    now = datetime(2026, 1, 10, tzinfo=UTC)
    caps = (
        FrequencyCap(max=2, per_days=1),
        FrequencyCap(max=1, per_days=7, channels=frozenset({"sms"})),
    )
    sent = [("email", now - timedelta(hours=3))]
    assert cap_hit(sent, "email", now, caps) is None
    sent.append(("inapp", now - timedelta(hours=1)))
    assert cap_hit(sent, "email", now, caps).max == 2
    old = [("email", now - timedelta(days=2)), ("sms", now - timedelta(days=3))]
    assert cap_hit(old, "email", now, caps) is None
    assert cap_hit(old, "sms", now, caps).channels == frozenset({"sms"})


def test_unsubscribe_per_channel_or_all():
    """Unsubscribing from e-mail leaves SMS; 'all' stops everything."""
    assert unsubscribed(["email"], "email") and not unsubscribed(["email"], "sms")
    assert unsubscribed(["all"], "inapp") and not unsubscribed(None, "email")


def test_one_enrolment_unless_reentry_allows_n_every_m_days():
    """Active blocks; without re-entry the first is the only; with it, N per M days."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    done = PastEnrolment(1, "completed", now - timedelta(days=10), None)
    assert enrolment_decision([], None, Reentry(), now) == (1, None)
    assert (
        enrolment_decision([PastEnrolment(1, "active", now, None)], None, Reentry(True), now)[1]
        == "active_enrolment"
    )
    assert enrolment_decision([done], None, Reentry(), now) == (None, "reentry_not_allowed")
    assert enrolment_decision([done], None, Reentry(True, max=1, per_days=30), now) == (
        None,
        "reentry_limit",
    )
    assert enrolment_decision([done], None, Reentry(True, max=2, per_days=30), now) == (2, None)
    assert enrolment_decision([done], None, Reentry(True, max=1, per_days=7), now) == (2, None)


def test_same_trigger_never_enrols_twice():
    """A trigger ref already used (an NPS answer, a score row) is refused even with re-entry."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    past = [PastEnrolment(1, "completed", now - timedelta(days=90), "nps:7")]
    assert (
        enrolment_decision(past, "nps:7", Reentry(True, 5, 1), now)[1]
        == "already_enrolled_for_this_trigger"
    )
    assert enrolment_decision(past, "nps:8", Reentry(True, 5, 1), now) == (2, None)


def test_snooze_until():
    """A snooze in the future holds; one in the past does not."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert (
        snoozed(now + timedelta(hours=1), now) and not snoozed(now, now) and not snoozed(None, now)
    )


def test_guard_settings_document():
    """The YAML form of the guards reads into settings."""
    settings = GuardSettings.from_document(
        {
            "quiet_hours": {"start": "22:30", "end": "07:15", "channels": ["sms"]},
            "frequency_caps": [{"max": 3, "per_days": 7}],
        }
    )
    assert settings.quiet_hours.start == time(22, 30) and settings.quiet_hours.channels == {"sms"}
    assert settings.caps == (FrequencyCap(3, 7),)
    assert GuardSettings.from_document({"quiet_hours": {"enabled": False}}).quiet_hours is None
