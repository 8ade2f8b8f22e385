"""The demo tenant is realistic and deterministic for a seed."""

from datetime import date

from sqlalchemy import func, select

from hub.db import make_engine
from hub.demo import generate
from hub.models import Account, Event, MetricSample


def _make(tmp_path, name: str, seed: int, days: int = 60):
    from tests.conftest import _create_schema

    url = f"sqlite:///{tmp_path / name}"
    _create_schema(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        summary = generate(conn, accounts=40, seed=seed, days=days, as_of=date(2026, 11, 1))
    return engine, summary


def test_same_seed_same_data(tmp_path):
    e1, s1 = _make(tmp_path, "a.db", 7)
    e2, s2 = _make(tmp_path, "b.db", 7)
    _, s3 = _make(tmp_path, "c.db", 8)
    assert s1 == s2
    assert s1.fingerprint != s3.fingerprint
    q = select(Event.source_event_id, Event.name).order_by(Event.source_event_id)
    with e1.connect() as c1, e2.connect() as c2:
        assert c1.execute(q).all() == c2.execute(q).all()


def test_every_segment_and_some_churn(tmp_path):
    engine, summary = _make(tmp_path, "a.db", 7)
    with engine.connect() as conn:
        segments = set(conn.scalars(select(Account.segment)))
        churned = conn.scalar(select(func.count()).where(Account.status == "churned"))
        metrics = set(conn.scalars(select(MetricSample.metric).distinct()))
    assert segments == {"individual_miner", "mining_farm", "crypto_trader", "institution"}
    assert churned == summary.churned > 0
    assert {"hashrate_ths", "efficiency_j_th", "uptime_pct", "portfolio_value_usd"} <= metrics


def test_churned_accounts_declined_before_leaving(tmp_path):
    """A churner's last 30 days before churn hold fewer sessions than the 30 days before."""
    engine, _ = _make(tmp_path, "a.db", 11, days=180)
    declined = total = 0
    with engine.connect() as conn:
        for account in conn.execute(select(Account).where(Account.churned_at.is_not(None))):
            end = account.churned_at
            from datetime import timedelta

            def sessions(lo, hi, account_id=account.id):
                return conn.scalar(
                    select(func.count()).where(
                        Event.account_id == account_id,
                        Event.name == "session_start",
                        Event.occurred_at >= lo,
                        Event.occurred_at < hi,
                    )
                )

            late = sessions(end - timedelta(days=30), end)
            early = sessions(end - timedelta(days=60), end - timedelta(days=30))
            if early:
                total += 1
                declined += late < early
    assert total > 0 and declined / total >= 0.7
