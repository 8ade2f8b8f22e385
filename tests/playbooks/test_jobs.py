"""The playbook jobs: chunked evaluation (inline or fanned out over RQ) and dispatch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from hub.models import JourneyEnrolment
from tests.playbooks.conftest import T0, add_account, add_contact, at

ROOT = Path(__file__).resolve().parents[2]


def test_evaluate_all_inline_with_as_of(app, session):
    """as_of moves time: the journey starts on the signup day, chunk by chunk."""
    from jobs.playbooks import evaluate_all

    for _ in range(3):
        add_contact(session, add_account(session, "crypto_trader", signup=T0.date()))
    session.commit()
    report = evaluate_all(at(0).isoformat(), chunk_size=2, fan_out=False)
    assert report["accounts"] == 3 and report["chunks"] == 2
    assert report["enrolled"] == {"onboarding_crypto_trader": 3}
    assert len(session.scalars(select(JourneyEnrolment)).all()) == 3


def test_evaluate_all_fans_out_one_job_per_chunk(app, session):
    """With several chunks, one RQ job per id range is enqueued (deterministic ids)."""
    from hub.queue import queues
    from jobs.base import set_app
    from jobs.playbooks import evaluate_all

    set_app(app)
    for _ in range(5):
        add_account(session)
    session.commit()
    answer = evaluate_all(at(0).isoformat(), chunk_size=2)
    assert answer["chunks"] == 3 and answer["fanned_out"]
    ids = queues["default"].job_ids
    assert len(ids) == 3 and all(i.startswith("playbooks-20260302T120000-") for i in ids)


def test_dispatch_job_reports_what_it_did(app, session):
    """dispatch_due delivers due in-app messages and reports counts."""
    from jobs.playbooks import dispatch_due, evaluate_all

    add_contact(session, add_account(session, "individual_miner", signup=T0.date()))
    session.commit()
    evaluate_all(at(0).isoformat(), fan_out=False)
    report = dispatch_due(at(0).isoformat())
    assert report["sent"] == 1  # the in-app checklist; e-mail waits for SMTP settings
    assert report["waiting_for_channel"] == 1


def test_worker_preload_imports_the_jobs_and_parses_the_playbooks_before_forking():
    """In a fresh interpreter: nothing of it is loaded before ``preload``, all of it after."""
    probe = (
        "import json, sys\n"
        "from jobs.base import PRELOAD, preload\n"
        "from hub import scoring_config\n"
        "from hub.playbooks import loader\n"
        "before = [m for m in PRELOAD if m in sys.modules], loader._parse_cached.cache_info()\n"
        "preload()\n"
        "after = [m for m in PRELOAD if m not in sys.modules], loader._parse_cached.cache_info()\n"
        "assert scoring_config._defaults.cache_info().currsize == 1\n"
        "print(json.dumps([before[0], before[1].currsize, after[0], after[1].currsize,"
        " len(loader.default_sources())]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded_before, parsed_before, missing_after, parsed_after, defaults = json.loads(out.stdout)
    assert "hub.scoring_service" not in loaded_before and parsed_before == 0
    assert missing_after == [] and parsed_after == defaults > 10
