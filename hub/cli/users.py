"""Admin UI users: ``cshub user create --email --role``, ``user list``, ``user disable``,
``user password``."""

from __future__ import annotations

import sys

import click

from hub.cli.common import cli, emit, json_option, make_app


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@cli.group()
def user() -> None:
    """People who sign in to the admin UI."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["admin", "rep"]), required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from stdin")
@json_option
def user_create(email: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Create a user (asks for the password unless --password-stdin)."""
    from hub.audit import record
    from hub.db import db
    from hub.users import UserError, create_user

    password = _password(password_stdin)
    app = make_app()
    try:
        with app.app_context(), db.begin() as session:
            row = create_user(session, email, role, password)
            record(session, "cli", "user.create", f"user:{row.id}", email=row.email, role=role)
            doc = {"id": row.id, "email": row.email, "role": row.role}
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(doc, as_json, f"created {doc['role']} {doc['email']}")


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """List users."""
    from sqlalchemy import select

    from hub.db import db
    from hub.models import User

    app = make_app()
    with app.app_context(), db.begin() as session:
        rows = [
            {
                "id": u.id,
                "email": u.email,
                "role": u.role,
                "disabled": u.disabled_at is not None,
            }
            for u in session.scalars(select(User).order_by(User.email))
        ]
    human = "\n".join(
        "\t".join([r["email"], r["role"], *(["disabled"] if r["disabled"] else [])]) for r in rows
    )
    emit(rows, as_json, human or "no users")


def _change(email: str, action: str, apply) -> None:
    from hub.audit import record
    from hub.db import db
    from hub.users import UserError, find

    app = make_app()
    try:
        with app.app_context(), db.begin() as session:
            row = find(session, email)
            if row is None:
                raise UserError(f"no user with email {email}")
            apply(row)
            record(session, "cli", action, f"user:{row.id}", email=row.email)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc


@user.command("disable")
@click.option("--email", required=True)
def user_disable(email: str) -> None:
    """Disable a user: their sessions end and they cannot sign in."""
    from hub.db import utcnow

    def apply(row) -> None:
        row.disabled_at = utcnow()

    _change(email, "user.disable", apply)
    click.echo(f"disabled {email}")


@user.command("password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from stdin")
def user_password(email: str, password_stdin: bool) -> None:
    """Set a new password (ends the user's existing sessions)."""
    from hub.users import set_password

    password = _password(password_stdin)
    _change(email, "user.password", lambda row: set_password(row, password))
    click.echo(f"password changed for {email}")
