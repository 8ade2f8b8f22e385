"""Accounts: a searchable, sortable, filterable list with score and risk (paged in SQL), and
one account's page."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from hub.db import db
from hub.metrics.health import RISK_SEGMENTS, TIERS
from hub.models import Account, ChurnPrediction, HealthScore
from hub.models.account import LIFECYCLE_STAGES, SEGMENTS
from hub.ui import charts
from hub.ui.account_detail import detail
from hub.ui.blueprint import bp
from hub.ui.common import paginate

SORTS = ("name", "segment", "score", "risk", "mrr", "signup", "renewal", "owner")


def _newest(model, timestamp, ids=None, as_of=None):
    """Subquery: the id of each account's newest ``model`` row (rows are only ever inserted,
    so the highest id is the newest), optionally among ``ids`` only."""
    stmt = select(func.max(model.id).label("id"))
    if ids is not None:
        stmt = stmt.where(model.account_id.in_(ids))
    if as_of is not None:
        stmt = stmt.where(timestamp <= as_of)
    return stmt.group_by(model.account_id)


def _filtered(stmt, args):
    if q := (args.get("q") or "").strip():
        like = f"%{q}%"
        stmt = stmt.where(
            or_(Account.name.ilike(like), Account.domain.ilike(like), Account.salesforce_id == q)
        )
    if (segment := args.get("segment")) in SEGMENTS:
        stmt = stmt.where(Account.segment == segment)
    if (stage := args.get("stage")) in LIFECYCLE_STAGES:
        stmt = stmt.where(Account.lifecycle_stage == stage)
    if owner := (args.get("owner") or "").strip():
        stmt = stmt.where(Account.owner_email == owner)
    return stmt.where(Account.deleted_at.is_(None))


def _order(sort: str, hs=None, cp=None):
    descending = sort.startswith("-")
    column = {
        "name": Account.name,
        "segment": Account.segment,
        "score": hs.score if hs is not None else None,
        "risk": cp.probability if cp is not None else None,
        "mrr": Account.mrr,
        "signup": Account.signup_date,
        "renewal": Account.renewal_date,
        "owner": Account.owner_email,
    }.get(sort.lstrip("-"))
    column = Account.name if column is None else column
    return (column.desc() if descending else column.asc()).nulls_last(), Account.id


def _newest_id(model):
    """Correlated: the id of the account's newest ``model`` row (one index seek each)."""
    return (
        select(func.max(model.id))
        .where(model.account_id == Account.id)
        .correlate(Account)
        .scalar_subquery()
    )


def listing_query(args):
    """Accounts joined to their newest score and/or risk, only as far as the filter or the
    sort needs them (the page's standing is looked up afterwards for the rows shown)."""
    sort = args.get("sort") or "name"
    tier, risk = args.get("tier"), args.get("risk")
    stmt = _filtered(select(Account), args)
    hs = cp = None
    if tier in (*TIERS, "unscored") or sort.lstrip("-") == "score":
        hs = aliased(HealthScore)
        stmt = stmt.outerjoin(hs, hs.id == _newest_id(HealthScore))
        if tier in TIERS:
            stmt = stmt.where(hs.tier == tier)
        elif tier == "unscored":
            stmt = stmt.where(hs.id.is_(None))
    if risk in RISK_SEGMENTS or sort.lstrip("-") == "risk":
        cp = aliased(ChurnPrediction)
        stmt = stmt.outerjoin(cp, cp.id == _newest_id(ChurnPrediction))
        if risk in RISK_SEGMENTS:
            stmt = stmt.where(cp.segment == risk)
    return stmt.order_by(*_order(sort, hs, cp))


def with_standing(accounts: list[Account]) -> list[tuple]:
    """Each account of a page with its newest score and risk (a few indexed lookups)."""
    ids = [a.id for a in accounts]
    scores = {
        row.account_id: row
        for row in db.session.scalars(
            select(HealthScore).where(HealthScore.id.in_(_newest(HealthScore, None, ids)))
        )
    }
    risks = {
        row.account_id: row
        for row in db.session.scalars(
            select(ChurnPrediction).where(
                ChurnPrediction.id.in_(_newest(ChurnPrediction, None, ids))
            )
        )
    }
    out = []
    for a in accounts:
        s, r = scores.get(a.id), risks.get(a.id)
        out.append(
            (
                a,
                s.score if s else None,
                s.tier if s else None,
                r.probability if r else None,
                r.segment if r else None,
            )
        )
    return out


@bp.get("/accounts")
def accounts():
    args = request.args
    page = paginate(listing_query(args))
    page.items = with_standing(page.items)  # the standing of the 50 shown, by primary key
    owners = db.session.scalars(
        select(Account.owner_email)
        .where(Account.owner_email.is_not(None))
        .distinct()
        .order_by(Account.owner_email)
        .limit(200)
    ).all()
    return render_template(
        "accounts.html",
        page=page,
        args=args,
        sort=args.get("sort") or "name",
        segments=SEGMENTS,
        stages=LIFECYCLE_STAGES,
        tiers=TIERS,
        risks=RISK_SEGMENTS,
        owners=owners,
        sorts=SORTS,
    )


@bp.get("/accounts/<int:account_id>")
def account(account_id: int):
    row = db.session.get(Account, account_id)
    if row is None or row.deleted_at is not None:
        abort(404, f"Account {account_id} does not exist.")
    data = detail(db.session, row)
    return render_template(
        "account.html",
        account=row,
        d=data,
        score_chart=charts.score_history(data["score_points"]),
        risk_chart=charts.series(
            [p[0] for p in data["risk_points"]],
            {"churn probability %": [round(p[1] * 100, 1) for p in data["risk_points"]]},
            {"min": 0, "max": 100, "suffix": "%"},
        ),
    )
