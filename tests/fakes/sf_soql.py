"""A small SOQL parser and evaluator for the fake Salesforce (``tests.fakes.salesforce``).

Supports what cshub and its tests send: ``SELECT f, Rel.f FROM Obj [WHERE cond]
[ORDER BY f [ASC|DESC], ...] [LIMIT n]`` where ``cond`` combines ``=, !=, <, <=, >, >=,
IN (...), NOT IN (...), LIKE`` with AND, OR and parentheses; values are quoted strings,
numbers, ``true``/``false``/``null``, date and datetime literals. Field names are
case-insensitive, as in Salesforce. Errors carry Salesforce's error codes
(``MALFORMED_QUERY``, ``INVALID_FIELD``, ``INVALID_TYPE``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc"}
KEYWORDS |= {"desc", "limit", "nulls", "first", "last", "true", "false", "null"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _parse_dt(text: str) -> datetime:
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass
class Token:
    kind: str
    text: str
    value: Any


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at: {text[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "string":
            out.append(Token("value", raw, _unquote(raw)))
        elif kind == "datetime":
            out.append(Token("value", raw, _parse_dt(raw)))
        elif kind == "date":
            out.append(Token("value", raw, date.fromisoformat(raw)))
        elif kind == "number":
            out.append(Token("value", raw, float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw.lower() in KEYWORDS:
            lowered = raw.lower()
            if lowered in ("true", "false", "null"):
                out.append(Token("value", raw, {"true": True, "false": False}.get(lowered)))
            else:
                out.append(Token("kw", lowered, lowered))
        else:
            out.append(Token(kind, raw, raw))
    return out


@dataclass
class Query:
    sobject: str
    fields: list[str]
    where: Callable[[Callable[[str], Any]], bool] | None = None
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None
    where_fields: list[str] = field(default_factory=list)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.i += 1
        return tok

    def expect_kw(self, word: str) -> None:
        tok = self.take()
        if tok.kind != "kw" or tok.text != word:
            raise SoqlError("MALFORMED_QUERY", f"expecting '{word.upper()}', found {tok.text!r}")

    def at_kw(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "kw" and tok.text == word

    def field_name(self, used: list[str]) -> str:
        tok = self.take()
        if tok.kind != "word":
            raise SoqlError("MALFORMED_QUERY", f"expecting a field, found {tok.text!r}")
        used.append(tok.text)
        return tok.text

    def value(self) -> Any:
        tok = self.take()
        if tok.kind != "value":
            raise SoqlError("MALFORMED_QUERY", f"expecting a value, found {tok.text!r}")
        return tok.value

    def condition(self, used: list[str]) -> Callable[[Callable[[str], Any]], bool]:
        left = self.conjunction(used)
        while self.at_kw("or"):
            self.take()
            right = self.conjunction(used)
            left = (lambda a, b: lambda get: a(get) or b(get))(left, right)
        return left

    def conjunction(self, used: list[str]) -> Callable[[Callable[[str], Any]], bool]:
        left = self.term(used)
        while self.at_kw("and"):
            self.take()
            right = self.term(used)
            left = (lambda a, b: lambda get: a(get) and b(get))(left, right)
        return left

    def term(self, used: list[str]) -> Callable[[Callable[[str], Any]], bool]:
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.text == "(":
            self.take()
            inner = self.condition(used)
            if self.take().text != ")":
                raise SoqlError("MALFORMED_QUERY", "missing ')'")
            return inner
        name = self.field_name(used)
        negate = False
        if self.at_kw("not"):
            self.take()
            negate = True
        if self.at_kw("in"):
            self.take()
            if self.take().text != "(":
                raise SoqlError("MALFORMED_QUERY", "expecting '(' after IN")
            values = [self.value()]
            while self.peek() is not None and self.peek().text == ",":
                self.take()
                values.append(self.value())
            if self.take().text != ")":
                raise SoqlError("MALFORMED_QUERY", "expecting ')' after IN list")
            options = set(values)
            return lambda get: (get(name) in options) != negate
        if self.at_kw("like"):
            self.take()
            pattern = str(self.value())
            regex = re.compile(
                "^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$", re.I
            )
            return lambda get: bool(regex.match(str(get(name) or ""))) != negate
        op = self.take()
        if op.kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"expecting an operator, found {op.text!r}")
        expected = self.value()
        return _compare(name, op.text, expected)

    def parse(self) -> Query:
        self.expect_kw("select")
        fields: list[str] = []
        while True:
            fields.append(self.field_name([]))
            tok = self.peek()
            if tok is not None and tok.text == ",":
                self.take()
                continue
            break
        self.expect_kw("from")
        obj = self.take()
        if obj.kind != "word":
            raise SoqlError("MALFORMED_QUERY", "expecting an object after FROM")
        query = Query(obj.text, fields)
        if self.at_kw("where"):
            self.take()
            query.where = self.condition(query.where_fields)
        if self.at_kw("order"):
            self.take()
            self.expect_kw("by")
            while True:
                name = self.field_name(query.where_fields)
                desc = False
                if self.at_kw("asc") or self.at_kw("desc"):
                    desc = self.take().text == "desc"
                if self.at_kw("nulls"):
                    self.take()
                    self.take()
                query.order.append((name, desc))
                tok = self.peek()
                if tok is not None and tok.text == ",":
                    self.take()
                    continue
                break
        if self.at_kw("limit"):
            self.take()
            query.limit = int(self.value())
        if self.peek() is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token {self.peek().text!r}")
        return query


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, datetime) and isinstance(b, date) and not isinstance(b, datetime):
        return a.date(), b
    if isinstance(a, str) and isinstance(b, str):
        return a.lower(), b.lower()
    return a, b


def _compare(name: str, op: str, expected: Any) -> Callable[[Callable[[str], Any]], bool]:
    def check(get: Callable[[str], Any]) -> bool:
        actual = get(name)
        if op in ("=", "!=", "<>"):
            a, b = _comparable(actual, expected)
            return (a == b) == (op == "=")
        if actual is None or expected is None:
            return False
        a, b = _comparable(actual, expected)
        try:
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        except TypeError:
            return False

    return check


def parse(text: str) -> Query:
    return _Parser(tokenize(text)).parse()
