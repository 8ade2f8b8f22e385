"""The referral programme's editable document: schema and registration."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.growth.documents import DocumentKind, current, register

REFERRER_KINDS = ("account_credit", "cash_bonus", "premium_months")
REFERRED_KINDS = ("first_year_discount", "premium_trial", "account_credit")
MONEY_KINDS = ("account_credit", "cash_bonus")


class _Strict(Schema):
    class Meta:
        unknown = "raise"


class RewardSchema(_Strict):
    kind = fields.Str(required=True)
    enabled = fields.Bool(load_default=True)
    amount = fields.Float(validate=validate.Range(min=0, max=100_000))
    currency = fields.Str(load_default="USD", validate=validate.Length(equal=3))
    months = fields.Int(validate=validate.Range(min=1, max=36))
    percent_off = fields.Float(validate=validate.Range(min=1, max=100))

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        kind = data["kind"]
        if kind in MONEY_KINDS and not data.get("amount"):
            raise ValidationError({"amount": [f"{kind} needs an amount above 0"]})
        if kind in ("premium_months", "premium_trial") and not data.get("months"):
            raise ValidationError({"months": [f"{kind} needs months"]})
        if kind == "first_year_discount" and not data.get("percent_off"):
            raise ValidationError({"percent_off": ["first_year_discount needs percent_off"]})


class RewardsSchema(_Strict):
    referrer = fields.List(fields.Nested(RewardSchema), load_default=list)
    referred = fields.List(fields.Nested(RewardSchema), load_default=list)

    @validates_schema
    def _kinds(self, data: dict[str, Any], **_: Any) -> None:
        for role, allowed in (("referrer", REFERRER_KINDS), ("referred", REFERRED_KINDS)):
            for item in data.get(role, []):
                if item["kind"] not in allowed:
                    raise ValidationError(
                        {role: [f"{item['kind']} is not a {role} reward; use one of {allowed}"]}
                    )


class TriggerSchema(_Strict):
    enabled = fields.Bool(load_default=True)
    min_ratio = fields.Float(validate=validate.Range(min=0))
    min_score = fields.Int(validate=validate.Range(min=0, max=10))
    lookback_days = fields.Int(validate=validate.Range(min=1, max=365))
    top_fraction = fields.Float(validate=validate.Range(min=0.001, max=1))
    days = fields.Int(validate=validate.Range(min=1, max=365))
    min_accounts = fields.Int(validate=validate.Range(min=1))


class InviteSchema(_Strict):
    window_days = fields.Int(load_default=90, validate=validate.Range(min=1, max=3650))
    channels = fields.List(
        fields.Str(validate=validate.OneOf(("email", "inapp", "sms", "slack"))),
        load_default=lambda: ["email"],
    )
    triggers = fields.Dict(keys=fields.Str(), values=fields.Nested(TriggerSchema))
    subject = fields.Str(required=True)
    body = fields.Str(required=True)


class CapsSchema(_Strict):
    period_days = fields.Int(load_default=365, validate=validate.Range(min=1))
    rewards_per_referrer = fields.Int(load_default=10, validate=validate.Range(min=0))
    amount_per_referrer = fields.Float(load_default=1000, validate=validate.Range(min=0))


class FraudSchema(_Strict):
    check_same_account = fields.Bool(load_default=True)
    check_email_domain = fields.Bool(load_default=True)
    check_payment_fingerprint = fields.Bool(load_default=True)
    free_email_domains = fields.List(fields.Str(), load_default=list)
    caps = fields.Nested(CapsSchema, load_default=lambda: CapsSchema().load({}))
    reverse_on = fields.List(
        fields.Str(validate=validate.OneOf(("refund", "chargeback"))),
        load_default=lambda: ["refund", "chargeback"],
    )


class ReferralConfigSchema(_Strict):
    landing_url = fields.Url(required=True, require_tld=False)
    cookie_days = fields.Int(load_default=30, validate=validate.Range(min=1, max=400))
    attribution_window_days = fields.Int(load_default=60, validate=validate.Range(min=1))
    conversion_window_days = fields.Int(load_default=120, validate=validate.Range(min=1))
    hold_days = fields.Int(load_default=30, validate=validate.Range(min=0, max=365))
    click_rate_limit_per_minute = fields.Int(load_default=30, validate=validate.Range(min=1))
    invite = fields.Nested(InviteSchema, required=True)
    rewards = fields.Nested(RewardsSchema, required=True)
    fraud = fields.Nested(FraudSchema, load_default=lambda: FraudSchema().load({}))
    product_name = fields.Str(load_default="cshub")

    @validates_schema
    def _templates(self, data: dict[str, Any], **_: Any) -> None:
        from jinja2 import TemplateSyntaxError

        from hub.growth.render import check

        invite = data.get("invite") or {}
        for name in ("subject", "body"):
            try:
                check(invite.get(name, ""))
            except TemplateSyntaxError as exc:
                raise ValidationError({"invite": {name: [f"line {exc.lineno}: {exc}"]}}) from exc


KIND = register(DocumentKind("referrals", "hub.referrals", ReferralConfigSchema))


def settings(session) -> dict[str, Any]:
    """The referral programme document in force."""
    return current(session, "referrals")[1]
