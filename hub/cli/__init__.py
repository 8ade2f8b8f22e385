"""The ``cshub`` command line. Each command group lives in its own module here.

Commands that report take ``--json`` and then print exactly one JSON document on stdout.
"""

from __future__ import annotations

from importlib import import_module

import click

from hub.cli.common import cli

COMMAND_MODULES = [
    "hub.cli.core",  # init, up, worker, scheduler, doctor, token
    "hub.cli.demo",  # demo
    "hub.cli.users",  # user create|list|disable|password
    "hub.cli.kpis",  # kpis rollup
    "hub.cli.mixpanel",  # sync mixpanel
    "hub.cli.salesforce",  # sync salesforce, salesforce setup
    "hub.cli.connectors",  # connectors run
    "hub.cli.scoring",  # score, churn train|evaluate|predict
]
"""A capability that adds commands appends its module here; each registers on ``cli``."""


def main() -> None:
    for name in COMMAND_MODULES:
        import_module(name)
    cli(prog_name="cshub")


__all__ = ["cli", "click", "main"]
