"""The ``salesforce`` integration: its settings schema, environment fallback and check.

Admins set it with ``PUT /api/integrations/salesforce`` (secrets stored encrypted and never
returned); on a first start the environment fills in (``SALESFORCE_LOGIN_URL``,
``SALESFORCE_CLIENT_ID``, ``SALESFORCE_CLIENT_SECRET``, ``SALESFORCE_USERNAME``,
``SALESFORCE_PRIVATE_KEY_FILE``, ``SALESFORCE_API_VERSION``; ``SALESFORCE_ORG_ID``, which
verifies Outbound Messages, belongs to the webhook settings).
``POST /api/integrations/salesforce/check`` logs in and reports the org, the API version and
the remaining daily API calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from hub.config import Config
from hub.settings import IntegrationSpec, effective, register
from integrations.salesforce import mapping
from integrations.salesforce.auth import FLOWS, Credentials

SECRET_KEYS = frozenset({"client_secret", "private_key", "access_token"})
DEFAULT_EXPANSION_TYPES = ("Existing Customer - Upgrade", "Expansion", "Upsell", "Cross-sell")


class FieldMapSchema(Schema):
    class Meta:
        unknown = RAISE

    hub = fields.Str(required=True)
    salesforce = fields.Str(required=True)
    direction = fields.Str(load_default="pull", validate=validate.OneOf(mapping.DIRECTIONS))

    @validates_schema
    def _usable(self, data: dict[str, Any], **_kwargs: Any) -> None:
        try:
            mapping.validate_entry(data["hub"], data["salesforce"], data["direction"])
        except mapping.MappingError as exc:
            raise ValidationError(str(exc), field_name="salesforce") from exc


class SalesforceSettingsSchema(Schema):
    """Connection, limits, write-back and field-mapping settings (secrets marked)."""

    class Meta:
        unknown = RAISE

    login_url = fields.Url(load_default="https://login.salesforce.com", require_tld=False)
    auth_flow = fields.Str(load_default="client_credentials", validate=validate.OneOf(FLOWS))
    client_id = fields.Str()
    client_secret = fields.Str(metadata={"secret": True})
    username = fields.Str()
    private_key_file = fields.Str()
    private_key = fields.Str(metadata={"secret": True, "description": "PEM text"})
    access_token = fields.Str(metadata={"secret": True})
    instance_url = fields.Url(require_tld=False)
    audience = fields.Url(require_tld=False)
    api_version = fields.Str(load_default="62.0", validate=validate.Regexp(r"^\d{2,3}\.0$"))
    reserve_share = fields.Float(load_default=0.1, validate=validate.Range(0, 0.9))
    limit_pause_s = fields.Int(load_default=3600, validate=validate.Range(1, 86400))
    limit_retries = fields.Int(load_default=2, validate=validate.Range(0, 10))
    max_retries = fields.Int(load_default=4, validate=validate.Range(0, 10))
    record_retries = fields.Int(load_default=2, validate=validate.Range(0, 10))
    backoff_base_s = fields.Float(load_default=1.0, validate=validate.Range(0, 60))
    backoff_max_s = fields.Float(load_default=60.0, validate=validate.Range(0, 3600))
    timeout_s = fields.Float(load_default=60.0, validate=validate.Range(1, 600))
    page_size = fields.Int(load_default=2000, validate=validate.Range(200, 2000))
    overlap_s = fields.Int(load_default=300, validate=validate.Range(0, 86400))
    bulk_threshold = fields.Int(load_default=1000, validate=validate.Range(0, 10_000_000))
    bulk_poll_s = fields.Float(load_default=5.0, validate=validate.Range(0.001, 600))
    bulk_rows_per_s = fields.Float(load_default=2000.0, validate=validate.Range(1, 10_000_000))
    trend_threshold = fields.Float(load_default=3.0, validate=validate.Range(0, 100))
    field_map = fields.List(fields.Nested(FieldMapSchema), load_default=list)
    renewal_types = fields.List(fields.Str(), load_default=lambda: ["Renewal"])
    expansion_types = fields.List(fields.Str(), load_default=lambda: list(DEFAULT_EXPANSION_TYPES))
    case_event_name = fields.Str(load_default="support_ticket_created")
    default_owner_id = fields.Str(validate=validate.Length(max=18))
    case_origin = fields.Str(load_default="Web")
    opportunity_stage = fields.Str(load_default="Prospecting")


@dataclass(frozen=True)
class SalesforceSettings:
    """The effective settings as one typed object (built by ``resolve``)."""

    credentials: Credentials = field(default_factory=Credentials)
    api_version: str = "62.0"
    ca_bundle: str = ""
    reserve_share: float = 0.1
    limit_pause_s: int = 3600
    limit_retries: int = 2
    max_retries: int = 4
    record_retries: int = 2
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    timeout_s: float = 60.0
    page_size: int = 2000
    overlap_s: int = 300
    bulk_threshold: int = 1000
    bulk_poll_s: float = 5.0
    bulk_rows_per_s: float = 2000.0
    trend_threshold: float = 3.0
    mappings: tuple[mapping.FieldMapping, ...] = mapping.DEFAULT_MAPPINGS
    renewal_types: tuple[str, ...] = ("Renewal",)
    expansion_types: tuple[str, ...] = DEFAULT_EXPANSION_TYPES
    case_event_name: str = "support_ticket_created"
    default_owner_id: str = ""
    case_origin: str = "Web"
    opportunity_stage: str = "Prospecting"


def resolve(values: dict[str, Any], config: Config | None = None) -> SalesforceSettings:
    """Typed settings from stored/env ``values`` (validated) and the process config."""
    data = SalesforceSettingsSchema().load(dict(values))
    creds = Credentials(
        flow=data["auth_flow"],
        login_url=data["login_url"].rstrip("/"),
        client_id=data.get("client_id", ""),
        client_secret=data.get("client_secret", ""),
        username=data.get("username", ""),
        private_key_file=data.get("private_key_file", ""),
        private_key=data.get("private_key", ""),
        access_token=data.get("access_token", ""),
        instance_url=data.get("instance_url", ""),
        audience=data.get("audience", ""),
    )
    simple = {
        k: data[k]
        for k in (
            "api_version",
            "reserve_share",
            "limit_pause_s",
            "limit_retries",
            "max_retries",
            "record_retries",
            "backoff_base_s",
            "backoff_max_s",
            "timeout_s",
            "page_size",
            "overlap_s",
            "bulk_threshold",
            "bulk_poll_s",
            "bulk_rows_per_s",
            "trend_threshold",
            "case_event_name",
            "case_origin",
            "opportunity_stage",
        )
    }
    return SalesforceSettings(
        credentials=creds,
        ca_bundle=config.requests_ca_bundle if config else "",
        mappings=mapping.build(data["field_map"]),
        renewal_types=tuple(data["renewal_types"]),
        expansion_types=tuple(data["expansion_types"]),
        default_owner_id=data.get("default_owner_id", ""),
        **simple,
    )


def from_config(config: Config) -> dict[str, Any]:
    """First-start settings from the environment (nothing unless a client id is set)."""
    if not config.salesforce_client_id:
        return {}
    flow = (
        "jwt_bearer"
        if config.salesforce_private_key_file and config.salesforce_username
        else "client_credentials"
    )
    return {
        "auth_flow": flow,
        "login_url": config.salesforce_login_url,
        "client_id": config.salesforce_client_id,
        "client_secret": config.salesforce_client_secret,
        "username": config.salesforce_username,
        "private_key_file": config.salesforce_private_key_file,
        "api_version": config.salesforce_api_version,
    }


def load(session: Session, config: Config) -> SalesforceSettings:
    """The settings in force (stored ones if an admin saved them, else the environment's)."""
    return resolve(effective(session, SPEC, config), config)


def _current_config() -> Config:
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config["CSHUB"]
    return Config.from_env(dotenv=False)


def check(values: dict[str, Any]) -> dict[str, Any]:
    """Log in, then report the org, the API version and the remaining daily API calls."""
    from integrations.salesforce.client import SalesforceClient

    settings = resolve(values, _current_config())
    with SalesforceClient(settings) as client:
        who = client.userinfo()
        limits = client.limits()
    daily = limits.get("DailyApiRequests") or {}
    return {
        "org_id": who.get("organization_id"),
        "user_id": who.get("user_id"),
        "username": who.get("preferred_username"),
        "instance_url": client.instance_url,
        "api_version": settings.api_version,
        "auth_flow": settings.credentials.flow,
        "daily_api_requests": {"max": daily.get("Max"), "remaining": daily.get("Remaining")},
        "api_calls_used_by_check": client.stats.api_calls,
    }


SPEC = register(
    IntegrationSpec(
        name="salesforce",
        schema=SalesforceSettingsSchema,
        secret_keys=SECRET_KEYS,
        from_config=from_config,
        check=check,
        description="Salesforce CRM: pull accounts, write health scores back, open rep work",
    )
)
