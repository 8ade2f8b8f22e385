"""Slack (slack-sdk ``WebClient``): a message to the account's CS channel or to its rep.

Settings: IntegrationSpec ``slack`` (``SLACK_BOT_TOKEN``, ``SLACK_DEFAULT_CHANNEL``). The
target is the step's ``to``: ``account_channel`` (the account attribute ``slack_channel``,
else the default channel) or ``rep`` (a direct message to the account owner, found by
e-mail). Text comes from ``templates/slack/<template>.txt.j2`` or the step's inline ``text``.
"""

from __future__ import annotations

from typing import Any

from integrations.channels.base import TEAM, Channel, Delivery, Envelope
from integrations.channels.render import render_blocks, render_string
from integrations.errors import FatalError, RetriableError, SkippableError


class SlackChannel(Channel):
    name = "slack"
    title = "Slack"
    audience = TEAM
    spec = "slack"
    requires = ("slack_sdk",)
    required_settings = ("bot_token",)

    def client(self):
        from slack_sdk import WebClient

        return WebClient(
            token=self.settings["bot_token"],
            base_url=self.settings.get("base_url") or "https://slack.com/api/",
            timeout=int(self.context.timeout_s),
        )

    def target(self, client, envelope: Envelope) -> str:
        to = envelope.payload.get("to", "account_channel")
        if to == "rep":
            owner = envelope.account.get("owner_email")
            if not owner:
                raise SkippableError("the account has no owner to message")
            return self._call(lambda: client.users_lookupByEmail(email=owner))["user"]["id"]
        channel = (envelope.account.get("attributes") or {}).get("slack_channel")
        channel = channel or self.settings.get("default_channel")
        if not channel:
            raise SkippableError("no Slack channel for the account and no default channel")
        return channel

    def _call(self, fn):
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            return fn()
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", 0)
            error = response.get("error") if hasattr(response, "get") else str(exc)
            if status == 429 or error == "ratelimited":
                retry = (getattr(response, "headers", {}) or {}).get("Retry-After")
                raise RetriableError(
                    "Slack rate limit", status=429, retry_after=float(retry or 30)
                ) from exc
            if status >= 500:
                raise RetriableError(f"Slack error {status}: {error}", status=status) from exc
            if error in ("users_not_found", "channel_not_found"):
                raise SkippableError(f"Slack: {error}") from exc
            raise FatalError(f"Slack refused: {error}", status=status) from exc
        except SlackClientError as exc:
            raise RetriableError(f"Slack unreachable: {exc}") from exc
        except OSError as exc:
            raise RetriableError(f"Slack unreachable: {exc}") from exc

    def send(self, envelope: Envelope) -> Delivery:
        context: dict[str, Any] = {
            "account": envelope.account,
            "contact": envelope.contact or {},
            "segment": envelope.account.get("segment"),
            "params": dict(envelope.payload.get("params") or {}),
        }
        if envelope.template:
            blocks = render_blocks(
                "slack", envelope.template, envelope.account.get("segment"), "txt", context
            )
            if blocks is None:
                raise FatalError(f"no Slack template named {envelope.template!r}")
            text = blocks["_full"]
        else:
            text = render_string(envelope.body, context) or ""
        client = self.client()
        channel = self.target(client, envelope)
        answer = self._call(lambda: client.chat_postMessage(channel=channel, text=text))
        return Delivery(
            external_id=f"{answer.get('channel')}/{answer.get('ts')}",
            body=text,
            detail={"channel": answer.get("channel")},
        )


CHANNELS = (SlackChannel,)
