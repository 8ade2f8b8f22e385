"""Real processes for the webhook end-to-end tests: gunicorn serving the app and RQ workers
(``cshub worker``, optionally with a probe hook), on the session's real Redis and database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from hub.config import Config
from tests.conftest import free_port
from tests.webhooks.helpers import SECRETS

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def stack_env(config: Config, **extra: str) -> dict[str, str]:
    """The environment a deployment would set, pointing at the test's database and Redis."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CSHUB_", "DATABASE_", "REDIS_"))
    }
    env.update(
        {
            "DATABASE_URL": config.database_url,
            "REDIS_URL": config.redis_url,
            "CSHUB_SECRET_KEY": config.secret_key,
            "CSHUB_ADMIN_TOKEN": config.admin_token,
            "CSHUB_DATA_DIR": str(config.data_dir),
            "CSHUB_LOG_LEVEL": "WARNING",
            "STRIPE_WEBHOOK_SECRET": SECRETS["stripe_webhook_secret"],
            "CSHUB_EVENTS_WEBHOOK_SECRET": SECRETS["events_webhook_secret"],
            "MIXPANEL_WEBHOOK_USER": SECRETS["mixpanel_webhook_user"],
            "MIXPANEL_WEBHOOK_PASSWORD": SECRETS["mixpanel_webhook_password"],
            "SALESFORCE_ORG_ID": SECRETS["salesforce_org_id"],
            "PYTHONPATH": str(ROOT),
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            **extra,
        }
    )
    return env


def start_web(env: dict[str, str], workers: int = 2) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "--config", "python:hub.gunicorn_conf",  # the Procfile's web settings (threads)
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
    ]  # fmt: skip
    proc = _spawn([*command, "hub:create_app()"], env, "web")
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _up(base), 60, lambda: f"gunicorn never came up: {tail(env, 'web')}")
    return proc, base


def start_worker(env: dict[str, str], probe_delay: float | None = None) -> subprocess.Popen:
    """``cshub worker``; with ``probe_delay``, through a launcher that adds a probe hook."""
    if probe_delay is None:
        command = [str(BIN / "cshub"), "worker"]
    else:
        command = [sys.executable, str(ROOT / "tests/e2e/webhook_worker.py"), str(probe_delay)]
    return _spawn(command, env, "worker")


def _spawn(command: list[str], env: dict[str, str], name: str) -> subprocess.Popen:
    """Start ``command`` in its own process group, its stderr appended to <data dir>/<name>.log."""
    log = Path(env["CSHUB_DATA_DIR"]) / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as stderr:
        return subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )


def tail(env: dict[str, str], name: str) -> str:
    log = Path(env["CSHUB_DATA_DIR"]) / f"{name}.log"
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def kill_hard(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a worker and its work horses (RQ gives a horse its own process group, so a
    signal to the worker's group alone would let the job finish). The horses' pids."""
    found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    horses = [int(pid) for pid in found.stdout.split()]
    for pid in horses:
        os.kill(pid, signal.SIGKILL)
    stop(proc, signal.SIGKILL)
    return horses


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait_until(
    check: Callable[[], bool], timeout: float, message: Callable[[], str] | str = "timed out"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(message() if callable(message) else message)
