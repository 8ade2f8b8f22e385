"""Advancing one enrolment through its playbook's steps, as far as it can go at ``now``.

An enrolment's ``context`` holds its position: ``step`` (node key), ``phase`` (``enter``,
``goal``: waiting for the step's goal, ``wait``, ``final``: steps done, waiting for the
playbook's goal window), ``started`` and ``deadline``. Each call runs nodes until one has to
wait; every node visited records a ``StepOutcome`` once: ``done``, ``skipped``, ``goal_met``,
``not_met`` or ``escalated``. The enrolment ends ``goal_met``, ``not_met`` or ``escalated``.

Step executors live in ``STEP_EXECUTORS`` (action name -> function); another capability adds
an action with ``schema.register_action`` plus an executor here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.playbooks.definition import Node, Playbook
from hub.playbooks.facts import AccountFacts, EvalContext

if TYPE_CHECKING:
    from hub.models import JourneyEnrolment
    from hub.playbooks.engine import Run

MAX_NODES_PER_RUN = 100
END = "end"  # an executor's answer: the journey's steps are over


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Journey:
    """One enrolment being advanced within a run."""

    def __init__(self, run: Run, pb: Playbook, enrolment: JourneyEnrolment, f: AccountFacts):
        self.run, self.pb, self.e, self.f = run, pb, enrolment, f
        self.now = run.now
        self.state: dict[str, Any] = dict(enrolment.context or {})

    # -- helpers ---------------------------------------------------------------------------
    def ctx(self) -> EvalContext:
        return EvalContext(
            now=self.now,
            enrolled_at=self.e.enrolled_at,
            step_started_at=parse_iso(self.state.get("started")),
            trigger=self.state.get("trigger"),
        )

    @property
    def anchor(self) -> datetime:
        return parse_iso(self.state.get("anchor")) or self.e.enrolled_at

    def outcome(self, node: Node, outcome: str, **detail: Any) -> None:
        self.run.step_outcome(self.e, node, outcome, detail)

    def goto(self, index: int | None) -> Node | None:
        if index is None:
            return None
        node = self.pb.nodes[index]
        self.state.update(step=node.key, phase="enter", started=iso(self.now), deadline=None)
        self.e.current_step = index
        return node

    def finish(self, outcome: str | None, status: str = "completed", **detail: Any) -> None:
        self.e.status = status
        self.e.outcome = outcome
        self.e.completed_at = self.now
        self.e.next_run_at = None
        self.state.update(phase="done", deadline=None, **detail)
        self.run.finished(self.e, self.pb)

    def save(self) -> None:
        self.e.context = dict(self.state)

    # -- the loop --------------------------------------------------------------------------
    def advance(self) -> None:
        try:
            self._advance()
        finally:
            self.save()

    def _advance(self) -> None:
        if self.pb.exit_when is not None and self.pb.exit_when(self.f, self.ctx()):
            self.finish("not_met", status="exited", exit_reason="exit_when")
            return
        goal = self.pb.goal
        goal_met = goal is not None and goal.condition(
            self.f,
            EvalContext(
                self.now, enrolled_at=self.e.enrolled_at, trigger=self.state.get("trigger")
            ),
        )
        if goal_met and not self.state.get("goal_met_at"):
            self.state["goal_met_at"] = iso(self.now)
        node = self.pb.node(self.state.get("step", "")) if self.state.get("step") else None
        if self.state.get("phase") not in ("final", "done") and node is None:
            node = self.goto(0) if not self.state.get("step") else None
            if node is None:  # the step was removed by an edit
                self.finish("not_met", status="exited", exit_reason="step_removed")
                return
        if goal_met and goal.exit_when_met:
            if node is not None and self.state.get("phase") == "goal":
                self.outcome(node, "goal_met")
            self.finish("goal_met")
            return
        for _ in range(MAX_NODES_PER_RUN):
            phase = self.state.get("phase")
            if phase == "final" or node is None or node == END:
                self._final()
                return
            if phase == "enter":
                node = self._enter(node)
            elif phase == "goal":
                node = self._goal(node)
            elif phase == "wait":
                node = self._wait(node)
            else:
                return
            if node is False:  # blocked
                return
        raise RuntimeError(f"playbook {self.pb.key}: too many steps in one run")

    def _final(self) -> None:
        goal = self.pb.goal
        escalated = bool(self.state.get("escalated"))
        if goal is None:
            self.finish("escalated" if escalated else None)
            return
        if self.state.get("goal_met_at"):
            self.finish("goal_met")
            return
        deadline = self.e.enrolled_at + goal.within
        if self.now >= deadline:
            self.finish("escalated" if escalated else "not_met")
            return
        self.state.update(phase="final", deadline=iso(deadline))
        self.e.next_run_at = deadline

    def _enter(self, node: Node) -> Node | bool | None:
        if not node.when(self.f, self.ctx()):
            self.outcome(node, "skipped")
            return self._after(node, met=True)
        executor = STEP_EXECUTORS[node.action]
        result = executor(self, node)
        if result is not None:  # the executor moved the journey itself
            return result
        if node.goal is not None:
            deadline = self.now + node.goal.within
            self.state.update(phase="goal", deadline=iso(deadline))
            self.e.next_run_at = deadline
            return self._goal(node)
        self.outcome(node, "done")
        return self._after(node, met=True)

    def _after(self, node: Node, met: bool) -> Node | None:
        """Where to go after ``node`` (an escalation resumes the journey once its goal is met)."""
        if node.escalates is not None and met:
            return self.goto(node.resume)
        return self.goto(node.next)

    def _goal(self, node: Node) -> Node | bool | None:
        if node.goal.condition(self.f, self.ctx()):
            self.outcome(node, "goal_met")
            return self._after(node, met=True)
        deadline = parse_iso(self.state.get("deadline"))
        if deadline is not None and self.now < deadline:
            self.e.next_run_at = deadline
            return False
        if node.escalation is not None:
            self.outcome(node, "escalated")
            self.state["escalated"] = True
            return self.goto(node.escalation)
        self.outcome(node, "not_met")
        if node.escalates is not None and node.last_escalation:
            if node.continue_when_exhausted:
                return self.goto(node.resume)
            self.finish("escalated", escalation_exhausted=node.key)
            return False
        return self.goto(node.next)

    def _wait(self, node: Node) -> Node | bool | None:
        params = node.params
        deadline = parse_iso(self.state.get("deadline"))
        until = params.get("until")
        if until is not None and until(self.f, self.ctx()):
            self.outcome(node, "done", waited_for="condition")
            return self._after(node, met=True)
        if deadline is not None and self.now < deadline:
            self.e.next_run_at = deadline
            return False
        if until is not None and params.get("on_timeout") == "exit":
            self.outcome(node, "not_met", waited_for="timeout")
            self.finish("not_met", status="exited", exit_reason=f"{node.key} timed out")
            return False
        self.outcome(node, "done")
        return self._after(node, met=True)


# -- step executors --------------------------------------------------------------------------
Executor = Callable[[Journey, Node], "Node | bool | str | None"]


def _send(j: Journey, node: Node) -> None:
    j.run.send(j, node)


def _task(j: Journey, node: Node) -> None:
    j.run.task(j, node)


def _wait_enter(j: Journey, node: Node):
    params = node.params
    if params.get("for") is not None:
        deadline = j.now + params["for"]
    elif params.get("until_day") is not None:
        deadline = j.anchor + timedelta(days=params["until_day"])
    else:
        deadline = j.now + params["timeout"]
    j.state.update(phase="wait", deadline=iso(deadline))
    j.e.next_run_at = deadline
    moved = j._wait(node)
    return END if moved is None else moved


def _branch(j: Journey, node: Node):
    taken = node.params["if"](j.f, j.ctx())
    target = node.params["then_index"] if taken else node.params["else_index"]
    j.outcome(node, "done", branch="then" if taken else "else")
    if target is None:
        j.state.update(step=None, phase="final")
        return END
    return j.goto(target)


def _set(j: Journey, node: Node) -> None:
    j.run.set_field(j, node.params["field"], node.params["value"])


def _enrol(j: Journey, node: Node) -> None:
    j.run.enrol_from_step(j, node.params["playbook"])


def _exit(j: Journey, node: Node):
    j.outcome(node, "done")
    j.finish(node.params.get("outcome", "not_met"), status="exited", exit_reason=node.key)
    return False


STEP_EXECUTORS: dict[str, Executor] = {
    "send": _send,
    "task": _task,
    "wait": _wait_enter,
    "branch": _branch,
    "set": _set,
    "enrol": _enrol,
    "exit": _exit,
}
