"""gunicorn settings of the ``web`` process (``gunicorn -c python:hub.gunicorn_conf``).

Threads, so that two hundred webhook senders on keep-alive connections are served by a few
processes and deliveries arriving together share one commit and one job
(``webhooks.writer``): twelve per worker measured best on a 2-core machine (8 left the hub
paying more commits and enqueues per delivery; 16 added GIL contention and p99 latency).

The threads of a worker take turns on one GIL, so the worker is tuned for that:

- A thread waiting for the GIL behind a busy one waits up to the switch interval; Python's
  default of 5 ms adds whole intervals to the latency of short requests, so 0.5 ms.
- Linux lets a woken thread preempt the thread that woke it. A group-commit leader holds the
  GIL while it wakes the deliveries of its batch, so each woken thread would run only to
  block on the GIL. ``SCHED_BATCH`` (Linux, no privilege needed) keeps the waker running.
- Once the app is loaded its objects are frozen out of the collector's reach, so that full
  collections (pauses that land in the p99) only walk what requests allocate.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import Any

worker_class = "gthread"
threads = 12
keepalive = 30
backlog = 2048
SWITCH_INTERVAL_S = 0.0005


def post_fork(server: Any, worker: Any) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is not None:  # before the worker starts its threads, which inherit it
        try:
            os.sched_setscheduler(0, batch, os.sched_param(0))
        except OSError as exc:
            logging.getLogger(__name__).warning("SCHED_BATCH not set: %s", exc)


def post_worker_init(worker: Any) -> None:
    gc.freeze()
