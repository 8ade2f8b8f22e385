"""The explainable health score: weighted components of weighted indicators.

For each account: pick its profile (first whose segment/lifecycle matches, else the default),
score every indicator that applies to its segment with the indicator's rule, and combine.
A missing indicator's weight is spread over the present indicators of its component; a
component with nothing present has its weight spread over the other components. The result
keeps every step: component scores (0-100), each indicator's contribution in points (they sum
to the score), what was missing, and the top drivers down and up in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring import rules
from scoring.config import HealthConfig, Indicator, Profile

DOWN_BELOW = 50.0  # an indicator under this many points (of 100) drags the score down
UP_FROM = 70.0  # one at or above this lifts it
MIN_DRIVER_POINTS = 0.5
TOP_DRIVERS = 3

Reference = Mapping[str, Mapping[str, Sequence[float]]]


@dataclass
class HealthResult:
    account_id: np.ndarray
    score: np.ndarray  # 0-100, one decimal; NaN when nothing at all could be scored
    tier: np.ndarray
    profile: np.ndarray
    components: pd.DataFrame  # per component, 0-100 (NaN when absent)
    contributions: pd.DataFrame  # per indicator, points of the final score (NaN: not used)
    indicator_points: pd.DataFrame  # per indicator, 0-100
    missing: list[list[str]]
    drivers_down: list[list[str]]
    drivers_up: list[list[str]]

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "account_id": self.account_id,
                "score": self.score,
                "tier": self.tier,
                "profile": self.profile,
            }
        )

    def records(self) -> list[dict]:
        """One JSON-ready explanation per account (skipping accounts without a score)."""
        comp_names = list(self.components.columns)
        ind_names = list(self.contributions.columns)
        # Python lists with None for "absent" build dicts far faster than NumPy scalars
        comps = _rows(self.components.to_numpy(), 1)
        contrib = _rows(self.contributions.to_numpy(), 2)
        score = self.score.tolist()
        ids = self.account_id.tolist()
        out = []
        for i, account_id in enumerate(ids):
            if score[i] != score[i]:  # NaN: nothing could be scored
                continue
            c, k = comps[i], contrib[i]
            out.append(
                {
                    "account_id": int(account_id),
                    "score": score[i],
                    "tier": self.tier[i],
                    "profile": self.profile[i],
                    "components": {
                        n: v for n, v in zip(comp_names, c, strict=True) if v is not None
                    },
                    "contributions": {
                        n: v for n, v in zip(ind_names, k, strict=True) if v is not None
                    },
                    "drivers": {"down": self.drivers_down[i], "up": self.drivers_up[i]},
                    "missing": self.missing[i],
                }
            )
        return out


def _rows(matrix: np.ndarray, digits: int) -> list[list[float | None]]:
    rounded = np.round(matrix, digits).astype(object)
    rounded[np.isnan(matrix)] = None
    return rounded.tolist()


def percentile_reference(features: pd.DataFrame, config: HealthConfig) -> dict[str, dict]:
    """Reference values per percentile indicator and segment, from these accounts."""
    segments = features["segment"].fillna("").astype(str).to_numpy()
    names = {i.name for p in config.profiles for i in p.indicators if i.rule == "percentile"}
    return {
        name: rules.percentile_reference(features[name].to_numpy(dtype="float64"), segments)
        for name in sorted(names)
        if name in features
    }


def assign_profiles(features: pd.DataFrame, config: HealthConfig) -> np.ndarray:
    """The index (into ``config.profiles``) of each account's profile."""
    segment = features["segment"].fillna("").astype(str).to_numpy()
    lifecycle = features["lifecycle"].fillna("").astype(str).to_numpy()
    chosen = np.full(len(features), len(config.profiles) - 1)
    free = np.ones(len(features), dtype=bool)
    for i, profile in enumerate(config.profiles[:-1]):
        match = free.copy()
        if profile.segments is not None:
            match &= np.isin(segment, profile.segments)
        if profile.lifecycles is not None:
            match &= np.isin(lifecycle, profile.lifecycles)
        chosen[match] = i
        free &= ~match
    return chosen


def score_health(
    features: pd.DataFrame, config: HealthConfig, reference: Reference | None = None
) -> HealthResult:
    """Score every account in ``features``; percentiles use ``reference`` (default: these
    accounts themselves)."""
    n = len(features)
    if reference is None:
        reference = percentile_reference(features, config)
    comp_names = list(config.component_labels)
    ind_names = list(dict.fromkeys(i.name for p in config.profiles for i in p.indicators))
    components = np.full((n, len(comp_names)), np.nan)
    contributions = np.full((n, len(ind_names)), np.nan)
    ind_points = np.full((n, len(ind_names)), np.nan)
    score = np.full(n, np.nan)
    missing: list[list[str]] = [[] for _ in range(n)]
    down: list[list[str]] = [[] for _ in range(n)]
    up: list[list[str]] = [[] for _ in range(n)]
    profile_idx = assign_profiles(features, config)
    segments = features["segment"].fillna("").astype(str).to_numpy()
    for p, profile in enumerate(config.profiles):
        rows = np.flatnonzero(profile_idx == p)
        if len(rows) == 0:
            continue
        part = _score_profile(features.iloc[rows], segments[rows], profile, reference)
        score[rows] = part["score"]
        for j, name in enumerate(part["components"]):
            components[rows, comp_names.index(name)] = part["component_scores"][:, j]
        cols = [ind_names.index(i.name) for i in part["indicators"]]
        contributions[np.ix_(rows, cols)] = part["contributions"]
        ind_points[np.ix_(rows, cols)] = part["points"]
        for r, row in enumerate(rows):
            missing[row] = part["missing"][r]
            down[row] = part["down"][r]
            up[row] = part["up"][r]
    score = np.round(score, 1)
    tier = np.array(
        [config.tier_of(s) if not np.isnan(s) else None for s in score.tolist()], dtype=object
    )
    names = np.array([profile.name for profile in config.profiles], dtype=object)
    return HealthResult(
        account_id=features["account_id"].to_numpy(),
        score=score,
        tier=tier,
        profile=names[profile_idx],
        components=pd.DataFrame(components, columns=comp_names),
        contributions=pd.DataFrame(contributions, columns=ind_names),
        indicator_points=pd.DataFrame(ind_points, columns=ind_names),
        missing=missing,
        drivers_down=down,
        drivers_up=up,
    )


def _score_profile(
    features: pd.DataFrame, segments: np.ndarray, profile: Profile, reference: Reference
) -> dict:
    n = len(features)
    indicators = [i for i in profile.indicators if i.weight > 0]
    comps = [c for c, w in profile.components.items() if w > 0]
    k = len(indicators)
    values = np.full((n, k), np.nan)
    pts = np.full((n, k), np.nan)
    applies = np.ones((n, k), dtype=bool)
    for j, ind in enumerate(indicators):
        if ind.segments is not None:
            applies[:, j] = np.isin(segments, ind.segments)
        if ind.name in features:
            values[:, j] = features[ind.name].to_numpy(dtype="float64")
        pts[:, j] = rules.points(ind, values[:, j], segments, reference)
    present = applies & ~np.isnan(pts)
    weight = np.array([ind.weight for ind in indicators])
    comp_of = np.array(
        [comps.index(ind.component) if ind.component in comps else -1 for ind in indicators]
    )
    # weight of each indicator inside its component, renormalised over the present ones
    inner = np.zeros((n, k))
    comp_scores = np.full((n, len(comps)), np.nan)
    comp_present = np.zeros((n, len(comps)), dtype=bool)
    for c in range(len(comps)):
        cols = comp_of == c
        w = present[:, cols] * weight[cols]
        total = w.sum(axis=1)
        comp_present[:, c] = total > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            inner[:, cols] = np.where(total[:, None] > 0, w / total[:, None], 0.0)
        comp_scores[:, c] = np.where(
            comp_present[:, c],
            np.nansum(inner[:, cols] * np.nan_to_num(pts[:, cols]), axis=1),
            np.nan,
        )
    comp_weight = np.array([profile.components[c] for c in comps]) * comp_present
    total_weight = comp_weight.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total_weight[:, None] > 0, comp_weight / total_weight[:, None], 0.0)
    # the points each indicator could give (its share of 100) and the points it gives
    possible = np.zeros((n, k))
    for j in range(k):
        if comp_of[j] >= 0:
            possible[:, j] = 100.0 * share[:, comp_of[j]] * inner[:, j]
    contrib = np.where(present, possible * np.nan_to_num(pts) / 100.0, np.nan)
    score = np.where(total_weight > 0, np.nansum(np.nan_to_num(contrib), axis=1), np.nan)
    lost = possible - np.nan_to_num(contrib)
    return {
        "score": score,
        "components": comps,
        "component_scores": comp_scores,
        "indicators": indicators,
        "contributions": contrib,
        "points": np.where(applies, pts, np.nan),
        "missing": _missing(indicators, applies & np.isnan(values)),
        "down": _drivers(indicators, values, pts, lost, present & (pts < DOWN_BELOW), "-"),
        "up": _drivers(indicators, values, pts, contrib, present & (pts >= UP_FROM), "+"),
    }


def _missing(indicators: list[Indicator], mask: np.ndarray) -> list[list[str]]:
    names = [i.name for i in indicators]
    out: list[list[str]] = [[] for _ in range(len(mask))]
    rows, cols = np.nonzero(mask)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        out[r].append(names[c])
    return out


def _drivers(
    indicators: list[Indicator],
    values: np.ndarray,
    pts: np.ndarray,
    weight: np.ndarray,
    eligible: np.ndarray,
    sign: str,
) -> list[list[str]]:
    """The top drivers per account, strongest first, as sentences with their points."""
    key = np.where(eligible & (np.nan_to_num(weight) >= MIN_DRIVER_POINTS), weight, -np.inf)
    top = min(TOP_DRIVERS, key.shape[1])
    order = np.argsort(-key, axis=1, kind="stable")[:, :top]
    picked = np.take_along_axis(key, order, axis=1)
    shown = np.take_along_axis(values, order, axis=1)
    out: list[list[str]] = [[] for _ in range(len(key))]
    rows, ranks = np.nonzero(np.isfinite(picked))  # row-major: strongest first per account
    says = [i.says for i in indicators]
    which = order[rows, ranks].tolist()
    value = shown[rows, ranks].tolist()
    points = picked[rows, ranks].tolist()
    for r, j, v, pts_ in zip(rows.tolist(), which, value, points, strict=True):
        text = says[j].format(value=v)
        out[r].append(f"{text[:1].upper()}{text[1:]} ({sign}{pts_:.1f} pts)")
    return out


def describe(indicator: Indicator, value: float) -> str:
    """The indicator's sentence for ``value``, starting with a capital letter."""
    text = indicator.says.format(value=float(value))
    return text[:1].upper() + text[1:]


def trends(
    account_id: np.ndarray,
    score: np.ndarray,
    history: pd.DataFrame,
    as_of_day: int,
    lags: Sequence[int] = (7, 30),
    tolerance_days: int = 3,
) -> dict[int, np.ndarray]:
    """Score change against the latest stored score at least ``lag`` days old (and at most
    ``lag + tolerance_days``). ``history``: account_id, day, score. NaN when there is none."""
    out: dict[int, np.ndarray] = {}
    left = pd.DataFrame({"account_id": np.asarray(account_id, dtype="int64")})
    hist = history[["account_id", "day", "score"]].copy()
    hist["account_id"] = hist["account_id"].astype("int64")
    hist["day"] = hist["day"].astype("float64")
    hist = hist.sort_values("day", kind="stable")
    for lag in lags:
        target = float(as_of_day - lag)
        past = hist[(hist["day"] <= target) & (hist["day"] >= target - tolerance_days)]
        latest = past.drop_duplicates("account_id", keep="last").set_index("account_id")["score"]
        before = left["account_id"].map(latest).to_numpy(dtype="float64")
        out[lag] = np.round(np.asarray(score, dtype="float64") - before, 1)
    return out
