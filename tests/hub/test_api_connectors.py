"""/api/connectors: types, CRUD with write-only secrets, check, run (202)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hub.models import Account, ConnectorConfig
from integrations.connectors import registry
from tests.fakes.cgminer import FakeRig
from tests.fakes.kraken import FakeKraken

URL = "/api/connectors"


def test_types_list_every_type_with_schema_and_secrets(client, admin_headers, monkeypatch):
    """Each type shows its settings with secrets marked; a broken one is listed as disabled."""
    monkeypatch.setitem(registry.TYPE_MODULES, "ghost", "integrations.connectors.ghost:Ghost")
    resp = client.get(f"{URL}/types", headers=admin_headers)
    assert resp.status_code == 200
    types = {t["type"]: t for t in resp.json}
    assert {"cgminer", "pool", "exchange", "http_json", "ghost"} <= set(types)
    exchange = types["exchange"]["settings"]
    assert exchange["api_key"]["secret"] and exchange["api_secret"]["secret"]
    assert not exchange["quote"]["secret"] and exchange["quote"]["default"] == "USD"
    assert (
        types["ghost"]["enabled"] is False and "cannot import" in types["ghost"]["disabled_reason"]
    )
    assert types["cgminer"]["enabled"] is True and types["cgminer"]["disabled_reason"] is None


def _exchange_body(**settings):
    return {
        "type": "exchange",
        "name": "Kraken main",
        "settings": {
            "exchange": "kraken",
            "api_key": "key-1",
            "api_secret": "c2VjcmV0LTE=",
            **settings,
        },
    }


def test_secrets_are_write_only_and_encrypted(client, admin_headers, session):
    """Reads mask secrets; the placeholder keeps them; a new value replaces; encrypted at rest."""
    created = client.post(URL, json=_exchange_body(), headers=admin_headers)
    assert created.status_code == 201, created.json
    cid = created.json["id"]
    assert created.json["settings"]["api_key"] == "********"
    assert created.json["settings"]["exchange"] == "kraken" and created.json["status"] == "new"
    keep = client.patch(
        f"{URL}/{cid}",
        json={"settings": {"api_key": "********", "api_secret": "********", "quote": "USDT"}},
        headers=admin_headers,
    )
    assert keep.status_code == 200, keep.json
    row = session.get(ConnectorConfig, cid)
    assert row.secrets == {"api_key": "key-1", "api_secret": "c2VjcmV0LTE="}
    assert row.settings["quote"] == "USDT"
    client.patch(f"{URL}/{cid}", json={"settings": {"api_key": "key-2"}}, headers=admin_headers)
    session.expire_all()
    assert session.get(ConnectorConfig, cid).secrets["api_key"] == "key-2"
    raw = session.execute(text("SELECT secrets FROM connector_configs")).scalar()
    assert "key-2" not in raw and "c2VjcmV0" not in raw
    listed = client.get(URL, headers=admin_headers).json
    assert listed[0]["settings"]["api_secret"] == "********"
    assert "key-2" not in str(client.get(f"{URL}/{cid}", headers=admin_headers).json)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"type": "nope", "name": "x", "settings": {}}, "type"),
        ({"type": "cgminer", "name": "x", "settings": {"port": 4028}}, "settings"),
        ({"type": "cgminer", "name": "x", "settings": {"host": "h", "colour": 1}}, "settings"),
        ({"type": "cgminer", "name": "x", "settings": {"host": "h"}, "extra": 1}, "extra"),
        (
            {"type": "cgminer", "name": "x", "settings": {"host": "h"}, "account_id": 9999},
            "account_id",
        ),
    ],
)
def test_bad_input_is_422_with_fields(client, admin_headers, body, field):
    """Unknown type, invalid or unknown settings, unknown fields, unknown account: 422."""
    resp = client.post(URL, json=body, headers=admin_headers)
    assert resp.status_code == 422, resp.json
    fields = resp.json["error"]["fields"]
    assert field in {**fields, **fields.get("json", {})}


def test_disabled_type_cannot_be_configured(client, admin_headers, monkeypatch):
    """A disabled type is refused with its reason."""
    monkeypatch.setitem(registry.TYPE_MODULES, "ghost", "integrations.connectors.ghost:Ghost")
    resp = client.post(
        URL, json={"type": "ghost", "name": "g", "settings": {}}, headers=admin_headers
    )
    assert resp.status_code == 422 and resp.json["error"]["code"] == "type_disabled"


def test_check_reports_facts_or_classified_failure(client, admin_headers):
    """check runs against the configured target; a refused target is a 502 naming the kind."""
    with FakeRig() as rig:
        body = {
            "type": "cgminer",
            "name": "s9",
            "settings": {"host": "127.0.0.1", "port": rig.port},
        }
        cid = client.post(URL, json=body, headers=admin_headers).json["id"]
        refused = client.post(f"{URL}/{cid}/check", headers=admin_headers)
        assert refused.status_code == 502
        assert refused.json["error"]["kind"] == "TargetRefused"
        client.patch(
            f"{URL}/{cid}",
            json={"settings": {"allow_private_network": True}},
            headers=admin_headers,
        )
        ok = client.post(f"{URL}/{cid}/check", headers=admin_headers)
    assert ok.status_code == 200 and ok.json["facts"]["version"]["Type"] == "Antminer S9"


def test_exchange_check_against_fake(client, admin_headers):
    """An exchange configuration checks through ccxt against the faked exchange API."""
    with FakeKraken() as fake:
        body = _exchange_body(api_base_url=fake.url, allow_private_network=True, rate_limit_ms=0)
        body["settings"].update(api_key=fake.key, api_secret=fake.secret)
        cid = client.post(URL, json=body, headers=admin_headers).json["id"]
        ok = client.post(f"{URL}/{cid}/check", headers=admin_headers)
    assert ok.status_code == 200, ok.json
    assert ok.json["facts"]["assets"] == ["BTC", "USD"]


def test_run_answers_202_and_queues_one_job(app, client, admin_headers):
    """run enqueues one job (202 + job id); a second request while queued reuses it."""
    from hub.queue import queues

    body = {"type": "cgminer", "name": "s9", "settings": {"host": "10.0.0.5"}}
    cid = client.post(URL, json=body, headers=admin_headers).json["id"]
    first = client.post(f"{URL}/{cid}/run", headers=admin_headers)
    second = client.post(f"{URL}/{cid}/run", headers=admin_headers)
    assert first.status_code == 202 and first.json["job_id"].startswith(f"connector-{cid}-")
    assert second.json["job_id"] == first.json["job_id"] and second.json["already_queued"]
    assert queues["default"].count == 1


def test_rep_cannot_change_connectors(client, admin_headers):
    """A rep token can list but not create."""
    token = client.post(
        "/api/tokens", json={"name": "rep", "role": "rep"}, headers=admin_headers
    ).json["token"]
    rep = {"Authorization": f"Bearer {token}"}
    assert client.get(URL, headers=rep).status_code == 200
    assert client.post(URL, json=_exchange_body(), headers=rep).status_code == 403


def test_delete_and_account_link(client, admin_headers, session):
    """A connector can belong to an account and be deleted."""
    account = Account(name="Acme")
    session.add(account)
    session.commit()
    body = {"type": "cgminer", "name": "s9", "account_id": account.id, "settings": {"host": "h"}}
    created = client.post(URL, json=body, headers=admin_headers)
    assert created.json["account_id"] == account.id
    assert client.delete(f"{URL}/{created.json['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"{URL}/{created.json['id']}", headers=admin_headers).status_code == 404
