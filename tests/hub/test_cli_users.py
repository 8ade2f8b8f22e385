"""``cshub user``: create with a hashed password, refuse duplicates and short passwords."""

import json
import os
import subprocess
import sys
from pathlib import Path

CSHUB = str(Path(sys.executable).with_name("cshub"))


def run(env, *args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [CSHUB, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_user_create_list_disable(tmp_path, redis_url):
    """A user is created with a hashed password, listed, refused twice, and disabled."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "CSHUB_DATA_DIR": str(tmp_path / "var"),
            "REDIS_URL": redis_url,
            "CSHUB_LOG_LEVEL": "ERROR",
            "CSHUB_SECRET_KEY": "cli-test",
        }
    )
    assert run(env, "init").returncode == 0
    create = ["user", "create", "--email", "Ops@X.io", "--role", "rep", "--password-stdin"]
    made = run(env, *create, "--json", stdin="a very long password\n")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["email"] == "ops@x.io"
    again = run(env, *create, stdin="a very long password\n")
    assert again.returncode != 0 and "exists" in again.stderr
    short = run(
        env,
        "user",
        "create",
        "--email",
        "n@x.io",
        "--role",
        "admin",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode != 0 and "at least" in short.stderr
    listed = json.loads(run(env, "user", "list", "--json").stdout)
    assert listed == [{"id": 1, "email": "ops@x.io", "role": "rep", "disabled": False}]
    assert run(env, "user", "disable", "--email", "ops@x.io").returncode == 0
    assert json.loads(run(env, "user", "list", "--json").stdout)[0]["disabled"] is True
    db = tmp_path / "var" / "cshub.db"
    assert b"a very long password" not in db.read_bytes()
