"""The ``mixpanel`` integration: project, data residency region, service account, mapping.

Region picks the default hosts (US ``api``/``data``, EU ``api-eu``/``data-eu``, IN
``api-in``/``data-in``); ``api_host`` and ``export_host`` override them (the environment's
``MIXPANEL_API_HOST`` / ``MIXPANEL_EXPORT_HOST`` do the same on a first start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from hub.config import Config
from hub.settings import IntegrationSpec, register
from integrations.errors import FatalError

REGION_HOSTS: dict[str, tuple[str, str]] = {
    "US": ("https://api.mixpanel.com", "https://data.mixpanel.com"),
    "EU": ("https://api-eu.mixpanel.com", "https://data-eu.mixpanel.com"),
    "IN": ("https://api-in.mixpanel.com", "https://data-in.mixpanel.com"),
}
ACCOUNT_FIELDS = ("id", "mixpanel_group_key", "salesforce_id", "stripe_customer_id", "domain")
SECRET_KEYS = frozenset({"service_secret"})


class NotConfigured(FatalError):
    """Mixpanel has no project or credentials yet (scheduled runs skip quietly)."""


class MixpanelSettingsSchema(Schema):
    class Meta:
        unknown = RAISE

    project_id = fields.Str(required=True, validate=validate.Regexp(r"^\d+$"))
    region = fields.Str(load_default="US", validate=validate.OneOf(sorted(REGION_HOSTS)))
    service_account = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    service_secret = fields.Str(
        metadata={"secret": True, "description": "write-only; send ******** to keep it"}
    )
    project_token = fields.Str(
        load_default=None,
        allow_none=True,
        metadata={"description": "project token, needed for profile ($set) updates"},
    )
    api_host = fields.Url(load_default=None, allow_none=True, require_tld=False)
    export_host = fields.Url(load_default=None, allow_none=True, require_tld=False)
    account_property = fields.Str(
        load_default="account_id",
        metadata={"description": "event property naming the account (after distinct_id/email)"},
    )
    account_field = fields.Str(
        load_default="mixpanel_group_key",
        validate=validate.OneOf(ACCOUNT_FIELDS),
        metadata={"description": "which account field the account property's value matches"},
    )
    group_key = fields.Str(
        load_default=None,
        allow_none=True,
        metadata={"description": "Mixpanel group key of account group profiles, e.g. company_id"},
    )
    start_date = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}$", error="use YYYY-MM-DD"),
        metadata={"description": "first day of the first pull (default: 30 days ago)"},
    )
    overlap_days = fields.Int(load_default=2, validate=validate.Range(min=0, max=30))
    days_per_request = fields.Int(load_default=7, validate=validate.Range(min=1, max=31))
    keep_properties = fields.List(
        fields.Str(),
        load_default=None,
        allow_none=True,
        metadata={"description": "event properties stored; default: every non-$ property"},
    )


@dataclass(frozen=True)
class MixpanelSettings:
    """The settings in force, hosts resolved."""

    project_id: str
    service_account: str
    service_secret: str
    api_host: str
    export_host: str
    project_token: str | None = None
    account_property: str = "account_id"
    account_field: str = "mixpanel_group_key"
    group_key: str | None = None
    start_date: date | None = None
    overlap_days: int = 2
    days_per_request: int = 7
    keep_properties: tuple[str, ...] | None = None
    verify: bool | str = True

    @classmethod
    def from_values(cls, values: dict[str, Any], ca_bundle: str = "") -> MixpanelSettings:
        """Resolve stored or environment values; a missing credential is a FatalError."""
        missing = [
            k for k in ("project_id", "service_account", "service_secret") if not values.get(k)
        ]
        if missing:
            raise NotConfigured(f"mixpanel is not configured: missing {', '.join(missing)}")
        api_default, export_default = REGION_HOSTS[values.get("region") or "US"]
        start = values.get("start_date")
        if isinstance(start, str):
            start = date.fromisoformat(start)
        keep = values.get("keep_properties")
        return cls(
            project_id=str(values["project_id"]),
            service_account=values["service_account"],
            service_secret=values["service_secret"],
            api_host=(values.get("api_host") or api_default).rstrip("/"),
            export_host=(values.get("export_host") or export_default).rstrip("/"),
            project_token=values.get("project_token") or None,
            account_property=values.get("account_property") or "account_id",
            account_field=values.get("account_field") or "mixpanel_group_key",
            group_key=values.get("group_key") or None,
            start_date=start,
            overlap_days=int(values.get("overlap_days", 2)),
            days_per_request=int(values.get("days_per_request", 7)),
            keep_properties=tuple(keep) if keep is not None else None,
            verify=ca_bundle or True,
        )


def from_config(config: Config) -> dict[str, Any]:
    """First-start values from the environment (only hosts that differ from US defaults)."""
    values: dict[str, Any] = {
        "project_id": config.mixpanel_project_id,
        "service_account": config.mixpanel_service_account,
        "service_secret": config.mixpanel_service_secret,
        "project_token": config.mixpanel_project_token,
        "region": "US",
    }
    if config.mixpanel_api_host.rstrip("/") != REGION_HOSTS["US"][0]:
        values["api_host"] = config.mixpanel_api_host
    if config.mixpanel_export_host.rstrip("/") != REGION_HOSTS["US"][1]:
        values["export_host"] = config.mixpanel_export_host
    return values


def runtime() -> tuple[Any, str]:
    """The running app's Redis (for the shared rate limiter) and CA bundle, if any."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None, ""
    from hub.queue import queues

    return queues.redis, current_app.config["CSHUB"].requests_ca_bundle


def check(values: dict[str, Any]) -> dict[str, Any]:
    """Prove the credentials: a one-day, one-event export (one query of the hourly budget)."""
    from integrations.mixpanel.client import ExportClient
    from integrations.mixpanel.limiter import export_limiter

    redis, ca_bundle = runtime()
    settings = MixpanelSettings.from_values(values, ca_bundle)
    client = ExportClient(settings, limiter=export_limiter(redis, settings.project_id))
    today = datetime.now(UTC).date()
    lines = sum(1 for _ in client.iter_lines(today, today, limit=1))
    return {"project_id": settings.project_id, "export_host": settings.export_host, "lines": lines}


SPEC = register(
    IntegrationSpec(
        name="mixpanel",
        schema=MixpanelSettingsSchema,
        secret_keys=SECRET_KEYS,
        from_config=from_config,
        check=check,
        description="Mixpanel: raw event export in, profile properties and hub events out",
    )
)
