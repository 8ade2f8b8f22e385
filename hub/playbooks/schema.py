"""Playbook YAML: parsed, validated with marshmallow, compiled, with errors that point to lines.

``parse_playbook(text)`` answers a ``definition.Playbook`` or raises ``PlaybookInvalid`` whose
``errors`` are ``{"path": "steps[2].send.channel", "line": 14, "column": 9, "message": ...}``
(lines and columns 1-based, from PyYAML's node marks; an error about a missing key points to
the mapping that lacks it). Duplicate keys, which YAML loaders silently collapse, are errors.
"""

from __future__ import annotations

import re
from functools import lru_cache

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from hub.playbooks import compiler
from hub.playbooks.conditions import ConditionError, compile_condition
from hub.playbooks.definition import ACTIONS, KINDS, Playbook
from hub.playbooks.durations import parse_duration
from hub.playbooks.triggers import parse_trigger
from hub.playbooks.yaml_marks import (  # noqa: F401  (re-exported)
    DATA_KEYS,
    Mark,
    Path,
    PlaybookInvalid,
    flatten,
    located_errors,
    parse_document,
)

KEY = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
RECIPIENTS = re.compile(r"^(primary|all|owner|rep|account_channel|role:[a-z_]+)$")


# -- fields ----------------------------------------------------------------------------------
class Duration(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class ConditionField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return compile_condition(value)
        except ConditionError as exc:
            raise ValidationError(exc.errors) from exc


class TriggerField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            kind, params = parse_trigger(value)
        except ValueError as exc:
            if isinstance(value, dict) and len(value) == 1:
                raise ValidationError({next(iter(value)): [str(exc)]}) from exc
            raise ValidationError(str(exc)) from exc
        return kind, params


def _channel_names() -> list[str]:
    from integrations.channels import channel_types

    return sorted(channel_types())


class Strict(Schema):
    class Meta:
        unknown = RAISE


class SendSchema(Strict):
    channel = fields.Str(required=True, validate=lambda v: _one_of_channels(v))
    to = fields.Str(load_default="primary", validate=validate.Regexp(RECIPIENTS))
    template = fields.Str()
    subject = fields.Str()
    text = fields.Str()
    params = fields.Dict(keys=fields.Str(), load_default=dict)
    url = fields.Url(require_tld=False)
    event_type = fields.Str()

    @validates_schema
    def _content(self, data, **_kwargs):
        if not data.get("template") and not data.get("text"):
            raise ValidationError("give a template or a text", "template")


def _one_of_channels(value: str) -> None:
    known = _channel_names()
    if value not in known:
        raise ValidationError(f"unknown channel {value!r}; known: {', '.join(known)}")


class TaskSchema(Strict):
    kind = fields.Str(load_default="task", validate=validate.OneOf(["task", "case"]))
    subject = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    description = fields.Str(load_default="")
    priority = fields.Str(load_default="Normal", validate=validate.OneOf(["High", "Normal", "Low"]))
    due_in = Duration(load_default=None)
    owner = fields.Str(load_default="account_owner")
    type = fields.Str()
    notify = fields.List(fields.Str(validate=validate.OneOf(["slack"])), load_default=list)


class WaitSchema(Strict):
    for_ = Duration(data_key="for")
    until_day = fields.Int(validate=validate.Range(min=0))
    until = ConditionField()
    timeout = Duration()
    on_timeout = fields.Str(load_default="continue", validate=validate.OneOf(["continue", "exit"]))

    @validates_schema
    def _one(self, data, **_kwargs):
        given = [k for k in ("for_", "until_day", "until") if k in data]
        if len(given) != 1:
            raise ValidationError("give exactly one of for, until_day, until")
        if "until" in data and "timeout" not in data:
            raise ValidationError("waiting until a condition needs a timeout", "timeout")


class BranchSchema(Strict):
    if_ = ConditionField(data_key="if", required=True)
    then = fields.Str(required=True)
    else_ = fields.Str(data_key="else")


SETTABLE = re.compile(r"^(lifecycle_stage|cohorts|attributes\.[A-Za-z_][A-Za-z0-9_]*)$")


class SetSchema(Strict):
    field = fields.Str(
        required=True,
        validate=validate.Regexp(
            SETTABLE, error="settable: lifecycle_stage, cohorts (adds one), attributes.<name>"
        ),
    )
    value = fields.Raw(required=True, allow_none=True)


class EnrolSchema(Strict):
    playbook = fields.Str(required=True, validate=validate.Regexp(KEY))


class ExitSchema(Strict):
    outcome = fields.Str(load_default="not_met", validate=validate.OneOf(["goal_met", "not_met"]))


class StepGoalSchema(Strict):
    when = ConditionField(required=True)
    within = Duration(required=True)
    on_exhausted = fields.Str(
        load_default="end", validate=validate.OneOf(["end", "continue"])
    )  # when the goal and every escalation miss: end the enrolment, or go on


ACTION_SCHEMAS: dict[str, type[Schema]] = {
    "send": SendSchema,
    "task": TaskSchema,
    "wait": WaitSchema,
    "branch": BranchSchema,
    "set": SetSchema,
    "enrol": EnrolSchema,
    "exit": ExitSchema,
}
"""Step actions and their parameter schemas; ``register_action`` adds one (with its executor
registered in ``hub.playbooks.journey.STEP_EXECUTORS``)."""


def register_action(name: str, schema: type[Schema]) -> None:
    if not KEY.match(name):
        raise ValueError(f"bad action name {name!r}")
    ACTION_SCHEMAS[name] = schema
    if name not in ACTIONS:
        ACTIONS.append(name)
    _step_schemas.cache_clear()


class _StepBase(Strict):
    key = fields.Str(required=True, validate=validate.Regexp(KEY))
    when = ConditionField()
    goal = fields.Nested(StepGoalSchema)
    target = fields.Float(validate=validate.Range(0, 1))
    note = fields.Str()

    @validates_schema
    def _one_action(self, data, **_kwargs):
        given = [a for a in ACTION_SCHEMAS if a in data]
        if len(given) != 1:
            raise ValidationError(f"a step has exactly one action of: {', '.join(ACTION_SCHEMAS)}")


class _MainStepBase(_StepBase):
    @validates_schema
    def _escalation_needs_goal(self, data, **_kwargs):
        if "escalation" in data and "goal" not in data:
            raise ValidationError("an escalation path needs the step's goal", "goal")


@lru_cache(maxsize=1)
def _step_schemas() -> tuple[type[Schema], type[Schema]]:
    actions = {name: fields.Nested(schema) for name, schema in ACTION_SCHEMAS.items()}
    escalation = type("EscalationStepSchema", (_StepBase,), dict(actions))
    main = type(
        "StepSchema",
        (_MainStepBase,),
        {
            **{name: fields.Nested(schema) for name, schema in ACTION_SCHEMAS.items()},
            "escalation": fields.List(fields.Nested(escalation), validate=validate.Length(min=1)),
        },
    )
    return main, escalation


class StepsField(fields.List):
    """The steps list, validated with the step schema of the actions registered now."""

    def __init__(self, **kwargs):
        super().__init__(fields.Raw(), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("steps is a list of steps")
        main, _ = _step_schemas()
        schema = main()
        errors, out = {}, []
        for i, item in enumerate(value):
            try:
                out.append(schema.load(item))
            except ValidationError as exc:
                errors[i] = exc.messages
        if errors:
            raise ValidationError(errors)
        return out


class ReentrySchema(Strict):
    allowed = fields.Bool(load_default=False)
    max = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_days = fields.Int(load_default=30, validate=validate.Range(min=1))


class PlaybookGoalSchema(Strict):
    when = ConditionField(required=True)
    within = Duration(required=True)
    exit_when_met = fields.Bool(load_default=True)


class TargetsSchema(Strict):
    success_rate = fields.Float(validate=validate.Range(0, 1))
    note = fields.Str()


class SuccessMetricSchema(Strict):
    name = fields.Str(required=True)
    description = fields.Str()
    target = fields.Raw()


class PlaybookSchema(Strict):
    key = fields.Str(required=True, validate=validate.Regexp(KEY, error="lower_snake_case key"))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    kind = fields.Str(load_default="custom", validate=validate.OneOf(KINDS))
    description = fields.Str(load_default="")
    enabled = fields.Bool(load_default=True)
    mode = fields.Str(load_default="live", validate=validate.OneOf(["live", "dry_run"]))
    priority = fields.Int(load_default=100)
    audience = ConditionField()
    trigger = TriggerField(required=True)
    reentry = fields.Nested(ReentrySchema)
    goal = fields.Nested(PlaybookGoalSchema)
    exit_when = ConditionField()
    targets = fields.Nested(TargetsSchema)
    success_metrics = fields.List(fields.Nested(SuccessMetricSchema), load_default=list)
    steps = StepsField(required=True, validate=validate.Length(min=1))


def parse_playbook(text: str, version: int = 0, expected_key: str | None = None) -> Playbook:
    """Validate and compile one playbook document; PlaybookInvalid with line numbers if not."""
    data, marks, dupes = parse_document(text)
    if not isinstance(data, dict):
        raise PlaybookInvalid(
            [{"path": "(document)", "line": 1, "column": 1, "message": "a playbook is a mapping"}]
        )
    try:
        loaded = PlaybookSchema().load(data)
    except ValidationError as exc:
        raise PlaybookInvalid(dupes + located_errors(flatten(exc.messages, ()), marks)) from exc
    problems = list(dupes)
    if expected_key is not None and loaded["key"] != expected_key:
        problems.append(("key", f"the key must stay {expected_key!r}"))
    try:
        nodes, step_problems = compiler.nodes(loaded["steps"])
    except ValidationError as exc:  # pragma: no cover - schema already checked
        raise PlaybookInvalid(located_errors(flatten(exc.messages, ()), marks)) from exc
    problems.extend(step_problems)
    errors = [p for p in problems if isinstance(p, dict)]
    errors += located_errors(
        [
            ((p[0],) if isinstance(p[0], str) else p[0], p[1])
            for p in problems
            if isinstance(p, tuple)
        ],
        marks,
    )
    if errors:
        raise PlaybookInvalid(errors)
    return compiler.playbook(loaded, nodes, version, text, data)
