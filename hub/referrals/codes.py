"""Referral codes: unguessable, easy to read aloud and type, with a check character.

Ten symbols of Crockford's base32 alphabet (no I, L, O, U) drawn from ``secrets`` give 50
bits of randomness; an eleventh symbol is a Luhn mod-32 check character, so a mistyped
symbol or two swapped neighbours (all pairs but 0/Z, Luhn's one blind spot) are caught
before any database lookup. Displayed as
``XXXX-XXXX-XXX``; input is read forgivingly (case, hyphens, spaces, O for 0, I/L for 1).
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_ALIASES = {"O": "0", "I": "1", "L": "1"}
BODY_LENGTH = 10
LENGTH = BODY_LENGTH + 1


def check_symbol(body: str) -> str:
    """The Luhn mod-32 check symbol of ``body`` (canonical symbols only)."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def is_valid(canonical: str) -> bool:
    if len(canonical) != LENGTH or any(ch not in _VALUE for ch in canonical):
        return False
    return check_symbol(canonical[:-1]) == canonical[-1]


def new_code() -> str:
    """A fresh canonical code (11 symbols)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_symbol(body)


def normalize(text: str) -> str | None:
    """The canonical form of a typed code, or None when it cannot be a valid code."""
    if not text or len(text) > 40:
        return None
    cleaned = "".join(ch for ch in text.upper() if ch not in "- _.\t")
    canonical = "".join(_ALIASES.get(ch, ch) for ch in cleaned)
    return canonical if is_valid(canonical) else None


def display(canonical: str) -> str:
    return f"{canonical[:4]}-{canonical[4:8]}-{canonical[8:]}"
