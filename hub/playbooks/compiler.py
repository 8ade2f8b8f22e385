"""Compile validated playbook data into ``definition.Playbook``: steps flattened into nodes
(escalation paths appended after the main steps, branch targets resolved and checked to
jump forward only) and the facts every condition needs merged into ``Playbook.needs``.
"""

from __future__ import annotations

from typing import Any

from hub.playbooks.conditions import compile_condition
from hub.playbooks.definition import ACTIONS, Goal, Node, Playbook
from hub.playbooks.facts import Needs
from hub.playbooks.guards import Reentry
from hub.playbooks.yaml_marks import DATA_KEYS, Path


def nodes(steps: list[dict[str, Any]]) -> tuple[tuple[Node, ...], list[tuple[Path, str]]]:
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


def playbook(loaded, nodes, version, text, data) -> Playbook:
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
