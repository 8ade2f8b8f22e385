"""cgminer/bmminer rig API against a fake Antminer speaking the real TCP protocol."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from integrations.connectors.base import Context, EventRecord, Sample
from integrations.connectors.cgminer import CgminerConnector, CgminerSpec, parse_reply
from integrations.connectors.safety import TargetRefused
from integrations.errors import FatalError, RetriableError
from tests.fakes.cgminer import FakeRig

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def connector(rig: FakeRig, state: dict | None = None, **settings) -> CgminerConnector:
    values = CgminerSpec().load(
        {
            "host": "127.0.0.1",
            "port": rig.port,
            "rig_name": "s9-a",
            "allow_private_network": True,
            "timeout_s": 1.0,
            **settings,
        }
    )
    return CgminerConnector(values, Context(now=NOW, state=state or {}))


def samples(records) -> dict[tuple[str, str], float]:
    return {(r.subject, r.metric): r.value for r in records if isinstance(r, Sample)}


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b'{"STATUS":[{"STATUS":"S"}],"id":1}\x00', {"STATUS": [{"STATUS": "S"}], "id": 1}),
        (b'{"STATS":[{"a":1}{"b":2}],"id":1}\x00', {"STATS": [{"a": 1}, {"b": 2}], "id": 1}),
        (b'{"STATS":[{"a":1},],"id":1,}', {"STATS": [{"a": 1}], "id": 1}),
        (b'{"temp":nan,"x":[inf, 2]}\x00trailing', {"temp": None, "x": [None, 2]}),
    ],
)
def test_reply_quirks_are_repaired(raw, expected):
    """NUL terminator, objects side by side, trailing commas and bare nan/inf all parse."""
    assert parse_reply(raw) == expected


def test_garbage_reply_is_retriable():
    """A reply that is not JSON at all is a retriable failure, not a crash."""
    with pytest.raises(RetriableError, match="malformed"):
        parse_reply(b"<html>502</html>\x00")


def test_bmminer_rig_figures():
    """An S9 over bmminer: hashrate, shares, uptime, fans, temperatures, chains, pools."""
    with FakeRig("bmminer") as rig:
        records = list(connector(rig, nominal_power_w=1323).sync())
        assert rig.commands == ["summary", "stats", "pools", "devs"]
    got = samples(records)
    assert got[("s9-a", "hashrate_ths")] == pytest.approx(13.51234)
    assert got[("s9-a", "hashrate_avg_ths")] == pytest.approx(13.49802)
    assert got[("s9-a", "rejected_share_pct")] == pytest.approx(
        100 * 1_966_080 / (655_360_000 + 1_966_080)
    )
    assert got[("s9-a", "uptime_pct")] == 100.0 and got[("s9-a", "uptime_s")] == 86_400
    assert (got[("s9-a", "fan_rpm_min")], got[("s9-a", "fan_rpm_max")]) == (5880, 6120)
    assert got[("s9-a", "temperature_max_c")] == 80
    assert (got[("s9-a", "boards_active")], got[("s9-a", "boards_total")]) == (3, 3)
    assert got[("s9-a/board6", "board_hashrate_ths")] == pytest.approx(4.506)
    assert got[("s9-a/board7", "board_temperature_c")] == 78
    assert (got[("s9-a", "pools_alive")], got[("s9-a", "pools_total")]) == (1, 2)
    assert got[("s9-a", "power_w")] == 1323
    assert got[("s9-a", "efficiency_j_th")] == pytest.approx(1323 / 13.51234)
    assert all(r.measured_at == NOW for r in records if isinstance(r, Sample))


def test_reported_power_wins_over_nominal():
    """Firmware that reports power ("3250 W") is used before the configured nominal power."""
    with FakeRig("bmminer") as rig:
        rig.power_w = 1400
        got = samples(connector(rig, nominal_power_w=1323).sync())
    assert got[("s9-a", "power_w")] == 1400


def test_cgminer_devs_dead_board():
    """cgminer devs: MHS units, a dead board counted, flagged per board and as an event."""
    with FakeRig("cgminer") as rig:
        rig.dead_board = 1
        records = list(connector(rig).sync())
    got = samples(records)
    assert got[("s9-a", "hashrate_ths")] == pytest.approx(13.51234)
    assert (got[("s9-a", "boards_active")], got[("s9-a", "boards_total")]) == (2, 3)
    assert got[("s9-a/board1", "board_alive")] == 0.0 and got[("s9-a/board0", "board_alive")] == 1.0
    assert "efficiency_j_th" not in {m for _, m in got}  # no power known: no made-up value
    events = [r for r in records if isinstance(r, EventRecord)]
    assert [e.name for e in events] == ["rig_board_down"]
    assert events[0].key.startswith("s9-a/board1:down:")


def test_restart_detected_and_uptime_over_window():
    """Since the last read 1 h ago the rig ran 30 min: uptime 50 % and a restart event."""
    with FakeRig("bmminer") as rig:
        rig.elapsed = 1800
        state = {"cursor": (NOW - timedelta(hours=1)).isoformat()}
        records = list(connector(rig, state=state).sync())
    got = samples(records)
    assert got[("s9-a", "uptime_pct")] == pytest.approx(50.0)
    restarts = [r for r in records if isinstance(r, EventRecord) and r.name == "rig_restarted"]
    assert len(restarts) == 1 and restarts[0].key == "s9-a:restart:2026-03-01T11:30:00+00:00"


def test_silent_rig_times_out_quickly():
    """A rig that accepts the connection but never answers fails within the timeout."""
    with FakeRig() as rig:
        rig.hang = True
        started = time.monotonic()
        with pytest.raises(RetriableError, match="no reply"):
            list(connector(rig, timeout_s=0.3).sync())
        assert time.monotonic() - started < 2


def test_access_denied_is_fatal_with_hint():
    """A miner refusing this host says so, with the api-allow hint."""
    with FakeRig() as rig:
        rig.deny = True
        with pytest.raises(FatalError, match="api-allow"):
            connector(rig).check()


def test_reply_without_nul_terminator():
    """Firmware that closes the connection without a NUL byte is read to EOF."""
    with FakeRig() as rig:
        rig.nul = False
        assert connector(rig).check()["version"]["Type"] == "Antminer S9"


def test_private_rig_needs_permission():
    """127.0.0.1 is refused unless the configuration allows private networks."""
    with FakeRig() as rig:
        blocked = connector(rig, allow_private_network=False)
        with pytest.raises(TargetRefused, match="allow_private_network"):
            blocked.check()
        assert rig.commands == []


def test_closed_port_is_retriable():
    """Nothing listening is a retriable connection failure."""
    with FakeRig() as rig:
        port = rig.port
    values = CgminerSpec().load(
        {"host": "127.0.0.1", "port": port, "allow_private_network": True, "timeout_s": 0.5}
    )
    with pytest.raises(RetriableError):
        CgminerConnector(values, Context(now=NOW)).check()
