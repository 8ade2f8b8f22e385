"""cgminer / bmminer rig API: JSON over TCP (port 4028) on Antminer-class miners.

One TCP connection per command: send ``{"command": "summary"}``, read until the rig closes
the connection or sends its NUL terminator. Replies are ``{"STATUS": [...], "SUMMARY": [...]}``
and friends. Real firmware has quirks this reader repairs: the trailing ``\\x00``; bmminer's
``stats`` putting objects side by side with no comma (``}{``); trailing commas; bare
``nan``/``inf``. Commands used: ``summary`` (hashrate 5 s / average, shares, hardware
errors, uptime), ``stats`` (fans, temperatures, per-chain rate and chip status, power
where the firmware reports it), ``pools`` (pool status and shares), ``devs`` (per-board
status, temperature, hashrate).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
from marshmallow import fields, validate

from integrations.connectors import derived
from integrations.connectors.base import BaseSpec, Connector, EventRecord, Record, Sample
from integrations.connectors.safety import open_tcp
from integrations.connectors.validation import to_number
from integrations.errors import FatalError, RetriableError

DEFAULT_PORT = 4028
_SIDE_BY_SIDE = re.compile(rb"\}\s*\{")
_TRAILING_COMMA = re.compile(rb",\s*([\]}])")
_BARE_NAN = re.compile(rb"(?<=[:\[,])\s*-?(nan|inf|infinity)\b", re.IGNORECASE)


def parse_reply(raw: bytes) -> dict[str, Any]:
    """Decode one API reply, repairing the known firmware quirks."""
    text = raw.split(b"\x00", 1)[0].strip()
    if not text:
        raise RetriableError("the rig closed the connection without a reply")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        fixed = _SIDE_BY_SIDE.sub(b"},{", text)
        fixed = _TRAILING_COMMA.sub(rb"\1", fixed)
        fixed = _BARE_NAN.sub(b"null", fixed)
        try:
            doc = json.loads(fixed)
        except ValueError as exc:
            raise RetriableError(f"the rig sent malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RetriableError("the rig's reply is not a JSON object")
    return doc


class CgminerClient:
    """Speaks the cgminer API to one rig, with a deadline and a reply size cap per command."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        allow_private: bool = False,
        timeout: float = 5.0,
        max_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self.host, self.port = host, port
        self.allow_private, self.timeout, self.max_bytes = allow_private, timeout, max_bytes

    def command(self, name: str, parameter: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"command": name}
        if parameter is not None:
            request["parameter"] = parameter
        deadline = time.monotonic() + self.timeout
        sock = open_tcp(
            self.host, self.port, allow_private=self.allow_private, timeout=self.timeout
        )
        silent = f"{self.host}:{self.port} {name}: no reply in {self.timeout}s"
        chunks: list[bytes] = []
        size = 0
        with sock:
            sock.sendall(orjson.dumps(request))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RetriableError(silent)
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(65536)
                except TimeoutError as exc:
                    raise RetriableError(silent) from exc
                except OSError as exc:
                    raise RetriableError(f"{self.host}:{self.port} {name}: {exc}") from exc
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes:
                    raise FatalError(
                        f"{self.host}: {name} reply larger than {self.max_bytes} bytes"
                    )
                if b"\x00" in chunk:
                    break
        reply = parse_reply(b"".join(chunks))
        status = (reply.get("STATUS") or [{}])[0]
        if isinstance(status, dict) and status.get("STATUS") in ("E", "F"):
            message = status.get("Msg") or "error"
            hint = (
                " (allow this host in the miner's api-allow)" if "denied" in message.lower() else ""
            )
            raise FatalError(f"{self.host} {name}: {message}{hint}", code=str(status.get("Code")))
        return reply


def _first(d: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in d and d[key] not in (None, ""):
            return d[key]
    return None


def _float(value: Any) -> float | None:
    number = to_number(value)
    return number if isinstance(number, float) else None


def _ths(d: dict[str, Any], window: str) -> Any:
    """Hashrate in TH/s from ``GHS <w>`` (bmminer) or ``MHS <w>`` (cgminer)."""
    ghs = d.get(f"GHS {window}")
    if ghs is not None:
        value = to_number(ghs)
        return value / 1000.0 if isinstance(value, float) else value
    mhs = d.get(f"MHS {window}")
    if mhs is not None:
        value = to_number(mhs)
        return value / 1e6 if isinstance(value, float) else value
    return None


_CHAIN = re.compile(r"^chain_rate(\d+)$")
_FAN = re.compile(r"^fan\d+$")
_TEMP = re.compile(r"^temp(2_)?\d+$|^temp_chip\d+$")
_POWER = re.compile(r"(-?\d+(\.\d+)?)")


class CgminerSpec(BaseSpec):
    host = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    port = fields.Int(load_default=DEFAULT_PORT, validate=validate.Range(min=1, max=65535))
    rig_name = fields.Str(load_default=None, allow_none=True, metadata={"description": "subject"})
    nominal_power_w = fields.Float(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={"description": "wall power when the firmware does not report it"},
    )
    uptime_window_s = fields.Int(
        load_default=900,
        validate=validate.Range(min=60),
        metadata={"description": "uptime window of the first read (later: since the last)"},
    )
    timeout_s = fields.Float(load_default=5.0, validate=validate.Range(min=0.1, max=120))


class CgminerConnector(Connector):
    type = "cgminer"
    name = "cgminer / bmminer rig API"
    description = "Antminer-class rigs over the cgminer JSON API (TCP 4028)"
    spec = CgminerSpec

    @property
    def rig(self) -> str:
        return self.settings.get("rig_name") or self.settings["host"]

    def client(self) -> CgminerClient:
        s = self.settings
        return CgminerClient(
            s["host"],
            s.get("port", DEFAULT_PORT),
            allow_private=s.get("allow_private_network", False),
            timeout=s.get("timeout_s", 5.0),
            max_bytes=s.get("max_response_bytes", 2 * 1024 * 1024),
        )

    def check(self) -> dict[str, Any]:
        reply = self.client().command("version")
        version = (reply.get("VERSION") or [{}])[0]
        return {"rig": self.rig, "version": version}

    def read(self, since: datetime | None) -> Iterator[Record]:
        client = self.client()
        now = self.now
        summary = (client.command("summary").get("SUMMARY") or [{}])[0]
        stats: dict[str, Any] = {}
        for entry in client.command("stats").get("STATS") or []:
            if isinstance(entry, dict):
                stats.update(entry)
        pools = client.command("pools").get("POOLS") or []
        try:
            devs = client.command("devs").get("DEVS") or []
        except FatalError:  # some bmminer builds answer "Invalid command" to devs
            devs = []
        yield from self._rig_samples(summary, stats, pools, devs, since, now)

    def _rig_samples(self, summary, stats, pools, devs, since, now) -> Iterator[Record]:
        rig = self.rig

        def sample(metric: str, value: Any, subject: str = rig) -> Sample:
            return Sample(metric, value, now, subject)

        hashrate = _ths(summary, "5s")
        if hashrate is not None:
            yield sample("hashrate_ths", hashrate)
        average = _ths(summary, "av")
        if average is not None:
            yield sample("hashrate_avg_ths", average)
        for metric, key in (
            ("accepted_shares", "Accepted"),
            ("rejected_shares", "Rejected"),
            ("stale_shares", "Stale"),
            ("hardware_errors", "Hardware Errors"),
        ):
            if key in summary:
                yield sample(metric, to_number(summary[key]))
        weighted = _float(summary.get("Difficulty Accepted"))
        if weighted:
            pct = derived.rejected_share_pct(
                weighted,
                _float(summary.get("Difficulty Rejected")),
                _float(summary.get("Difficulty Stale")),
            )
        else:
            pct = derived.rejected_share_pct(
                _float(summary.get("Accepted")),
                _float(summary.get("Rejected")),
                _float(summary.get("Stale")),
            )
        if pct is not None:
            yield sample("rejected_share_pct", pct)
        elapsed = _float(_first(summary, "Elapsed") or stats.get("Elapsed"))
        if elapsed is not None:
            yield sample("uptime_s", elapsed)
            window = (
                min((now - since).total_seconds(), 7 * 86400)
                if since is not None
                else float(self.settings.get("uptime_window_s", 900))
            )
            up = derived.uptime_pct(elapsed, window)
            if up is not None:
                yield sample("uptime_pct", up)
            if since is not None and elapsed < (now - since).total_seconds():
                started = (now - timedelta(seconds=elapsed)).replace(second=0, microsecond=0)
                yield EventRecord(
                    "rig_restarted",
                    now,
                    f"{rig}:restart:{started.isoformat()}",
                    {"rig": rig, "uptime_s": elapsed},
                )
        fans = [v for k, v in stats.items() if _FAN.match(k) and (_float(v) or 0) > 0]
        if fans:
            yield sample("fan_rpm_min", min(_float(v) for v in fans))
            yield sample("fan_rpm_max", max(_float(v) for v in fans))
        temps = [_float(v) for k, v in stats.items() if _TEMP.match(k) and (_float(v) or 0) > 0]
        temps += [t for d in devs if (t := _float(d.get("Temperature"))) and t > 0]
        if temps:
            yield sample("temperature_max_c", max(temps))
        boards = list(self._boards(stats, devs))
        if boards:
            alive = sum(1 for b in boards if b["alive"])
            yield sample("boards_active", float(alive))
            yield sample("boards_total", float(len(boards)))
        for board in boards:
            subject = f"{rig}/board{board['n']}"
            yield sample("board_alive", 1.0 if board["alive"] else 0.0, subject)
            for metric in ("board_hashrate_ths", "board_temperature_c", "board_hardware_errors"):
                if board.get(metric) is not None:
                    yield sample(metric, board[metric], subject)
            if not board["alive"]:
                hour = now.replace(minute=0, second=0, microsecond=0).isoformat()
                yield EventRecord(
                    "rig_board_down",
                    now,
                    f"{subject}:down:{hour}",
                    {"rig": rig, "board": board["n"], "status": board.get("status")},
                )
        if pools:
            alive_pools = sum(1 for p in pools if str(p.get("Status", "")).lower() == "alive")
            yield sample("pools_alive", float(alive_pools))
            yield sample("pools_total", float(len(pools)))
        power = self._power(stats)
        if power is not None:
            yield sample("power_w", power)
            efficiency = derived.efficiency_j_th(
                power, hashrate if isinstance(hashrate, float) else None
            )
            if efficiency is not None:
                yield sample("efficiency_j_th", efficiency)

    def _power(self, stats: dict[str, Any]) -> float | None:
        raw = _first(stats, "Power", "power", "chain_power", "Power Consumption")
        if isinstance(raw, str):
            match = _POWER.search(raw)
            raw = match.group(1) if match else None
        reported = _float(raw)
        return reported if reported else self.settings.get("nominal_power_w")

    @staticmethod
    def _boards(stats: dict[str, Any], devs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Per-board figures from ``devs`` (cgminer) or the ``stats`` chains (bmminer)."""
        if devs:
            for index, dev in enumerate(devs):
                status = str(dev.get("Status", ""))
                enabled = str(dev.get("Enabled", "Y")).upper() != "N"
                yield {
                    "n": dev.get("ASC", dev.get("ID", index)),
                    "status": status,
                    "alive": enabled and status.lower() == "alive",
                    "board_hashrate_ths": _ths(dev, "5s"),
                    "board_temperature_c": _float(dev.get("Temperature")),
                    "board_hardware_errors": _float(dev.get("Hardware Errors")),
                }
            return
        for key in sorted(stats, key=lambda k: (len(k), k)):
            match = _CHAIN.match(key)
            if not match:
                continue
            n = match.group(1)
            chips = int(_float(stats.get(f"chain_acn{n}")) or 0)
            rate = _float(stats[key])
            if chips == 0 and not rate:
                continue  # an empty slot
            acs = str(stats.get(f"chain_acs{n}", "")).replace(" ", "")
            bad = acs.count("x") + acs.count("-")
            yield {
                "n": int(n),
                "status": "ok" if acs and bad == 0 else f"{bad} chips bad" if acs else "unknown",
                "alive": bool(rate and rate > 0),
                "board_hashrate_ths": rate / 1000.0 if rate is not None else None,
                "board_temperature_c": _float(_first(stats, f"temp2_{n}", f"temp_chip{n}")),
                "board_hardware_errors": _float(stats.get(f"chain_hw{n}")),
            }
