"""People who sign in to the admin UI: passwords hashed with werkzeug (scrypt), roles
admin and rep (read-only)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hub.models import User
from hub.models.security import ROLES

MIN_PASSWORD_LENGTH = 12


@cache
def _dummy_hash() -> str:
    """A hash to check unknown users against, so they take as long as known ones (made on
    first use: hashing takes most of a second)."""
    return generate_password_hash("timing-equaliser-not-a-password")


class UserError(ValueError):
    """A user cannot be created or changed as asked."""


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 255:
        raise UserError("a valid email address is required")
    return email


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def find(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(session: Session, email: str, role: str, password: str) -> User:
    """A new user; the password is stored only as a salted scrypt hash."""
    email = normalise_email(email)
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    check_password_strength(password)
    if find(session, email) is not None:
        raise UserError(f"a user with email {email} exists")
    user = User(email=email, role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    check_password_strength(password)
    user.password_hash = generate_password_hash(password)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The enabled user with this email and password, else None (in about the same time)."""
    user = find(session, email or "")
    if user is None or user.disabled_at is not None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def session_stamp(user: User) -> str:
    """Changes whenever the password does, so a new password ends old sessions."""
    return user.password_hash[-16:]
