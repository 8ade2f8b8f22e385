"""Operating the hub: init, up, worker, scheduler, doctor, token create."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hub.cli.common import cli, emit, json_option, make_app


@cli.command()
@json_option
def init(as_json: bool) -> None:
    """Create or migrate the database to the latest schema."""
    from hub.db import db
    from hub.migrate import current_revision, upgrade

    app = make_app()
    with app.app_context():
        upgrade(db.engine)
        revision = current_revision(db.engine)
    emit(
        {"database": app.config["CSHUB"].describe()["database_url"], "revision": revision},
        as_json,
        f"database at revision {revision}",
    )


@cli.command()
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
def up(port: int, host: str) -> None:
    """Run web, worker and scheduler together (Ctrl-C stops all three)."""
    from honcho.manager import Manager

    from hub.db import db
    from hub.migrate import upgrade
    from hub.queue import redis_url_of

    app = make_app()
    config = app.config["CSHUB"]
    upgrade(db.engine)
    env = dict(os.environ)
    # the Procfile's commands (gunicorn, cshub) live beside this interpreter, venv or not
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PORT"] = str(port)
    env["CSHUB_BIND"] = f"{host}:{port}"
    if not config.redis_url:
        from hub.queue import queues

        env["REDIS_URL"] = redis_url_of(queues.redis)  # children share the embedded server
    env.setdefault("CSHUB_DATA_DIR", str(config.data_dir.resolve()))
    if config.secret_key == "":
        env["CSHUB_SECRET_KEY"] = config.effective_secret_key
    manager = Manager()
    for name, command in procfile_entries().items():
        manager.add_process(name, command, env=env)
    click.echo(f"cshub: serving http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    manager.loop()
    sys.exit(manager.returncode)


def procfile_entries(path: Path | None = None) -> dict[str, str]:
    """The Procfile's process types (name -> command)."""
    path = path or Path(__file__).resolve().parents[2] / "Procfile"
    if not path.exists():
        path = Path.cwd() / "Procfile"
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


@cli.command()
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
@click.option("--queues", "queue_names", default="high,default,low", show_default=True)
@click.option("--with-scheduler/--without-scheduler", default=True, show_default=True)
def worker(burst: bool, queue_names: str, with_scheduler: bool) -> None:
    """Run an RQ worker (with RQ's scheduler for retries and delayed jobs)."""
    import gc

    from rq import Worker

    from hub import create_app
    from hub.queue import queues
    from jobs.base import preload, set_app

    app = create_app({"worker_pool": "null"})  # no pool shared across RQ's fork
    set_app(app)
    preload()
    gc.freeze()  # the work horses' collections skip what is loaded now (and leave it shared)
    names = [n.strip() for n in queue_names.split(",") if n.strip()]
    w = Worker([queues[n] for n in names], connection=queues.redis)
    w.work(burst=burst, with_scheduler=with_scheduler, logging_level=app.config["CSHUB"].log_level)


@cli.command()
def scheduler() -> None:
    """Run the cron scheduler (exactly one per deployment)."""
    from hub.queue import queues
    from jobs.schedule import build_scheduler

    app = make_app()
    build_scheduler(queues.redis, app.config["CSHUB"].log_level).start()


@cli.command()
@json_option
def doctor(as_json: bool) -> None:
    """Print what is configured and whether it is reachable."""
    from sqlalchemy import text

    from hub.db import db
    from hub.migrate import current_revision
    from hub.queue import queues

    app = make_app()
    report: dict = {"config": app.config["CSHUB"].describe(), "checks": {}}
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            report["checks"]["database"] = {"ok": True, "revision": current_revision(db.engine)}
        except Exception as exc:  # any driver failure is a finding, not a crash
            report["checks"]["database"] = {"ok": False, "error": str(exc)}
        try:
            queues.redis.ping()
            report["checks"]["redis"] = {"ok": True, "queues": queues.depths()}
        except Exception as exc:
            report["checks"]["redis"] = {"ok": False, "error": str(exc)}
    ok = all(c["ok"] for c in report["checks"].values())
    report["ok"] = ok
    lines = [
        f"{name}: {'ok' if c['ok'] else 'FAIL ' + c.get('error', '')}"
        for name, c in report["checks"].items()
    ]
    emit(report, as_json, "\n".join(lines))
    sys.exit(0 if ok else 1)


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice(["admin", "rep"]), default="admin", show_default=True)
@click.option("--name", default="cli", show_default=True)
@json_option
def token_create(role: str, name: str, as_json: bool) -> None:
    """Create an API token and print it (shown once)."""
    from hub.audit import record
    from hub.auth import create_token
    from hub.db import db

    app = make_app()
    with app.app_context(), db.begin() as session:
        row, plaintext = create_token(session, name, role)
        record(session, "cli", "token.create", f"token:{row.id}", role=role)
        token_id = row.id
    emit({"id": token_id, "role": role, "token": plaintext}, as_json, plaintext)
