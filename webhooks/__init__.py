"""Inbound webhook receivers: verify, store in the inbox, enqueue, answer 2xx. Nothing else."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the receivers under /webhooks/<source>."""
