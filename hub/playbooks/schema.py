"""Playbook YAML: parsed, validated with marshmallow, compiled, with errors that point to lines.

``parse_playbook(text)`` answers a ``definition.Playbook`` or raises ``PlaybookInvalid`` whose
``errors`` are ``{"path": "steps[2].send.channel", "line": 14, "column": 9, "message": ...}``
(lines and columns 1-based, from PyYAML's node marks; an error about a missing key points to
the mapping that lacks it). Duplicate keys, which YAML loaders silently collapse, are errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from hub.playbooks.conditions import ConditionError, compile_condition
from hub.playbooks.definition import ACTIONS, KINDS, Goal, Node, Playbook
from hub.playbooks.durations import parse_duration
from hub.playbooks.facts import Needs
from hub.playbooks.guards import Reentry
from hub.playbooks.triggers import parse_trigger

KEY = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
RECIPIENTS = re.compile(r"^(primary|all|owner|rep|account_channel|role:[a-z_]+)$")


class PlaybookInvalid(ValueError):
    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        first = errors[0] if errors else {}
        where = f" (line {first['line']})" if first.get("line") else ""
        super().__init__(f"{first.get('path', '')}: {first.get('message', 'invalid')}{where}")


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


# -- YAML with marks -------------------------------------------------------------------------
Path = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    line: int
    column: int


def _walk(node: yaml.Node, path: Path, marks: dict[Path, Mark], dupes: list[dict]) -> None:
    marks.setdefault(path, Mark(node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            here = Mark(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                dupes.append(
                    {
                        "path": _dotted((*path, key)),
                        "line": here.line,
                        "column": here.column,
                        "message": f"duplicate key {key!r}",
                    }
                )
            seen.add(key)
            marks[(*path, key)] = here
            _walk(value_node, (*path, key), marks, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), marks, dupes)


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def _flatten(messages: Any, path: Path) -> list[tuple[Path, str]]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            sub = path if key == "_schema" else (*path, key)
            out.extend(_flatten(value, sub))
        return out
    if isinstance(messages, list):
        out = []
        for item in messages:
            out.extend(_flatten(item, path) if isinstance(item, dict | list) else [(path, item)])
        return out
    return [(path, str(messages))]


def _locate(path: Path, marks: dict[Path, Mark], data_keys: dict[str, str]) -> Mark | None:
    candidates = [tuple(data_keys.get(p, p) if isinstance(p, str) else p for p in path), path]
    for candidate in candidates:
        for end in range(len(candidate), -1, -1):
            mark = marks.get(candidate[:end])
            if mark is not None:
                return mark
    return None


DATA_KEYS = {"for_": "for", "if_": "if", "else_": "else"}


def _errors(pairs: list[tuple[Path, str]], marks: dict[Path, Mark]) -> list[dict[str, Any]]:
    out = []
    for path, message in pairs:
        shown = tuple(DATA_KEYS.get(p, p) if isinstance(p, str) else p for p in path)
        mark = _locate(shown, marks, DATA_KEYS)
        out.append(
            {
                "path": _dotted(shown),
                "line": mark.line if mark else None,
                "column": mark.column if mark else None,
                "message": message,
            }
        )
    return sorted(out, key=lambda e: (e["line"] or 0, e["column"] or 0, e["path"]))


def parse_document(text: str) -> tuple[Any, dict[Path, Mark], list[dict[str, Any]]]:
    """(data, marks, duplicate-key errors) from YAML text; PlaybookInvalid on bad syntax."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PlaybookInvalid(
            [
                {
                    "path": "(document)",
                    "line": mark.line + 1 if mark else None,
                    "column": mark.column + 1 if mark else None,
                    "message": f"YAML syntax: {exc.problem or exc}",
                }
            ]
        ) from exc
    except yaml.YAMLError as exc:
        raise PlaybookInvalid([{"path": "(document)", "message": f"YAML: {exc}"}]) from exc
    marks: dict[Path, Mark] = {}
    dupes: list[dict[str, Any]] = []
    if node is not None:
        _walk(node, (), marks, dupes)
    return data, marks, dupes


# -- compile ---------------------------------------------------------------------------------
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
        raise PlaybookInvalid(dupes + _errors(_flatten(exc.messages, ()), marks)) from exc
    problems = list(dupes)
    if expected_key is not None and loaded["key"] != expected_key:
        problems.append(("key", f"the key must stay {expected_key!r}"))
    try:
        nodes, step_problems = _nodes(loaded["steps"])
    except ValidationError as exc:  # pragma: no cover - schema already checked
        raise PlaybookInvalid(_errors(_flatten(exc.messages, ()), marks)) from exc
    problems.extend(step_problems)
    errors = [p for p in problems if isinstance(p, dict)]
    errors += _errors(
        [
            ((p[0],) if isinstance(p[0], str) else p[0], p[1])
            for p in problems
            if isinstance(p, tuple)
        ],
        marks,
    )
    if errors:
        raise PlaybookInvalid(errors)
    return _playbook(loaded, nodes, version, text, data)


def _nodes(steps: list[dict[str, Any]]) -> tuple[tuple[Node, ...], list[tuple[Path, str]]]:
    problems: list[tuple[Path, str]] = []
    keys: dict[str, Path] = {}
    for i, step in enumerate(steps):
        for path, key in [((("steps", i, "key")), step["key"])] + [
            (("steps", i, "escalation", j, "key"), e["key"])
            for j, e in enumerate(step.get("escalation", []))
        ]:
            if key in keys:
                problems.append((path, f"step key {key!r} is used twice"))
            keys[key] = path
    main_index = {step["key"]: i for i, step in enumerate(steps)}
    n_main = len(steps)
    nodes: list[Node] = []
    extra: list[tuple[int, dict[str, Any]]] = []  # (parent index, escalation step)
    escalation_start: dict[int, int] = {}
    cursor = n_main
    for i, step in enumerate(steps):
        if step.get("escalation"):
            escalation_start[i] = cursor
            for escalation in step["escalation"]:
                extra.append((i, escalation))
                cursor += 1
    for i, step in enumerate(steps):
        params = _params(step)
        if "branch" in step:
            for field_name in ("then", "else_"):
                target = step["branch"].get(field_name)
                if target is None or target == "end":
                    continue
                if target not in main_index:
                    problems.append(
                        (("steps", i, "branch", field_name), f"no step named {target!r}")
                    )
                elif main_index[target] <= i:
                    problems.append(
                        (("steps", i, "branch", field_name), "a branch may only jump forward")
                    )
        nodes.append(
            Node(
                index=i,
                key=step["key"],
                action=_action(step),
                params=params,
                when=step.get("when") or compile_condition(None),
                goal=_goal(step.get("goal"), exit_when_met=False),
                next=i + 1 if i + 1 < n_main else None,
                escalation=escalation_start.get(i),
                target=step.get("target"),
            )
        )
    for offset, (parent, step) in enumerate(extra):
        index = n_main + offset
        last = offset + 1 == len(extra) or extra[offset + 1][0] != parent
        if "branch" in step:
            problems.append((("steps", parent, "escalation"), "an escalation cannot branch"))
        nodes.append(
            Node(
                index=index,
                key=step["key"],
                action=_action(step),
                params=_params(step),
                when=step.get("when") or compile_condition(None),
                goal=_goal(step.get("goal"), exit_when_met=False),
                next=None if last else index + 1,
                escalates=steps[parent]["key"],
                resume=parent + 1 if parent + 1 < n_main else None,
                last_escalation=last,
                continue_when_exhausted=steps[parent]["goal"].get("on_exhausted") == "continue",
                target=step.get("target"),
            )
        )
    resolved = []
    for node in nodes:
        if node.action == "branch":
            params = dict(node.params)
            for name in ("then", "else"):
                target = params.get(name)
                params[f"{name}_index"] = (
                    None
                    if target == "end"
                    else main_index.get(target, node.next)
                    if target
                    else node.next
                )
            node = Node(**{**node.__dict__, "params": params})
        resolved.append(node)
    return tuple(resolved), problems


def _action(step: dict[str, Any]) -> str:
    return next(a for a in ACTIONS if a in step)


def _params(step: dict[str, Any]) -> dict[str, Any]:
    action = _action(step)
    params = dict(step[action])
    renamed = {DATA_KEYS.get(k, k): v for k, v in params.items()}
    return renamed


def _goal(goal: dict[str, Any] | None, exit_when_met: bool) -> Goal | None:
    if not goal:
        return None
    return Goal(goal["when"], goal["within"], goal.get("exit_when_met", exit_when_met))


def _playbook(loaded, nodes, version, text, data) -> Playbook:
    trigger_kind, trigger_params = loaded["trigger"]
    needs = Needs()
    needs.merge(trigger_kind.needs(trigger_params))
    conditions = [loaded.get("audience"), loaded.get("exit_when")]
    goal = _goal(loaded.get("goal"), exit_when_met=True)
    if goal:
        conditions.append(goal.condition)
    for node in nodes:
        conditions.append(node.when)
        if node.goal:
            conditions.append(node.goal.condition)
        for key in ("until", "if"):
            if node.params.get(key) is not None:
                conditions.append(node.params[key])
    for condition in conditions:
        if condition is not None:
            needs.merge(condition.needs)
    reentry = loaded.get("reentry") or {}
    return Playbook(
        key=loaded["key"],
        name=loaded["name"],
        kind=loaded["kind"],
        description=loaded["description"],
        enabled=loaded["enabled"],
        mode=loaded["mode"],
        priority=loaded["priority"],
        audience=loaded.get("audience") or compile_condition(None),
        trigger_name=next(iter(data["trigger"])),
        trigger=trigger_kind,
        trigger_params=trigger_params,
        reentry=Reentry(
            allowed=reentry.get("allowed", False),
            max=reentry.get("max", 1),
            per_days=reentry.get("per_days", 30),
        ),
        goal=goal,
        exit_when=loaded.get("exit_when"),
        targets=dict(loaded.get("targets") or {}),
        success_metrics=list(loaded.get("success_metrics") or []),
        nodes=nodes,
        needs=needs,
        version=version,
        source=text,
        document=data,
    )
