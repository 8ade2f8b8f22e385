"""The KPIs: computed from the store for a period and per segment, rolled up daily, and shown
beside their targets (``hub/kpi_defaults.yaml``, overridden by an admin)."""

from hub.metrics.base import ALL, Period
from hub.metrics.catalogue import BY_KEY, CATALOGUE, DASHBOARD_TILES, GROUPS, Kpi
from hub.metrics.measure import compute
from hub.metrics.present import format_value, present, roi
from hub.metrics.rollups import (
    Loaded,
    RollupPending,
    history,
    latest,
    load,
    load_segments,
    rollup,
)
from hub.metrics.settings import SettingsError, defaults
from hub.metrics.settings import load as load_settings
from hub.metrics.settings import save as save_settings

__all__ = [
    "ALL",
    "BY_KEY",
    "CATALOGUE",
    "DASHBOARD_TILES",
    "GROUPS",
    "Kpi",
    "Loaded",
    "Period",
    "RollupPending",
    "SettingsError",
    "compute",
    "defaults",
    "format_value",
    "history",
    "latest",
    "load",
    "load_segments",
    "load_settings",
    "present",
    "roi",
    "rollup",
    "save_settings",
]
