"""Launcher for the fault test: ``cshub worker`` with a probe hook on every stripe and events
type. The probe sleeps (so a job can be killed mid-way) and writes one audit row per
application inside the processing transaction: a double application would leave two."""

from __future__ import annotations

import sys
import time

from hub.ingest import hooks
from hub.models import AuditLog

DELAY = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0


def probe(ctx: hooks.HookContext) -> None:
    time.sleep(DELAY)
    target = f"{ctx.source}:{ctx.external_id}"
    ctx.session.add(AuditLog(actor="probe", action="applied", target=target))


if __name__ == "__main__":
    for source in ("stripe", "events"):
        hooks.subscribe(source, "*", probe)
    from hub.cli import main

    sys.argv = ["cshub", "worker"]
    main()
