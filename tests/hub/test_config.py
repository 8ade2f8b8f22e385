"""Configuration is read from the environment in one place."""

from pathlib import Path

import pytest

from hub import create_app
from hub.config import Config


def test_from_env_reads_the_contract_names():
    """The design's environment names land in the right settings."""
    cfg = Config.from_env(
        {
            "DATABASE_URL": "postgresql://u:pw@db/cshub",
            "REDIS_URL": "redis://r:6379/1",
            "CSHUB_SECRET_KEY": "k",
            "CSHUB_ADMIN_TOKEN": "t",
            "CSHUB_DATA_DIR": "/srv/cshub",
            "SALESFORCE_LOGIN_URL": "https://test.salesforce.com",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "TWILIO_ACCOUNT_SID": "AC1",
            "SLACK_BOT_TOKEN": "xoxb",
        }
    )
    assert cfg.database_url == "postgresql://u:pw@db/cshub"
    assert cfg.redis_url == "redis://r:6379/1"
    assert cfg.data_dir == Path("/srv/cshub")
    assert cfg.salesforce_login_url == "https://test.salesforce.com"
    assert cfg.twilio == {"account_sid": "AC1"}
    assert cfg.slack == {"bot_token": "xoxb"}


def test_defaults_are_embedded():
    """With nothing set, the database is SQLite under var/ and Redis is embedded."""
    cfg = Config.from_env({})
    assert cfg.effective_database_url.startswith("sqlite:///")
    assert cfg.effective_database_url.endswith("var/cshub.db")
    assert cfg.redis_url == ""


def test_describe_hides_secrets():
    """doctor's description never prints a secret value."""
    cfg = Config.from_env(
        {
            "CSHUB_SECRET_KEY": "supersecret",
            "DATABASE_URL": "postgresql://u:pw@db/x",
            "STRIPE_API_KEY": "sk_test_1",
        }
    )
    text = repr(cfg.describe())
    assert "supersecret" not in text and "pw" not in text and "sk_test_1" not in text
    assert cfg.describe()["stripe_api_key"] is True


def test_dotenv_is_honoured(tmp_path, monkeypatch):
    """A .env file in the working directory configures the hub; the environment wins."""
    (tmp_path / ".env").write_text("CSHUB_LOG_LEVEL=debug\nCSHUB_BASE_URL=https://hub.example\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CSHUB_BASE_URL", "https://from-env.example")
    monkeypatch.delenv("CSHUB_LOG_LEVEL", raising=False)
    cfg = Config.from_env()
    assert cfg.log_level == "DEBUG"
    assert cfg.base_url == "https://from-env.example"


def test_overrides_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown config fields"):
        Config().with_overrides({"no_such_setting": 1})


def test_app_factory_uses_given_config(config):
    """create_app takes a Config and makes its clients from it, nothing at import time."""
    app = create_app(config)
    assert app.config["CSHUB"] is config
    assert (
        app.extensions["cshub_db"]
        .engine.url.render_as_string(hide_password=False)
        .startswith(config.database_url.split(":")[0])
    )
