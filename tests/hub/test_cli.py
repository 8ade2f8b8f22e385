"""The cshub CLI: init, token create, doctor, demo; --json prints one document."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CSHUB = str(Path(sys.executable).with_name("cshub"))


@pytest.fixture
def cli_env(tmp_path, redis_url):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "CSHUB_DATA_DIR": str(tmp_path / "var"),
            "REDIS_URL": redis_url,
            "CSHUB_LOG_LEVEL": "ERROR",
            "CSHUB_SECRET_KEY": "cli-test",
        }
    )
    return env


def run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([CSHUB, *args], env=env, capture_output=True, text=True, timeout=120)


def test_init_token_doctor_and_demo(cli_env, tmp_path):
    """A fresh data dir: init migrates, token create prints a working token, doctor is ok."""
    init = run(cli_env, "init", "--json")
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["revision"]
    token = run(cli_env, "token", "create", "--role", "rep", "--json")
    doc = json.loads(token.stdout)
    assert doc["role"] == "rep" and doc["token"].startswith("csh_")
    doctor = run(cli_env, "doctor", "--json")
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["ok"] is True
    assert report["checks"]["database"]["revision"] == json.loads(init.stdout)["revision"]
    assert "cli-test" not in doctor.stdout
    demo = run(
        cli_env, "demo", "--accounts", "12", "--days", "20", "--as-of", "2026-11-01", "--json"
    )
    assert demo.returncode == 0, demo.stderr
    assert json.loads(demo.stdout)["accounts"] == 12
    again = run(cli_env, "demo", "--accounts", "12", "--json")
    assert again.returncode != 0 and "already holds accounts" in again.stderr
    skipped = run(cli_env, "demo", "--if-empty", "--json")
    assert json.loads(skipped.stdout)["skipped"] is True


def test_doctor_reports_unreachable_redis(cli_env):
    """doctor exits non-zero and names what is unreachable."""
    cli_env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    doctor = run(cli_env, "doctor", "--json")
    assert doctor.returncode == 1
    assert json.loads(doctor.stdout)["checks"]["redis"]["ok"] is False
