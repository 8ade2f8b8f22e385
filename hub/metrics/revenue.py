"""Revenue KPIs: gross and net revenue retention from subscription history, and the
upsell, cross-sell and referral rates."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from hub.metrics.base import ALL, AccountRow, Figure, Scope, Split
from hub.models import Account, Offer, Referral, ReferralCode, SubscriptionChange

REFERRAL_COUNTED = ("signed_up", "converted", "rewarded")


def revenue_retention(scope: Scope) -> tuple[dict[str, Figure], dict[str, Figure], dict]:
    """GRR and NRR for the MRR accounts had at the period start.

    NRR = (start MRR + expansion - contraction - churn) / start MRR; GRR leaves out expansion.
    Accounts that started paying during the period are not in the base.
    """
    period = scope.period
    stmt = scope.where_segment(
        select(
            SubscriptionChange.account_id,
            Account.segment,
            SubscriptionChange.occurred_at,
            SubscriptionChange.kind,
            SubscriptionChange.mrr_before,
            SubscriptionChange.mrr_after,
        )
        .join(Account, Account.id == SubscriptionChange.account_id)
        .where(SubscriptionChange.occurred_at < period.end_at)
        .order_by(SubscriptionChange.account_id, SubscriptionChange.occurred_at)
    )
    start_mrr: dict[int, float] = {}
    segment_of: dict[int, str] = {}
    moves: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
    for account_id, segment, occurred_at, kind, before, after in scope.session.execute(stmt):
        segment_of[account_id] = segment
        if occurred_at < period.start_at:
            start_mrr[account_id] = float(after or 0)
        else:
            moves[account_id].append((kind, float(before or 0), float(after or 0)))
    parts: dict[str, dict[str, float]] = defaultdict(
        lambda: {"start": 0.0, "expansion": 0.0, "contraction": 0.0, "churn": 0.0, "accounts": 0}
    )
    for account_id, start in start_mrr.items():
        if start <= 0:
            continue
        p = parts[segment_of[account_id]]
        p["start"] += start
        p["accounts"] += 1
        for kind, before, after in moves.get(account_id, []):
            delta = after - before
            if kind == "churn" or (after == 0 and before > 0):
                p["churn"] += before - after
            elif delta > 0:
                p["expansion"] += delta
            elif delta < 0:
                p["contraction"] += -delta
    grr, nrr, detail = {}, {}, {}
    for key in scope.keys:
        chosen = list(parts.values()) if key == ALL else [parts[key]] if key in parts else []
        total = {
            name: sum(p[name] for p in chosen)
            for name in ("start", "expansion", "contraction", "churn", "accounts")
        }
        detail[key] = {k: round(v, 2) for k, v in total.items()}
        start = total["start"]
        if start <= 0:
            grr[key] = nrr[key] = Figure(None, 0)
            continue
        kept = start - total["contraction"] - total["churn"]
        n = int(total["accounts"])
        grr[key] = Figure(kept / start, n)
        nrr[key] = Figure((kept + total["expansion"]) / start, n)
    return grr, nrr, detail


def offer_rates(scope: Scope) -> tuple[dict[str, Figure], dict[str, Figure]]:
    """Of upsell (cross-sell) offers made in the period, the share won."""
    period = scope.period
    won = set(scope.definitions.get("offer_won_statuses") or ["accepted", "converted", "won"])
    stmt = scope.where_segment(
        select(Account.segment, Offer.kind, Offer.status)
        .join(Account, Account.id == Offer.account_id)
        .where(Offer.offered_at >= period.start_at, Offer.offered_at < period.end_at)
        .where(Offer.kind.in_(("upsell", "cross_sell")))
    )
    splits = {"upsell": Split(), "cross_sell": Split()}
    for segment, kind, status in scope.session.execute(stmt):
        splits[kind].add(segment, 1.0 if status in won else 0.0)
    return splits["upsell"].result(scope.keys), splits["cross_sell"].result(scope.keys)


def referral_rate(scope: Scope, accounts: list[AccountRow]) -> dict[str, Figure]:
    """Of accounts that were customers at the period end, the share that referred someone who
    signed up during the period."""
    period = scope.period
    stmt = scope.where_segment(
        select(ReferralCode.account_id)
        .distinct()
        .join(Referral, Referral.code_id == ReferralCode.id)
        .join(Account, Account.id == ReferralCode.account_id)
        .where(Referral.status.in_(REFERRAL_COUNTED))
        .where(Referral.signed_up_at >= period.start_at, Referral.signed_up_at < period.end_at)
    )
    referrers = set(scope.session.scalars(stmt))
    split = Split()
    for a in accounts:
        if a.signup is None or a.signup > period.end:
            continue
        if a.churned is not None and a.churned <= period.end:
            continue
        split.add(a.segment, 1.0 if a.id in referrers else 0.0)
    return split.result(scope.keys)
