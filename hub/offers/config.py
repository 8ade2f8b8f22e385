"""The offers document: schema (validated on every edit) and registration."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.growth.documents import DocumentKind, current, register
from hub.growth.render import check
from hub.models.account import SEGMENTS

KINDS = ("upsell", "cross_sell", "service")
CLOSE_BY = ("self_serve", "task", "opportunity")
CHANNELS = ("email", "inapp", "sms", "slack")


class _Strict(Schema):
    class Meta:
        unknown = "raise"


class TargetSchema(_Strict):
    plan = fields.Str()  # a plan name, "next" (the plan ladder) or "premium"
    product = fields.Str()
    interval = fields.Str(validate=validate.OneOf(("month", "year")))
    trial = fields.Bool()


class RuleSchema(_Strict):
    key = fields.Str(required=True, validate=validate.Regexp(r"^[a-z0-9_]{2,64}$"))
    kind = fields.Str(required=True, validate=validate.OneOf(KINDS))
    signal = fields.Str(required=True)
    enabled = fields.Bool(load_default=True)
    params = fields.Dict(keys=fields.Str(), load_default=dict)
    segments = fields.List(fields.Str(validate=validate.OneOf(SEGMENTS)), load_default=list)
    plans = fields.List(fields.Str(), load_default=list)  # only these plans (empty: any)
    target = fields.Nested(TargetSchema, load_default=dict)
    window_days = fields.Int(validate=validate.Range(min=1, max=3650))
    window = fields.Str(validate=validate.OneOf(("days", "renewal", "once")), load_default="days")
    close_by = fields.Str(load_default="self_serve", validate=validate.OneOf(CLOSE_BY))
    channels = fields.List(fields.Str(validate=validate.OneOf(CHANNELS)))
    subject = fields.Str(required=True)
    body = fields.Str(required=True)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        from hub.offers.rules import SIGNALS

        if data["signal"] not in SIGNALS:
            raise ValidationError({"signal": [f"unknown signal; use one of {sorted(SIGNALS)}"]})
        missing = SIGNALS[data["signal"]].required - set(data.get("params") or {})
        if missing:
            raise ValidationError({"params": [f"missing {sorted(missing)}"]})
        if data.get("window", "days") == "days" and not data.get("window_days"):
            raise ValidationError({"window_days": ["needed when window is 'days'"]})
        for name in ("subject", "body"):
            try:
                check(data[name])
            except TemplateSyntaxError as exc:
                raise ValidationError({name: [f"line {exc.lineno}: {exc.message}"]}) from exc


class RoiSchema(_Strict):
    metric = fields.Str(required=True)
    target_attribute = fields.Str(required=True)


class OffersConfigSchema(_Strict):
    expire_after_days = fields.Int(load_default=30, validate=validate.Range(min=1, max=365))
    max_new_offers_per_account = fields.Int(load_default=1, validate=validate.Range(min=1))
    checkout_url = fields.Str(required=True)
    channels = fields.List(
        fields.Str(validate=validate.OneOf(CHANNELS)), load_default=lambda: ["email"]
    )
    metrics = fields.Dict(keys=fields.Str(), values=fields.Str(), load_default=dict)
    roi = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(SEGMENTS)),
        values=fields.Nested(RoiSchema),
        load_default=dict,
    )
    plan_limits = fields.Dict(
        keys=fields.Str(), values=fields.Dict(keys=fields.Str(), values=fields.Float())
    )
    plan_ladder = fields.Dict(keys=fields.Str(), values=fields.Str(), load_default=dict)
    premium_plans = fields.List(fields.Str(), load_default=list)
    stripe_products = fields.Dict(keys=fields.Str(), values=fields.Str(), load_default=dict)
    rules = fields.List(fields.Nested(RuleSchema), required=True)

    @validates_schema
    def _unique(self, data: dict[str, Any], **_: Any) -> None:
        keys = [rule["key"] for rule in data.get("rules", [])]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValidationError({"rules": [f"duplicate rule keys: {dupes}"]})


KIND = register(DocumentKind("offers", "hub.offers", OffersConfigSchema))


def settings(session) -> tuple[int, dict[str, Any]]:
    """(version, offers document) in force."""
    return current(session, "offers")
