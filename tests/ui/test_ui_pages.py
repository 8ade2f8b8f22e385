"""UI pages over the test client: the accounts list's filters, sorts and paging, the KPI
targets form, the outbox re-send and the jobs page's retry."""

from __future__ import annotations

import re

from hub.models import AuditLog, KpiSetting, OutboxMessage
from tests.ui.conftest import csrf_from
from tests.ui.seed import seed


def names_in(html: str) -> list[str]:
    return re.findall(r'<td><a href="/accounts/\d+">([^<]+)</a></td>', html)


def tiers_in(html: str) -> list[str]:
    return re.findall(r'<span class="tier tier-([a-z_]+)">', html)


def test_accounts_list_filters_sorts_and_pages(admin_client, session):
    """Filters by tier and segment, sorts by risk and name, and pages in SQL."""
    seed(session)
    page = admin_client.get("/accounts").text
    names = names_in(page)
    assert names == sorted(names) and len(names) <= 50
    assert "not scored" in page or tiers_in(page)  # standing shown on the fast path
    critical = admin_client.get("/accounts?tier=critical").text
    assert set(tiers_in(critical)) == {"critical"}
    risky = admin_client.get("/accounts?sort=-risk").text
    shares = [int(p) for p in re.findall(r'<td class="num">(\d+) % <span class="badge', risky)]
    assert shares and shares == sorted(shares, reverse=True)
    farms = admin_client.get("/accounts?segment=mining_farm&q=Farms").text
    assert names_in(farms) and all("Farms" in n for n in names_in(farms))
    paged = admin_client.get("/accounts?page=2").text
    assert "page 2 of" not in paged or names_in(paged) != names  # 40 accounts fit one page
    assert admin_client.get("/accounts?tier=bogus&sort=bogus&page=x").status_code == 200


def test_kpi_targets_form_saves_and_audits(admin_client, session):
    """The KPIs page saves targets and ROI inputs (blank target = none) with an audit row."""
    token = csrf_from(admin_client.get("/kpis").text)
    resp = admin_client.post(
        "/kpis/settings",
        data={
            "csrf_token": token,
            "target__nps": "55",
            "target__dau": "",
            "roi__cost_per_save": "300",
            "roi__campaign_costs": "0",
            "roi__months_of_revenue_per_save": "6",
            "roi__revenue_saved": "",
        },
    )
    assert resp.status_code == 302
    targets = session.query(KpiSetting).filter_by(key="targets").one().value
    assert targets["nps"] == 55 and targets["dau"] is None
    assert session.query(AuditLog).filter_by(action="kpi.settings.update").count() == 2
    page = admin_client.get("/kpis").text
    assert 'name="target__nps" value="55.0"' in page
    bad = admin_client.post(
        "/kpis/settings", data={"csrf_token": token, "target__nps": "lots"}, follow_redirects=True
    )
    assert "Nothing saved" in bad.text and "targets.nps" in bad.text


def test_outbox_resend_requeues_a_failed_message(admin_client, session):
    """Re-send puts a failed message back to pending (the engine's rule), audited."""
    seed(session)
    failed = session.query(OutboxMessage).filter_by(status="failed").one()
    token = csrf_from(admin_client.get("/outbox?status=failed").text)
    admin_client.post(f"/outbox/{failed.id}/resend", data={"csrf_token": token})
    session.expire_all()
    assert session.get(OutboxMessage, failed.id).status == "pending"
    assert session.query(AuditLog).filter_by(action="outbox.resend").count() == 1
    again = admin_client.post(
        f"/outbox/{failed.id}/resend", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Not re-sent" in again.text


def test_jobs_page_lists_and_retries_failed_jobs(app, admin_client, session):
    """A failed RQ job shows with its error and Retry puts it back on its queue."""
    from rq import SimpleWorker

    from hub.queue import queues

    queue = queues["default"]
    job = queue.enqueue("builtins.divmod", 1, 0)
    SimpleWorker([queue], connection=queues.redis).work(burst=True)
    page = admin_client.get("/jobs").text
    assert job.id in page and "ZeroDivisionError" in page
    token = csrf_from(page)
    admin_client.post(f"/jobs/failed/default/{job.id}/retry", data={"csrf_token": token})
    assert job.id in queue.job_ids
    assert session.query(AuditLog).filter_by(action="job.retry").count() == 1


def test_integration_form_keeps_secrets_write_only(admin_client, session):
    """A saved secret is never sent back to the browser; a blank secret keeps it; bad values
    are refused with the field named; every save is audited."""
    from flask import current_app

    from hub import settings as store

    secret = "sk_test_uiSecret0123456789"
    form = admin_client.get("/integrations/stripe").text
    assert 'type="password" name="api_key"' in form
    token = csrf_from(form)
    saved = admin_client.post(
        "/integrations/stripe",
        data={"csrf_token": token, "api_key": secret, "api_base": "https://api.stripe.com"},
    )
    assert saved.status_code == 302
    page = admin_client.get("/integrations/stripe").text
    assert secret not in page and "stored (leave blank to keep)" in page
    admin_client.post(
        "/integrations/stripe",
        data={"csrf_token": token, "api_key": "", "api_base": "http://127.0.0.1:9"},
    )
    spec = store.get_spec("stripe")
    values = store.effective(session, spec, current_app.config["CSHUB"])
    assert values["api_key"] == secret and values["api_base"] == "http://127.0.0.1:9"
    bad = admin_client.post(
        "/integrations/stripe", data={"csrf_token": token, "api_key": "not-a-key"}
    )
    assert bad.status_code == 422 and "api_key" in bad.text and "not-a-key" not in bad.text
    assert session.query(AuditLog).filter_by(action="integration.update").count() == 2


def test_connector_created_configured_and_checked_in_the_ui(admin_client, session, httpserver_url):
    """An admin creates an http_json connector (secret write-only), edits it keeping the
    secret, and tests the connection against a local JSON endpoint."""
    from hub.models import ConnectorConfig

    form = admin_client.get("/integrations/connectors/new?type=http_json").text
    token = csrf_from(form)
    created = admin_client.post(
        "/integrations/connectors/new",
        data={
            "csrf_token": token,
            "type": "http_json",
            "name": "Rig feed",
            "schedule_minutes": "30",
            "url": httpserver_url,
            "allow_private_network": "on",
            "auth_value": "Bearer s3cret-value",
            "metrics": "[]",
        },
    )
    assert created.status_code == 302, created.text
    row = session.query(ConnectorConfig).one()
    assert row.secrets == {"auth_value": "Bearer s3cret-value"}
    assert "auth_value" not in row.settings and row.schedule_minutes == 30
    page = admin_client.get(f"/integrations/connectors/{row.id}").text
    assert "s3cret-value" not in page
    admin_client.post(
        f"/integrations/connectors/{row.id}",
        data={
            "csrf_token": token,
            "name": "Rig feed 2",
            "schedule_minutes": "15",
            "url": httpserver_url,
            "allow_private_network": "on",
            "auth_value": "",
        },
    )
    session.expire_all()
    row = session.get(ConnectorConfig, row.id)
    assert row.name == "Rig feed 2" and row.secrets == {"auth_value": "Bearer s3cret-value"}
    checked = admin_client.post(
        f"/integrations/connectors/{row.id}/check", data={"csrf_token": token}
    )
    assert checked.status_code == 200 and "Connection OK" in checked.text
    bad = admin_client.post(
        "/integrations/connectors/new",
        data={"csrf_token": token, "type": "http_json", "name": "", "url": "ftp://x"},
    )
    assert bad.status_code == 422 and "name" in bad.text and "url" in bad.text


def test_dashboard_of_a_large_tenant_without_rollup_queues_it(admin_client, session, monkeypatch):
    """The dashboard never computes a large tenant's KPIs in the request: it queues the
    roll-up and says so (202)."""
    import importlib

    rollup_module = importlib.import_module("hub.metrics.rollups")
    from hub.queue import queues

    seed_accounts = 3
    from hub.models import Account

    session.add_all(Account(name=f"a{i}") for i in range(seed_accounts))
    session.commit()
    monkeypatch.setattr(rollup_module, "LIVE_MAX_ACCOUNTS", 1)
    resp = admin_client.get("/")
    assert resp.status_code == 202 and "being rolled up" in resp.text
    assert queues["low"].count == 1
    assert admin_client.get("/kpis").status_code == 202
