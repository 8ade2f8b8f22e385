"""Accounts: a searchable, sortable, filterable list with score and risk (paged in SQL), and
one account's page."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import and_, func, or_, select
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


def listing_query(args):
    """The accounts list as one SELECT: each live account with its newest score and risk."""
    newest_score = (
        select(HealthScore.account_id, func.max(HealthScore.computed_at).label("at"))
        .group_by(HealthScore.account_id)
        .subquery()
    )
    newest_risk = (
        select(ChurnPrediction.account_id, func.max(ChurnPrediction.predicted_at).label("at"))
        .group_by(ChurnPrediction.account_id)
        .subquery()
    )
    hs, cp = aliased(HealthScore), aliased(ChurnPrediction)
    stmt = (
        select(Account, hs.score, hs.tier, cp.probability, cp.segment.label("risk"))
        .outerjoin(newest_score, newest_score.c.account_id == Account.id)
        .outerjoin(hs, and_(hs.account_id == Account.id, hs.computed_at == newest_score.c.at))
        .outerjoin(newest_risk, newest_risk.c.account_id == Account.id)
        .outerjoin(cp, and_(cp.account_id == Account.id, cp.predicted_at == newest_risk.c.at))
        .where(Account.deleted_at.is_(None))
    )
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
    if (tier := args.get("tier")) in TIERS:
        stmt = stmt.where(hs.tier == tier)
    elif tier == "unscored":
        stmt = stmt.where(hs.id.is_(None))
    if (risk := args.get("risk")) in RISK_SEGMENTS:
        stmt = stmt.where(cp.segment == risk)
    sort = args.get("sort") or "name"
    descending = sort.startswith("-")
    column = {
        "name": Account.name,
        "segment": Account.segment,
        "score": hs.score,
        "risk": cp.probability,
        "mrr": Account.mrr,
        "signup": Account.signup_date,
        "renewal": Account.renewal_date,
        "owner": Account.owner_email,
    }.get(sort.lstrip("-"), Account.name)
    order = column.desc() if descending else column.asc()
    return stmt.order_by(order.nulls_last(), Account.id)


@bp.get("/accounts")
def accounts():
    args = request.args
    page = paginate(listing_query(args), scalars=False)
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
