"""The root command group and helpers shared by every command module."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson


@click.group()
@click.version_option(package_name="cshub")
def cli() -> None:
    """cshub: customer-success automation hub."""


@cli.group()
def sync() -> None:
    """Pull from and push to an outside system (salesforce, mixpanel)."""


def make_app():
    """The app for a CLI command (environment configuration)."""
    from hub import create_app

    return create_app()


def emit(doc: Any, as_json: bool, human: str | None = None) -> None:
    """Print one JSON document (``--json``) or a human line."""
    if as_json:
        sys.stdout.write(
            orjson.dumps(
                doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
            ).decode()
            + "\n"
        )
    else:
        click.echo(human if human is not None else doc)


json_option = click.option("--json", "as_json", is_flag=True, help="print one JSON document")
