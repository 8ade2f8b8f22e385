"""Every KPI the hub reports: its name, unit, direction and definition (shown on the page)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str  # rate (0..1 shown as %), score, days, months, count, ratio, multiple
    group: str
    definition: str
    higher_is_better: bool = True


CATALOGUE: tuple[Kpi, ...] = (
    Kpi(
        "retention_30d",
        "30-day retention",
        "rate",
        "Retention",
        "Of accounts whose 30th day after signup fell in the period, the share that were "
        "still customers (not churned) on that day. Signup cohorts are grouped by month in "
        "the cohort table.",
    ),
    Kpi(
        "retention_90d",
        "90-day retention",
        "rate",
        "Retention",
        "As 30-day retention, at the 90th day after signup.",
    ),
    Kpi(
        "retention_365d",
        "365-day retention",
        "rate",
        "Retention",
        "As 30-day retention, at the 365th day after signup.",
    ),
    Kpi(
        "logo_churn_rate",
        "Logo churn (30 days)",
        "rate",
        "Retention",
        "Accounts that churned during the period divided by the accounts that were customers "
        "at its start, scaled to 30 days.",
        higher_is_better=False,
    ),
    Kpi(
        "customer_lifespan_months",
        "Average customer lifespan",
        "months",
        "Retention",
        "1 / the 30-day logo churn rate, in months: how long an average customer stays at "
        "the current churn rate. No data when no account churned in the period.",
    ),
    Kpi(
        "dau",
        "DAU",
        "count",
        "Engagement",
        "Daily active users, averaged over the last 30 days of the period: distinct users "
        "(Mixpanel distinct id, else contact) with an activity event on a day.",
    ),
    Kpi(
        "mau",
        "MAU",
        "count",
        "Engagement",
        "Distinct users with an activity event in the last 30 days of the period.",
    ),
    Kpi(
        "dau_mau",
        "DAU/MAU (stickiness)",
        "rate",
        "Engagement",
        "Average DAU divided by MAU over the same 30 days.",
    ),
    Kpi(
        "feature_adoption",
        "Feature adoption",
        "rate",
        "Engagement",
        "For each account active in the period, the share of its segment's key features it "
        "used in the period; averaged over those accounts.",
    ),
    Kpi(
        "nps",
        "NPS",
        "score",
        "Voice of the customer",
        "Net Promoter Score of the answers given in the period: % of 9-10 answers minus % of "
        "0-6 answers (-100..100).",
    ),
    Kpi(
        "csat",
        "CSAT",
        "rate",
        "Voice of the customer",
        "Share of CSAT answers (1-5) in the period that were 4 or 5.",
    ),
    Kpi(
        "ces",
        "CES",
        "score",
        "Voice of the customer",
        "Customer Effort Score: mean answer (1-7, 7 = very easy) to CES surveys in the period.",
    ),
    Kpi(
        "support_satisfaction",
        "Support satisfaction",
        "rate",
        "Voice of the customer",
        "CSAT of the surveys sent after support interactions (definition key starting with "
        "'support').",
    ),
    Kpi(
        "gross_revenue_retention",
        "Gross revenue retention",
        "rate",
        "Revenue",
        "(start MRR - contraction - churn) / start MRR, over the accounts paying at the "
        "period start, from the subscription history (Stripe).",
    ),
    Kpi(
        "net_revenue_retention",
        "Net revenue retention",
        "rate",
        "Revenue",
        "NRR = (start MRR + expansion - contraction - churn) / start MRR, over the accounts "
        "paying at the period start; new accounts are not in the base.",
    ),
    Kpi(
        "upsell_rate",
        "Upsell rate",
        "rate",
        "Growth",
        "Of upsell offers made in the period, the share won (accepted or converted).",
    ),
    Kpi(
        "cross_sell_rate",
        "Cross-sell rate",
        "rate",
        "Growth",
        "Of cross-sell offers made in the period, the share won.",
    ),
    Kpi(
        "referral_rate",
        "Referral rate",
        "rate",
        "Growth",
        "Of accounts that were customers at the period end, the share that referred someone "
        "who signed up during the period.",
    ),
    Kpi(
        "time_to_first_value_days",
        "Time to first value",
        "days",
        "Onboarding",
        "Median days from signup to the segment's first-value milestone, over accounts that "
        "reached it during the period.",
        higher_is_better=False,
    ),
    Kpi(
        "onboarding_completion",
        "Onboarding completion",
        "rate",
        "Onboarding",
        "Of accounts whose onboarding window (30 days after signup by default) ended in the "
        "period, the share that reached every onboarding milestone of their segment in it.",
    ),
    Kpi(
        "intervention_success",
        "Intervention success",
        "rate",
        "Programs",
        "Of intervention journeys (playbooks of an intervention kind) that ended in the "
        "period, the share whose goal was met. Dry runs are excluded.",
    ),
    Kpi(
        "playbook_success",
        "Playbook success",
        "rate",
        "Programs",
        "Of all journeys that ended in the period, the share whose goal was met.",
    ),
    Kpi(
        "churn_model_auc",
        "Churn model ROC AUC",
        "ratio",
        "Programs",
        "ROC AUC of the active churn model on its held-out test set, as recorded when it was "
        "trained. The history table shows every trained model.",
    ),
    Kpi(
        "roi",
        "ROI estimate",
        "multiple",
        "Programs",
        "(revenue saved - cost) / cost. Revenue saved = MRR of accounts saved by an "
        "intervention in the period (goal met, still a customer) x months of revenue per "
        "save, unless a figure is entered; cost = saves x cost per save + campaign costs. "
        "The inputs are shown beside the figure and an admin can change them.",
    ),
)

BY_KEY = {kpi.key: kpi for kpi in CATALOGUE}
GROUPS = tuple(dict.fromkeys(kpi.group for kpi in CATALOGUE))
DASHBOARD_TILES = (
    "net_revenue_retention",
    "retention_90d",
    "logo_churn_rate",
    "dau_mau",
    "feature_adoption",
    "nps",
    "time_to_first_value_days",
    "onboarding_completion",
    "intervention_success",
    "roi",
)
