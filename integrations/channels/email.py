"""E-mail over SMTP (smtplib): Jinja2 templates with text and HTML parts, per-segment content,
an unsubscribe link plus ``List-Unsubscribe``/``List-Unsubscribe-Post`` (RFC 8058 one-click),
an open pixel and click redirects through the hub.

Settings (IntegrationSpec ``smtp``; first start from ``SMTP_URL``, e.g.
``smtp://user:pass@mail.example:587?starttls=1&from=cs@example.com&from_name=CS%20Team``;
``smtps://`` for implicit TLS). One SMTP connection serves a whole dispatch run.

Delivery is at most once: MAIL/RCPT failures are safe to retry (nothing was accepted), a 4xx
answer to DATA is retried, a 5xx is final, and a connection lost after the message body was
sent is reported as an unknown outcome (failed, re-sendable by an admin), never retried blind.
"""

from __future__ import annotations

import html
import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from integrations.channels.base import CUSTOMER, Channel, Delivery, Envelope
from integrations.channels.render import render_blocks, render_string
from integrations.channels.tracking import Links
from integrations.errors import FatalError, RetriableError, SkippableError

_TRUE = {"1", "true", "yes", "on"}
_URL = re.compile(r"https?://[^\s<>\"']+")


def _autolink(escaped: str) -> str:
    """Turn the (already escaped) URLs of a text paragraph into links."""
    return _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def parse_smtp_url(url: str) -> dict[str, Any]:
    """SMTP settings from an ``smtp://`` or ``smtps://`` URL (empty dict for an empty URL)."""
    if not url:
        return {}
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    security = "ssl" if parts.scheme == "smtps" else "none"
    if parts.scheme == "smtp" and query.get("starttls", "").lower() in _TRUE:
        security = "starttls"
    settings: dict[str, Any] = {
        "host": parts.hostname or "",
        "port": parts.port or (465 if security == "ssl" else 587 if security == "starttls" else 25),
        "security": security,
        "username": unquote(parts.username) if parts.username else "",
        "password": unquote(parts.password) if parts.password else "",
        "from_address": query.get("from", ""),
        "from_name": query.get("from_name", ""),
        "timeout": float(query.get("timeout", 30)),
    }
    if query.get("app_url"):
        settings["app_url"] = query["app_url"]
    return settings


def _classify(exc: smtplib.SMTPResponseException, what: str) -> Exception:
    code = exc.smtp_code
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
    message = f"SMTP {what} refused: {code} {text}".strip()
    if 400 <= code < 500:
        return RetriableError(message, status=code)
    return FatalError(message, status=code)


class EmailChannel(Channel):
    name = "email"
    title = "E-mail (SMTP)"
    audience = CUSTOMER
    spec = "smtp"
    requires = ("smtplib",)
    required_settings = ("host", "from_address")

    def __init__(self, settings, context) -> None:
        super().__init__(settings, context)
        self._conn: smtplib.SMTP | None = None

    # -- connection -------------------------------------------------------------------------
    def _connect(self) -> smtplib.SMTP:
        host = self.settings["host"]
        port = int(self.settings.get("port") or 25)
        timeout = float(self.settings.get("timeout") or self.context.timeout_s)
        security = self.settings.get("security", "none")
        try:
            if security == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=self._tls()
                )
            else:
                conn = smtplib.SMTP(host, port, timeout=timeout)
                if security == "starttls":
                    conn.starttls(context=self._tls())
            if self.settings.get("username"):
                conn.login(self.settings["username"], self.settings.get("password", ""))
            conn.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            raise FatalError(f"SMTP login refused: {exc.smtp_code}", status=exc.smtp_code) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc, "connection") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetriableError(f"SMTP server unreachable: {exc}") from exc
        return conn

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.context.ca_bundle or None)
        return context

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                self._conn.close()
            self._conn = None

    @contextmanager
    def open(self) -> Iterator[EmailChannel]:
        try:
            yield self
        finally:
            self._close()

    # -- content ----------------------------------------------------------------------------
    def compose(self, envelope: Envelope) -> EmailMessage:
        """The MIME message for ``envelope`` (text and HTML parts, tracking, unsubscribe)."""
        contact = envelope.contact or {}
        if not contact.get("email"):
            raise SkippableError("the contact has no e-mail address")
        links = Links(
            self.context.base_url, self.context.secret_key, envelope.message_id, contact.get("id")
        )
        unsubscribe_url = links.unsubscribe(self.name)
        params = dict(envelope.payload.get("params") or {})
        context = {
            "account": envelope.account,
            "contact": contact,
            "segment": envelope.account.get("segment"),
            "first_name": (contact.get("name") or "there").split()[0],
            "params": params,
            "detail": dict(envelope.payload.get("detail") or {}),
            "app_url": self.settings.get("app_url") or "https://app.example.com",
            "link": links.click,
            "unsubscribe_url": unsubscribe_url,
            "pixel_url": links.pixel,
            "owner_email": envelope.account.get("owner_email"),
            "content": "",
        }
        subject, text, html_body = self._content(envelope, context)
        msg = EmailMessage()
        from_address = self.settings["from_address"]
        msg["Subject"] = subject
        msg["From"] = formataddr((self.settings.get("from_name") or "", from_address))
        msg["To"] = formataddr((contact.get("name") or "", contact["email"]))
        if self.settings.get("reply_to"):
            msg["Reply-To"] = self.settings["reply_to"]
        msg["Date"] = formatdate(localtime=False)
        domain = from_address.rpartition("@")[2] or "cshub.local"
        msg["Message-ID"] = make_msgid(idstring=f"cshub.{envelope.message_id}", domain=domain)
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["X-CSHub-Message"] = envelope.idempotency_key
        msg.set_content(text)
        msg.add_alternative(html_body, subtype="html")
        return msg

    def _content(self, envelope: Envelope, context: dict[str, Any]) -> tuple[str, str, str]:
        segment = envelope.account.get("segment")
        if envelope.template:
            text_blocks = render_blocks("email", envelope.template, segment, "txt", context)
            if text_blocks is None:
                raise FatalError(f"no e-mail template named {envelope.template!r}")
            subject = text_blocks.get("subject") or render_string(envelope.subject, context) or ""
            text = text_blocks["_full"]
            html_blocks = render_blocks("email", envelope.template, segment, "html", context)
            if html_blocks is not None:
                return subject, text, html_blocks["_full"]
            content = text_blocks.get("body", text)
        else:
            subject = render_string(envelope.subject, context) or ""
            content = render_string(envelope.body, context) or ""
            text = render_blocks(
                "email", "_inline", segment, "txt", {**context, "content": content}
            )
            text = text["_full"] if text else content
        paragraphs = "".join(
            f"<p>{_autolink(html.escape(p)).replace(chr(10), '<br>')}</p>"
            for p in content.split("\n\n")
            if p.strip()
        )
        wrapped = render_blocks(
            "email", "_inline", segment, "html", {**context, "content_html": paragraphs}
        )
        return subject, text, wrapped["_full"] if wrapped else paragraphs

    # -- delivery ---------------------------------------------------------------------------
    def send(self, envelope: Envelope) -> Delivery:
        msg = self.compose(envelope)
        sender = self.settings["from_address"]
        recipient = envelope.contact["email"]  # compose() checked it
        conn = self._envelope_accepted(sender, recipient)
        try:
            _code, resp = conn.data(msg.as_bytes(policy=SMTP_POLICY))
        except smtplib.SMTPDataError as exc:  # the server answered: it did not take it
            self._reset()
            raise _classify(exc, "DATA") from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            self._conn = None
            raise FatalError(
                f"outcome unknown: SMTP connection lost after the message was sent ({exc}); "
                "not retried automatically"
            ) from exc
        return Delivery(
            external_id=msg["Message-ID"],
            subject=str(msg["Subject"]),
            body=msg.get_body(("plain",)).get_content(),
            detail={"smtp": resp.decode(errors="replace") if isinstance(resp, bytes) else ""},
        )

    def _envelope_accepted(self, sender: str, recipient: str) -> smtplib.SMTP:
        """MAIL FROM and RCPT TO on a live connection (one reconnect if it was dropped)."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn
            try:
                code, resp = conn.mail(sender)
                if code != 250:
                    conn.rset()
                    raise _classify(smtplib.SMTPResponseException(code, resp), "MAIL FROM")
                code, resp = conn.rcpt(recipient)
                if code not in (250, 251):
                    conn.rset()
                    raise _classify(smtplib.SMTPResponseException(code, resp), "RCPT TO")
                return conn
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._conn = None  # nothing accepted yet: safe to retry
                if attempt == 2:
                    raise RetriableError(f"SMTP connection lost before sending: {exc}") from exc
        raise AssertionError("unreachable")

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (OSError, smtplib.SMTPException):
            self._conn = None


CHANNELS = (EmailChannel,)
