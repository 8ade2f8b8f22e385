"""gunicorn settings of the ``web`` process (``gunicorn -c python:hub.gunicorn_conf``).

Threads, so that two hundred webhook senders on keep-alive connections are served by a few
processes and deliveries arriving together share one commit (``webhooks.writer``). A thread
waiting for the GIL behind a busy one waits up to the switch interval; Python's default of
5 ms adds whole intervals to the latency of short requests, so the web workers use 0.5 ms.
"""

from __future__ import annotations

import sys
from typing import Any

worker_class = "gthread"
threads = 8
keepalive = 30
backlog = 2048
SWITCH_INTERVAL_S = 0.0005


def post_fork(server: Any, worker: Any) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
