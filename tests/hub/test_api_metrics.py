"""GET /api/metrics, the refresh that answers 202, and the KPI settings endpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hub import metrics
from hub.auth import create_token
from hub.models import Account, AuditLog


def _seed(session) -> None:
    today = datetime.now(UTC).date()
    session.add(Account(name="a", segment="mining_farm", signup_date=today - timedelta(days=40)))
    session.commit()


def test_metrics_live_without_rollup_then_from_rollup(app, client, admin_headers, session):
    """Without a roll-up the figures are computed live; once rolled up they are read."""
    _seed(session)
    live = client.get("/api/metrics", headers=admin_headers)
    assert live.status_code == 200, live.json
    assert live.json["source"] == "live"
    nps = live.json["kpis"]["nps"]
    assert nps["value"] is None and nps["status"] == "no_data" and nps["definition"]
    assert live.json["kpis"]["retention_30d"]["value"] == 1.0
    today = datetime.now(UTC).date()
    metrics.rollup(session, today)
    session.commit()
    rolled = client.get("/api/metrics?segment=mining_farm", headers=admin_headers)
    assert rolled.json["source"] == "rollup" and rolled.json["segment"] == "mining_farm"
    assert rolled.json["kpis"]["retention_30d"]["trend"][-1]["day"] == today.isoformat()
    start = (today - timedelta(days=29)).isoformat()
    same = client.get(f"/api/metrics?from={start}&to={today}", headers=admin_headers)
    assert same.json["source"] == "rollup"
    other = client.get(f"/api/metrics?from={today}&to={today}", headers=admin_headers)
    assert other.json["source"] == "live" and other.json["period"]["from"] == today.isoformat()


def test_metrics_rejects_bad_arguments(client, admin_headers):
    """Bad dates, reversed or half-given ranges and unknown segments are 422."""
    for query in (
        "from=2026-02-01&to=2026-01-01",
        "from=2026-01-01",
        "from=yesterday&to=2026-01-01",
        "segment=whales",
        "from=2020-01-01&to=2026-01-01",
    ):
        resp = client.get(f"/api/metrics?{query}", headers=admin_headers)
        assert resp.status_code == 422, query
        assert resp.json["error"]["code"] == "validation_error"


def test_refresh_enqueues_the_rollup_and_answers_202(app, client, admin_headers):
    """An explicit refresh queues the roll-up job for the day and does not wait for it."""
    from hub.queue import queues

    resp = client.post("/api/metrics/refresh", headers=admin_headers, json={"day": "2026-01-30"})
    assert resp.status_code == 202, resp.json
    assert resp.json["job_id"] == "kpi-rollup-2026-01-30"
    jobs = queues["low"].jobs
    assert [j.func_name for j in jobs] == ["jobs.kpis.rollup_daily"]
    assert jobs[0].args == ("2026-01-30",)
    future = (date.today() + timedelta(days=5)).isoformat()
    assert (
        client.post("/api/metrics/refresh", headers=admin_headers, json={"day": future}).status_code
        == 422
    )


def test_rollup_job_stores_rows(app, session):
    """jobs.kpis.rollup_daily stores the day's figures per segment."""
    from jobs.kpis import rollup_daily

    _seed(session)
    with app.app_context():
        summary = rollup_daily("2026-01-30")
    assert summary["day"] == "2026-01-30" and "all" in summary["segments"]
    assert metrics.latest(session, None).day == date(2026, 1, 30)


def test_settings_put_validates_audits_and_reps_cannot(client, admin_headers, session):
    """Admins change targets (audited); bad values are 422; a rep token is read-only."""
    resp = client.put(
        "/api/metrics/settings",
        headers=admin_headers,
        json={"targets": {"nps": 55}, "roi": {"campaign_costs": 10}},
    )
    assert resp.status_code == 200, resp.json
    assert resp.json["targets"]["nps"] == 55 and resp.json["roi"]["campaign_costs"] == 10
    assert session.query(AuditLog).filter_by(action="kpi.settings.update").count() == 2
    bad = client.put("/api/metrics/settings", headers=admin_headers, json={"targets": {"x": 1}})
    assert bad.status_code == 422 and "targets.x" in bad.json["error"]["fields"]
    assert client.get("/api/metrics", headers=admin_headers).json["kpis"]["nps"]["target"] == 55
    _row, rep = create_token(session, "rep", "rep")
    session.commit()
    rep_headers = {"Authorization": f"Bearer {rep}"}
    assert client.get("/api/metrics/settings", headers=rep_headers).status_code == 200
    denied = client.put("/api/metrics/settings", headers=rep_headers, json={"targets": {}})
    assert denied.status_code == 403


def test_large_tenant_without_rollup_gets_202_and_a_queued_rollup(
    client, admin_headers, session, monkeypatch
):
    """Past the live-computation limit, no roll-up means 202 and a queued job, not a slow
    request; once the roll-up exists it is read."""
    import importlib

    rollup_module = importlib.import_module("hub.metrics.rollups")
    from hub.queue import queues

    _seed(session)
    monkeypatch.setattr(rollup_module, "LIVE_MAX_ACCOUNTS", 0)
    resp = client.get("/api/metrics", headers=admin_headers)
    assert resp.status_code == 202 and resp.json["status"] == "queued"
    assert [j.id for j in queues["low"].jobs] == [resp.json["job_id"]]
    metrics.rollup(session, datetime.now(UTC).date())
    session.commit()
    assert client.get("/api/metrics", headers=admin_headers).json["source"] == "rollup"
