"""``cshub score`` and ``cshub churn train|evaluate|predict``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from hub.cli.common import cli, emit, json_option, make_app

as_of_option = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="score as of this UTC date/time (default: now)",
)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


@cli.command()
@as_of_option
@click.option("--chunk-size", default=20_000, show_default=True, type=click.IntRange(100))
@click.option("--push/--no-push", default=True, help="enqueue the CRM write-back afterwards")
@click.option(
    "--rebuild-rollups",
    is_flag=True,
    help="rebuild the daily event and metric roll-ups of the scoring window from raw rows",
)
@json_option
def score(
    as_of: datetime | None, chunk_size: int, push: bool, rebuild_rollups: bool, as_json: bool
) -> None:
    """Score every account now: features, health score, churn risk, history rows."""
    from hub import scoring_config, scoring_rollup
    from hub.db import db
    from hub.scoring_service import plan_run, run_inline
    from scoring.frames import LOOKBACK_DAYS, epoch_day

    app = make_app()
    with app.app_context():
        if rebuild_rollups:
            with db.begin() as session:
                config, _ = scoring_config.load(session)
            day = epoch_day(_utc(as_of) or datetime.now(UTC))
            scoring_rollup.rebuild(db.engine, config.features, day - LOOKBACK_DAYS, day)
        plan = plan_run(db.engine, _utc(as_of), chunk_size)
        summary = run_inline(db.engine, plan)
        if push:
            from jobs.scoring import _write_back

            summary["write_back_jobs"] = _write_back()
    tiers = ", ".join(f"{k} {v}" for k, v in sorted(summary["tiers"].items()))
    emit(
        summary,
        as_json,
        f"scored {summary['scored']} accounts in {summary['seconds']} s ({tiers}); "
        f"churn predictions: {summary['predicted']} (model {summary['model_version'] or 'none'})",
    )


@cli.group()
def churn() -> None:
    """The churn model: train, evaluate, predict."""


@churn.command("train")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", help="the label column of the CSV (two values)")
@click.option("--id", "id_column", help="an id column of the CSV to leave out")
@click.option("--time", "time_column", help="a date column of the CSV: hold out the latest 20%")
@click.option("--positive", help="the label value meaning churn (default: inferred)")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="save the model")
@click.option("--promote/--no-promote", default=True, help="store path: promote if better")
@as_of_option
@json_option
def churn_train(
    csv_path: Path | None,
    label: str | None,
    id_column: str | None,
    time_column: str | None,
    positive: str | None,
    folds: int,
    seed: int,
    out: Path | None,
    promote: bool,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    """Train from the store's history, or from any labelled CSV (--csv FILE --label COL)."""
    if csv_path is not None:
        _train_csv(csv_path, label, id_column, time_column, positive, folds, seed, out, as_json)
        return
    if label or id_column or time_column:
        raise click.UsageError("--label, --id and --time go with --csv")
    from hub.churn_service import train_from_store
    from hub.db import db
    from scoring.training import NotEnoughData

    app = make_app()
    with app.app_context():
        try:
            result = train_from_store(db.engine, _utc(as_of), promote=promote, actor="cli")
        except NotEnoughData as exc:
            raise click.ClickException(str(exc)) from exc
    report = result["report"]
    emit(
        result,
        as_json,
        f"model {result['version']} ({result['algorithm']}): ROC AUC {report.get('roc_auc')}"
        f" vs baseline {report['baseline'].get('roc_auc')}, health score "
        f"{report['health_score'].get('roc_auc')}; promoted: {result['promoted']}",
    )


def _train_csv(csv_path, label, id_column, time_column, positive, folds, seed, out, as_json):
    from scoring import registry, tabular

    if not label:
        raise click.UsageError("--csv needs --label COLUMN")
    try:
        table = tabular.prepare(tabular.read_csv(csv_path), label, id_column, time_column, positive)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    report = tabular.evaluate(table, folds=folds, seed=seed)
    if out is not None:
        model = tabular.fit(table, seed)
        out.write_bytes(registry.dumps(model))
        report["saved_to"] = str(out)
        report["algorithm"] = model.info["algorithm"]
    emit(
        report,
        as_json,
        f"{report['evaluation']}: ROC AUC {report['roc_auc']} (baseline logistic regression "
        f"{report['baseline']['roc_auc']}), PR AUC {report['pr_auc']}, Brier {report['brier']}",
    )


@churn.command("evaluate")
@as_of_option
@json_option
def churn_evaluate(as_of: datetime | None, as_json: bool) -> None:
    """Evaluate the active model on the latest labelled snapshots (beside the baseline and
    the health score)."""
    from hub.churn_service import NoActiveModel, evaluate_active
    from hub.db import db
    from scoring.training import NotEnoughData

    app = make_app()
    with app.app_context():
        try:
            report = evaluate_active(db.engine, _utc(as_of))
        except (NoActiveModel, NotEnoughData) as exc:
            raise click.ClickException(str(exc)) from exc
    emit(
        report,
        as_json,
        f"model {report['version']}: ROC AUC {report.get('roc_auc')}, PR AUC "
        f"{report.get('pr_auc')}, Brier {report.get('brier')}, top-decile lift "
        f"{report.get('lift_top_decile')} (baseline ROC AUC {report['baseline'].get('roc_auc')}, "
        f"health score {report['health_score'].get('roc_auc')})",
    )


@churn.command("predict")
@click.option("--account", "account_id", type=int, help="one account only")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1))
@as_of_option
@json_option
def churn_predict(
    account_id: int | None, limit: int, as_of: datetime | None, as_json: bool
) -> None:
    """Churn risk of live accounts with the active model, riskiest first."""
    from hub.churn_service import NoActiveModel, predict_accounts
    from hub.db import db

    app = make_app()
    with app.app_context():
        try:
            doc = predict_accounts(db.engine, _utc(as_of), account_id, limit)
        except NoActiveModel as exc:
            raise click.ClickException(str(exc)) from exc
    lines = [
        f"{p['account_id']:>8}  {p['probability']:.2f}  {p['segment']:<8} {'; '.join(p['reasons'])}"
        for p in doc["predictions"]
    ]
    emit(doc, as_json, "\n".join([f"model {doc['model_version']}", *lines]))
