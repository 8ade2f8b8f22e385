"""Mixpanel Raw Event Export import: events/s and peak memory, next to raw orjson parsing.

Generates export files in Mixpanel's documented JSONL format (one ``{"event", "properties":
{time, distinct_id, $insert_id, mp_processing_time_ms, $browser, ...}}`` per line, ~1 % raw
duplicates as real exports contain), then, each measurement in a fresh process so its peak
RSS is its own:

- ``raw_parse``: ``for line in file: orjson.loads(line)``, nothing else;
- ``import_file``: the hub's import path end to end into SQLite (``import_lines``: parse,
  Mixpanel dedupe key, account mapping, property selection, batched
  ``INSERT ... ON CONFLICT DO NOTHING``), reading the file line by line;
- ``import_http``: the same, but the file is served by a local HTTP server and read through
  ``ExportClient`` (requests, streamed ``iter_lines``), as a pull would;
- ``reimport``: the same file again (every event a duplicate);
- ``transform_only``: ``import_lines`` with a sink that discards rows (parse, key, map,
  properties, row rendering; no database) to show where the time goes;

and, for each import, the seconds spent inside the store (``EventSink.flush``: the driver's
``executemany`` of rows already rendered, and the commit) with the rate the store alone
allows (``store_only_per_s``): the ceiling of the import if parsing, keying and mapping cost
nothing, compared with raw parsing as ``store_ceiling_vs_raw_parse``. Figures are wall-clock.

Run at two file sizes (``--small`` and ``--events``) to show memory stays flat. Prints one JSON
document.

    python bench/mixpanel_import.py [--events 1000000] [--small 250000] [--accounts 300]
"""

from __future__ import annotations

import argparse
import http.server
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVENTS = [
    ("session_start", 30),
    ("feature_used", 30),
    ("email_opened", 8),
    ("email_clicked", 3),
    ("optimization_run", 10),
    ("support_ticket_created", 2),
    ("portfolio_connected", 1),
]
FEATURES = ["rig_monitoring", "auto_tuning", "profit_calculator", "alerts", "fleet_dashboard"]
CITIES = ["Lisbon", "Austin", "Reykjavik", "Almaty", "Calgary", "Oslo"]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge"]


def generate(path: Path, n: int, accounts: int, contacts_each: int, seed: int = 11) -> dict:
    """Write ``n`` export lines; ~1 % are exact re-sends of an earlier event (raw dups)."""
    rng = random.Random(seed)
    names = [name for name, w in EVENTS for _ in range(w)]
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    span = 30 * 86400
    recent: list[bytes] = []
    dups = 0
    with path.open("wb") as f:
        for i in range(n):
            if recent and rng.random() < 0.01:
                f.write(recent[rng.randrange(len(recent))])
                dups += 1
                continue
            account = rng.randrange(accounts)
            contact = rng.randrange(contacts_each)
            t = start + (i * span) // n + rng.randrange(60)
            props = {
                "time": t,
                "distinct_id": f"u-{account}-{contact}",
                "$insert_id": f"{rng.getrandbits(64):016x}{i:08x}",
                "mp_processing_time_ms": t * 1000 + rng.randrange(5000),
                "$browser": rng.choice(BROWSERS),
                "$city": rng.choice(CITIES),
                "$os": "Mac OS X",
                "$current_url": "https://app.example.com/dashboard",
                "mp_lib": "web",
                "account_id": str(account),
            }
            name = rng.choice(names)
            if name == "feature_used":
                props["feature"] = rng.choice(FEATURES)
            line = orjson.dumps({"event": name, "properties": props}) + b"\n"
            f.write(line)
            if len(recent) < 2000:
                recent.append(line)
            else:
                recent[rng.randrange(2000)] = line
    return {"lines": n, "raw_duplicates": dups, "bytes": path.stat().st_size}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _seed_db(url: str, accounts: int, contacts_each: int) -> None:
    from sqlalchemy import insert

    import hub.models  # noqa: F401
    from hub.db import Base, make_engine
    from hub.models import Account, Contact

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [{"id": a + 1, "name": f"A{a}", "mixpanel_group_key": str(a)} for a in range(accounts)],
        )
        conn.execute(
            insert(Contact),
            [
                {"account_id": a + 1, "mixpanel_distinct_id": f"u-{a}-{c}"}
                for a in range(accounts)
                for c in range(contacts_each)
            ],
        )
    engine.dispose()


def _child(kind: str, file: str, db_url: str, out) -> None:
    """One measurement in this (fresh) process; sends its figures through ``out``."""
    try:
        from hub.db import make_engine
        from integrations.mixpanel.events import AccountMapper
        from integrations.mixpanel.export import import_lines
        from integrations.mixpanel.sink import EventSink

        baseline = _rss_mb()
        if kind == "raw_parse":
            loads = orjson.loads
            started = time.perf_counter()
            n = 0
            with open(file, "rb") as f:
                for line in f:
                    loads(line)
                    n += 1
            elapsed = time.perf_counter() - started
            out.send(
                {
                    "lines": n,
                    "seconds": elapsed,
                    "per_s": n / elapsed,
                    "baseline_rss_mb": baseline,
                    "peak_rss_mb": _rss_mb(),
                }
            )
            return
        engine = make_engine(db_url)
        with engine.connect() as conn:
            mapper = AccountMapper.load(conn, "account_id", "mixpanel_group_key")
            conn.commit()
            sink = EventSink(conn) if kind != "transform_only" else _NullSink(conn)
            if kind == "import_http":
                lines, server = _served_lines(file)
            else:
                fh = open(file, "rb")  # noqa: SIM115 - closed below
                lines, server = fh, None
            in_store = [0.0] if kind == "transform_only" else _time_flushes(sink)
            started = time.perf_counter()
            stats = import_lines(lines, mapper, sink)
            elapsed = time.perf_counter() - started
            if server is not None:
                server.shutdown()
            else:
                fh.close()
        engine.dispose()
        out.send(
            {
                "lines": stats.lines,
                "inserted": stats.inserted,
                "duplicates": stats.duplicates,
                "unmapped": stats.unmapped,
                "invalid": stats.invalid,
                "seconds": elapsed,
                "per_s": stats.lines / elapsed,
                "store_seconds": in_store[0],
                "baseline_rss_mb": baseline,
                "peak_rss_mb": _rss_mb(),
            }
        )
    except BaseException as exc:  # report the failure to the parent, which exits non-zero
        out.send({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _time_flushes(sink) -> list[float]:
    """Wrap ``sink.flush`` so the seconds spent in it add up in the returned one-item list."""
    spent = [0.0]
    flush = sink.flush

    def timed() -> None:
        started = time.perf_counter()
        flush()
        spent[0] += time.perf_counter() - started

    sink.flush = timed
    return spent


class _NullSink:
    """EventSink's fast path up to the rendered row, then dropped (no database work)."""

    def __init__(self, conn) -> None:
        from integrations.mixpanel.sink import EventSink

        self._sink = EventSink(conn)
        self._sink.flush = self._drop  # type: ignore[method-assign]
        self.add = self._sink.add
        self.inserted = self.duplicates = 0

    def _drop(self) -> None:
        self._sink._rows.clear()

    def flush(self) -> None:
        self._drop()


def _served_lines(file: str):
    """Serve ``file`` as a Mixpanel export on 127.0.0.1 and stream it through ExportClient."""
    from datetime import date

    from integrations.mixpanel.client import ExportClient
    from integrations.mixpanel.settings import MixpanelSettings

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(os.path.getsize(file)))
            self.end_headers()
            with open(file, "rb") as f:
                while chunk := f.read(1 << 16):
                    self.wfile.write(chunk)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    settings = MixpanelSettings.from_values(
        {
            "project_id": "1",
            "service_account": "sa",
            "service_secret": "s",
            "export_host": f"http://{host}:{port}",
        }
    )
    client = ExportClient(settings)
    return client.iter_lines(date(2026, 1, 1), date(2026, 1, 31)), server


def measure(kind: str, file: Path, db_url: str) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(kind, str(file), db_url, child))
    proc.start()
    result = parent.recv()
    proc.join()
    if "error" in result:
        raise SystemExit(f"{kind} failed: {result['error']}")
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=250_000)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--contacts", type=int, default=4, help="contacts per account")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP-streamed run")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cshub-mpbench-"))
    doc: dict = {
        "benchmark": "mixpanel_import",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "store": "sqlite (WAL, synchronous=NORMAL), events table with its 3 indexes",
        "runs": {},
    }
    for size in (args.small, args.events):
        file = work / f"export-{size}.jsonl"
        started = time.perf_counter()
        made = generate(file, size, args.accounts, args.contacts)
        made["generate_seconds"] = round(time.perf_counter() - started, 2)
        db_url = f"sqlite:///{work / f'store-{size}.db'}"
        _seed_db(db_url, args.accounts, args.contacts)
        run: dict = {"file": made}
        run["raw_parse"] = measure("raw_parse", file, db_url)
        run["import_file"] = measure("import_file", file, db_url)
        run["reimport"] = measure("reimport", file, db_url)
        run["transform_only"] = measure("transform_only", file, db_url)
        if not args.no_http:
            http_db = f"sqlite:///{work / f'store-{size}-http.db'}"
            _seed_db(http_db, args.accounts, args.contacts)
            run["import_http"] = measure("import_http", file, http_db)
        raw = run["raw_parse"]["per_s"]
        run["import_vs_raw_parse"] = round(run["import_file"]["per_s"] / raw, 3)
        run["transform_vs_raw_parse"] = round(run["transform_only"]["per_s"] / raw, 3)
        imported = run["import_file"]
        imported["store_only_per_s"] = round(imported["lines"] / imported["store_seconds"], 3)
        run["store_ceiling_vs_raw_parse"] = round(imported["store_only_per_s"] / raw, 3)
        if "import_http" in run:
            run["http_import_vs_raw_parse"] = round(run["import_http"]["per_s"] / raw, 3)
        doc["runs"][str(size)] = run
        file.unlink()
    small, big = doc["runs"][str(args.small)], doc["runs"][str(args.events)]
    doc["memory_flat"] = {
        "peak_rss_mb_small": small["import_file"]["peak_rss_mb"],
        "peak_rss_mb_large": big["import_file"]["peak_rss_mb"],
        "ratio_large_to_small": round(
            big["import_file"]["peak_rss_mb"] / small["import_file"]["peak_rss_mb"], 3
        ),
        "file_size_ratio": round(args.events / args.small, 2),
    }
    doc["aim"] = {
        "import_vs_raw_parse_target": 0.40,
        "import_vs_raw_parse_measured": big["import_vs_raw_parse"],
        "met": big["import_vs_raw_parse"] >= 0.40,
        "store_ceiling_vs_raw_parse": big["store_ceiling_vs_raw_parse"],
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
