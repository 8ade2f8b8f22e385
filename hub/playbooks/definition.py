"""A validated playbook, compiled for the engine: steps flattened into nodes with pointers.

Main steps come first (node ``i`` continues at ``i + 1``); a step's escalation path follows
as extra nodes. When a step's goal is not met in time the engine jumps to its first
escalation node; when an escalation's goal is met the journey resumes after the escalated
step; when the last escalation's goal is not met, the enrolment ends ``escalated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hub.playbooks.conditions import ALWAYS, Condition
from hub.playbooks.facts import Needs
from hub.playbooks.guards import Reentry
from hub.playbooks.triggers import TriggerType

ACTIONS = ["send", "task", "wait", "branch", "set", "enrol", "exit"]
KINDS = (
    "onboarding",
    "intervention",
    "churn_prevention",
    "win_back",
    "adoption",
    "expansion",
    "renewal",
    "billing",
    "custom",
)


@dataclass(frozen=True)
class Goal:
    condition: Condition
    within: timedelta
    exit_when_met: bool = True


@dataclass(frozen=True)
class Node:
    index: int
    key: str
    action: str
    params: dict[str, Any]
    when: Condition = ALWAYS
    goal: Goal | None = None
    next: int | None = None  # where to go after this node (None: the end)
    escalation: int | None = None  # first escalation node, for a step with a goal
    escalates: str | None = None  # for an escalation node: the step it escalates
    resume: int | None = None  # for an escalation node: where to go when its goal is met
    last_escalation: bool = False
    continue_when_exhausted: bool = False  # the escalated step's goal says on_exhausted: continue
    target: float | None = None  # the step's target success rate (for comparison only)


@dataclass(frozen=True)
class Playbook:
    key: str
    name: str
    kind: str
    description: str
    enabled: bool
    mode: str  # live or dry_run
    priority: int
    audience: Condition
    trigger_name: str
    trigger: TriggerType
    trigger_params: Any
    reentry: Reentry
    goal: Goal | None
    exit_when: Condition | None
    targets: dict[str, Any]
    success_metrics: list[dict[str, Any]]
    nodes: tuple[Node, ...]
    needs: Needs
    version: int = 0  # 0: the shipped default; n: the admin's n-th saved version
    source: str = ""
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def dry_run(self) -> bool:
        return self.mode == "dry_run"

    def node(self, key: str) -> Node | None:
        return next((n for n in self.nodes if n.key == key), None)

    def enrolment_targets(self) -> set[str]:
        """Playbooks this one enrols accounts into (for cycle checks)."""
        return {n.params["playbook"] for n in self.nodes if n.action == "enrol"}
