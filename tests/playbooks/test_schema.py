"""Playbook YAML validation: every error names its path and the line it is on."""

from __future__ import annotations

import pytest

from hub.playbooks import loader
from hub.playbooks.schema import PlaybookInvalid, parse_playbook
from integrations.channels import render

GOOD = """\
key: sample
name: Sample
trigger:
  nps_answer: {score: {lt: 6}}
steps:
  - key: first
    send: {channel: email, template: intervention_nps_detractor}
    goal:
      when: {nps_latest: {gte: 7}}
      within: 3d
    escalation:
      - key: second
        task: {subject: Call}
"""


def errors_of(text: str) -> list[dict]:
    with pytest.raises(PlaybookInvalid) as info:
        parse_playbook(text)
    return info.value.errors


def test_a_good_playbook_compiles_with_escalation_nodes():
    """Steps and escalation steps become nodes with resume pointers."""
    pb = parse_playbook(GOOD)
    assert [(n.key, n.action, n.escalation, n.escalates) for n in pb.nodes] == [
        ("first", "send", 1, None),
        ("second", "task", None, "first"),
    ]


@pytest.mark.parametrize(
    ("change", "path", "line"),
    [
        (("channel: email", "channel: fax"), "steps[0].send.channel", 7),
        (("within: 3d", "within: soon"), "steps[0].goal.within", 10),
        (("{lt: 6}", "{below: 6}"), "trigger.nps_answer", 4),
        (("{nps_latest: {gte: 7}}", "{nps_lates: 7}"), "steps[0].goal.when.nps_lates", 9),
        (("subject: Call", "subjet: Call"), "steps[0].escalation[0].task.subjet", 13),
        (("name: Sample\n", ""), "name", 1),
        (("key: first", "key: First!"), "steps[0].key", 6),
    ],
)
def test_errors_point_to_the_line(change, path, line):
    """Unknown channels, bad durations, unknown conditions and fields: path and line."""
    found = errors_of(GOOD.replace(*change))
    assert any(e["path"] == path and e["line"] == line for e in found), found


def test_duplicate_keys_are_errors_not_silently_merged():
    """YAML loaders keep the last duplicate; the validator reports it at its line."""
    text = GOOD.replace("name: Sample\n", "name: Sample\nname: Other\n")
    assert errors_of(text)[0] == {
        "path": "name",
        "line": 3,
        "column": 1,
        "message": "duplicate key 'name'",
    }


def test_yaml_syntax_error_has_a_line():
    """A broken flow mapping is a YAML syntax error on its line."""
    found = errors_of(GOOD.replace("{channel: email,", "{channel: email"))
    assert found[0]["path"] == "(document)" and found[0]["line"] in (7, 8)
    assert found[0]["message"].startswith("YAML syntax")


def test_branch_targets_must_exist_and_go_forward():
    """A branch to a missing step or backwards is refused at the branch's line."""
    text = """\
key: branchy
name: B
trigger: {manual: {}}
steps:
  - key: one
    send: {channel: inapp, text: hi}
  - key: two
    branch: {if: {tier: critical}, then: one, else: nowhere}
"""
    found = errors_of(text)
    assert {(e["path"], e["line"]) for e in found} == {
        ("steps[1].branch.then", 8),
        ("steps[1].branch.else", 8),
    }


def test_escalation_needs_a_goal_and_one_action_per_step():
    """An escalation path without a goal, or a step with two actions, is refused."""
    text = GOOD.replace("    goal:\n      when: {nps_latest: {gte: 7}}\n      within: 3d\n", "")
    assert any(e["path"] == "steps[0].goal" for e in errors_of(text))
    two = GOOD.replace(
        "        task: {subject: Call}", "        task: {subject: Call}\n        wait: {for: 1d}"
    )
    assert any("exactly one action" in e["message"] for e in errors_of(two))


def test_every_shipped_default_is_valid_and_its_templates_exist():
    """The defaults parse, and each template they name exists for its channel."""
    assert loader.validate_all() == []
    assert len(loader.default_sources()) >= 13
    for key, text in loader.default_sources().items():
        pb = parse_playbook(text)
        for node in pb.nodes:
            template = node.params.get("template") if node.action == "send" else None
            if template:
                channel = node.params["channel"]
                assert render.exists(channel, template), (key, node.key, channel, template)


def test_seed_content_is_in_the_defaults():
    """Onboarding per segment on days 0-14, four interventions, three risk segments, win-back."""
    live = {k: loader.parse(t) for k, t in loader.default_sources().items()}
    for segment in ("individual_miner", "mining_farm", "crypto_trader", "institution"):
        pb = live[f"onboarding_{segment}"]
        days = sorted({n.params["until_day"] for n in pb.nodes if "until_day" in n.params})
        assert days == [1, 3, 7, 14]
        assert pb.nodes[0].key.startswith("day0")
    interventions = [pb for pb in live.values() if pb.kind == "intervention"]
    assert len(interventions) == 4
    for pb in interventions:
        escalations = [n.key for n in pb.nodes if n.escalates]
        assert escalations == ["success_manager_call", "executive_involvement"], pb.key
    assert live["intervention_usage_decline"].targets["success_rate"] == 0.78
    assert {pb.key for pb in live.values() if pb.kind == "churn_prevention"} == {
        "churn_prevention_high",
        "churn_prevention_medium",
        "churn_prevention_low",
    }
    assert live["win_back_recent"].trigger_params == (0, 30)
    assert live["win_back_lapsed"].trigger_params == (31, 90)
