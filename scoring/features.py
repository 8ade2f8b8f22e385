"""Point-in-time features per account, vectorised over every account at once.

``FeatureBuilder(inputs, config).at(d)`` returns one row per account built only from rows
before epoch day ``d`` (see ``scoring.frames``): the builder sorts each frame by day once,
so building many snapshots for training costs one slice per snapshot, not a pass over all
history. Counts are zero when there was no activity; a feature is NaN only when it cannot be
known (no metric samples, never answered a survey, too young for a trend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from scoring.config import FeatureConfig
from scoring.frames import ACTIVE, LOOKBACK_DAYS, ScoringInputs, epoch_day, normalise_accounts
from scoring.sentiment import fill_sentiment

NUMERIC_FEATURES = (
    "active_days_7",
    "active_days_30",
    "active_rate_30",
    "days_since_active",
    "sessions_7",
    "sessions_30",
    "usage_trend",
    "feature_adoption",
    "milestones_done",
    "in_app_actions_30",
    "email_opens_30",
    "email_clicks_30",
    "tickets_30",
    "hashrate_ratio",
    "hashrate_trend",
    "efficiency_j_th",
    "uptime_pct",
    "rejected_share_pct",
    "yield_vs_target",
    "pnl_return_30d_pct",
    "portfolio_value_change",
    "nps_latest",
    "nps_age_days",
    "csat_latest",
    "sentiment",
    "tenure_days",
    "mrr",
    "mrr_change_90d",
    "days_to_renewal",
)
CATEGORICAL_FEATURES = ("segment", "plan")
MODEL_FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES


@dataclass
class _Sorted:
    """One frame's columns as arrays, sorted by day, with account positions."""

    day: np.ndarray
    pos: np.ndarray
    columns: dict[str, np.ndarray]

    def window(self, lo: float, hi: float) -> tuple[slice, np.ndarray, np.ndarray]:
        a, b = np.searchsorted(self.day, [lo, hi], side="left")
        sl = slice(int(a), int(b))
        return sl, self.day[sl], self.pos[sl]


class FeatureBuilder:
    """Builds the feature frame for any as-of day from one set of inputs."""

    def __init__(self, inputs: ScoringInputs, config: FeatureConfig) -> None:
        self.config = config
        self.bucketed_as_of = inputs.bucketed_as_of
        acc = normalise_accounts(inputs.accounts)
        self.accounts = acc
        self.ids = acc["account_id"].to_numpy(dtype="int64")
        self.n = len(self.ids)
        segment = acc["segment"].fillna("").astype(str)
        self.seg_code, seg_names = pd.factorize(segment)
        self.seg_names = list(seg_names)
        self._activity(inputs.activity)
        self._metrics(inputs.metrics)
        self._milestones(inputs.milestones)
        self._surveys(inputs.surveys)
        self._subscriptions(inputs.subscriptions)

    # -- preparation ----------------------------------------------------------------------
    def _positions(self, account_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        ids = account_ids.to_numpy(dtype="int64")
        pos = np.searchsorted(self.ids, ids)
        pos = np.clip(pos, 0, max(self.n - 1, 0))
        known = (self.ids[pos] == ids) if self.n else np.zeros(len(ids), dtype=bool)
        return pos, known

    def _sorted(
        self, frame: pd.DataFrame, columns: dict[str, np.ndarray], presorted: bool = False
    ) -> _Sorted:
        """Rows of known accounts, sorted by day (stable) unless ``presorted`` says the
        order does not matter (bucketed rows all fall inside the one window)."""
        pos, known = self._positions(frame["account_id"])
        day = frame["day"].to_numpy(dtype="float64")
        if presorted:
            order = np.flatnonzero(known)
        else:
            finite = day[known]
            lo = finite.min() if len(finite) else 0.0
            # small non-negative integers sort with a stable radix sort
            key = np.where(known, day - lo, np.nan)
            span = np.nanmax(key) if len(finite) else 0.0
            key = np.nan_to_num(key, nan=span + 1)
            dtype = "uint16" if span + 1 < 65535 else "int64"
            order = np.argsort(key.astype(dtype), kind="stable")[: int(known.sum())]
        return _Sorted(
            day=day[order],
            pos=pos[order].astype("int64"),
            columns={k: v[order] for k, v in columns.items()},
        )

    def _codes(self, frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
        cat = frame[column].astype("category")
        codes = cat.cat.codes.to_numpy()
        return codes.astype(np.int32, copy=False), [str(c) for c in cat.cat.categories]

    def _lookup(self, names: list[str], wanted: tuple[str, ...] | set[str]) -> np.ndarray:
        """A table: code -> is the name in ``wanted`` (the last slot, code -1, is False)."""
        return np.array([n in wanted for n in names] + [False], dtype=bool)

    def _activity(self, frame: pd.DataFrame) -> None:
        cfg = self.config
        ev, names = self._codes(frame, "event")
        feat, feat_names = self._codes(frame, "feature")
        n_rows = len(frame)
        days = frame["days"].to_numpy(dtype="float64") if "days" in frame else np.ones(n_rows)
        last = (
            frame["last_day"].to_numpy(dtype="float64")
            if "last_day" in frame
            else frame["day"].to_numpy(dtype="float64")
        )
        self.act = self._sorted(
            frame,
            {
                "event": ev,
                "feature": feat,
                "count": frame["count"].to_numpy(dtype="float64"),
                "days": days,
                "last_day": last,
            },
            presorted=self.bucketed_as_of is not None,
        )
        self.ev_tab = {
            "active": self._lookup(names, {ACTIVE}),
            "session": self._lookup(names, set(cfg.session_events)),
            "in_app": self._lookup(names, set(cfg.in_app_events)),
            "open": self._lookup(names, set(cfg.email_open_events)),
            "click": self._lookup(names, set(cfg.email_click_events)),
            "ticket": self._lookup(names, set(cfg.ticket_events)),
            "feature": self._lookup(names, {cfg.feature_event}),
        }
        self.n_feat = len(feat_names) + 1
        key = np.zeros((len(self.seg_names) + 1, self.n_feat), dtype=bool)
        n_key = np.zeros(len(self.seg_names) + 1)
        for s, seg in enumerate(self.seg_names):
            wanted = set(cfg.key_features.get(seg, ()))
            key[s, : len(feat_names)] = [f in wanted for f in feat_names]
            n_key[s] = len(wanted)
        self.key_tab, self.n_key = key, n_key

    def _metrics(self, frame: pd.DataFrame) -> None:
        code, names = self._codes(frame, "metric")
        self.met = self._sorted(
            frame,
            {
                "metric": code,
                "total": frame["total"].to_numpy(dtype="float64"),
                "n": frame["n"].to_numpy(dtype="float64"),
            },
            presorted=self.bucketed_as_of is not None,
        )
        self.metric_code = {
            role: names.index(metric) if metric in names else -2
            for role, metric in self.config.metrics.items()
        }

    def _milestones(self, frame: pd.DataFrame) -> None:
        code, names = self._codes(frame, "event")
        self.ms = self._sorted(frame, {"event": code})
        tab = np.zeros((len(self.seg_names) + 1, len(names) + 1), dtype=bool)
        n_ms = np.zeros(len(self.seg_names) + 1)
        for s, seg in enumerate(self.seg_names):
            wanted = set(self.config.milestones.get(seg, ()))
            tab[s, : len(names)] = [m in wanted for m in names]
            n_ms[s] = len(wanted)
        self.ms_tab, self.n_ms = tab, n_ms

    def _surveys(self, frame: pd.DataFrame) -> None:
        kind = frame["kind"].astype(str).str.lower().to_numpy()
        sentiment = fill_sentiment(
            frame["sentiment"] if "sentiment" in frame else pd.Series(np.nan, index=frame.index),
            frame["comment"] if "comment" in frame else pd.Series(None, index=frame.index),
        )
        self.sv = self._sorted(
            frame,
            {
                "kind": kind,
                "score": frame["score"].to_numpy(dtype="float64"),
                "sentiment": sentiment,
            },
        )

    def _subscriptions(self, frame: pd.DataFrame) -> None:
        self.sub = self._sorted(
            frame,
            {
                "mrr_after": frame["mrr_after"].to_numpy(dtype="float64"),
                "plan": frame["plan"].astype(object).to_numpy(),
            },
        )

    # -- building -------------------------------------------------------------------------
    def at(self, as_of: date | int) -> pd.DataFrame:
        """The features of every account as of the start of ``as_of`` (epoch day or date)."""
        d = as_of if isinstance(as_of, int | np.integer) else epoch_day(as_of)
        d = int(d)
        if self.bucketed_as_of is not None and self.bucketed_as_of != d:
            raise ValueError("these inputs were bucketed for another as-of day")
        acc = self.accounts
        tenure = d - acc["signup_day"].to_numpy(dtype="float64")
        tenure = np.where(tenure < 0, np.nan, tenure)
        out: dict[str, np.ndarray] = {}
        self._activity_features(d, tenure, out)
        self._metric_features(d, out)
        self._survey_features(d, out)
        self._account_features(d, tenure, out)
        lifecycle = np.where(
            np.nan_to_num(tenure, nan=np.inf) < self.config.onboarding_days,
            "onboarding",
            "established",
        )
        frame = pd.DataFrame(
            {
                "account_id": self.ids,
                "as_of": np.full(self.n, d, dtype="int64"),
                "segment": acc["segment"].to_numpy(dtype=object),
                "lifecycle": lifecycle.astype(object),
                **{name: out[name] for name in NUMERIC_FEATURES},
                "plan": out["plan"],
            }
        )
        return frame

    def _sum(self, pos: np.ndarray, mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.bincount(pos[mask], weights=weights[mask], minlength=self.n)[: self.n]

    def _activity_features(self, d: int, tenure: np.ndarray, out: dict[str, np.ndarray]) -> None:
        sl, day, pos = self.act.window(d - LOOKBACK_DAYS, d)
        col = {k: v[sl] for k, v in self.act.columns.items()}
        ev, count, days = col["event"], col["count"], col["days"]
        w7, w30, base = day >= d - 7, day >= d - 30, day < d - 7
        kind = {k: tab[ev] for k, tab in self.ev_tab.items()}
        out["active_days_7"] = self._sum(pos, kind["active"] & w7, days)
        out["active_days_30"] = self._sum(pos, kind["active"] & w30, days)
        span = np.clip(np.nan_to_num(np.minimum(tenure, 30), nan=30.0), 1, 30)
        out["active_rate_30"] = np.minimum(out["active_days_30"] / span, 1.0)
        last = np.full(self.n, -np.inf)
        np.maximum.at(last, pos[kind["active"]], col["last_day"][kind["active"]])
        since = np.where(np.isfinite(last), d - last, np.inf)
        cap = np.nan_to_num(np.minimum(tenure, LOOKBACK_DAYS + 1), nan=LOOKBACK_DAYS + 1)
        out["days_since_active"] = np.minimum(since, cap)
        out["sessions_7"] = self._sum(pos, kind["session"] & w7, count)
        out["sessions_30"] = self._sum(pos, kind["session"] & w30, count)
        base_sessions = self._sum(pos, kind["session"] & base, count)
        base_days = np.clip(np.nan_to_num(tenure, nan=LOOKBACK_DAYS) - 7, 0, LOOKBACK_DAYS - 7)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate7 = out["sessions_7"] / 7.0
            base_rate = base_sessions / base_days
            trend = np.where(base_rate > 0, rate7 / base_rate - 1.0, np.nan)
        trend = np.where((base_rate == 0) & (rate7 > 0), 1.0, trend)
        trend[base_days < 7] = np.nan
        out["usage_trend"] = np.clip(trend, -1.0, 3.0)
        out["in_app_actions_30"] = self._sum(pos, kind["in_app"] & w30, count)
        out["email_opens_30"] = self._sum(pos, kind["open"] & w30, count)
        out["email_clicks_30"] = self._sum(pos, kind["click"] & w30, count)
        out["tickets_30"] = self._sum(pos, kind["ticket"] & w30, count)
        # feature adoption: distinct key features of the account's segment used in 30 days
        used = kind["feature"] & w30
        fpos, fcode = pos[used], col["feature"][used]
        fcode = np.where(fcode < 0, self.n_feat - 1, fcode)
        used_key = np.zeros((self.n, self.n_feat), dtype=bool)
        used_key[fpos, fcode] = True
        distinct = (used_key & self.key_tab[self.seg_code]).sum(axis=1)
        n_key = self.n_key[self.seg_code]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["feature_adoption"] = np.where(n_key > 0, distinct / n_key, np.nan)
        # milestones reached (ever, before d) out of the segment's milestones
        sl, _, mpos = self.ms.window(-np.inf, d)
        mcode = self.ms.columns["event"][sl]
        mcode = np.where(mcode < 0, self.ms_tab.shape[1] - 1, mcode)
        done = np.zeros((self.n, self.ms_tab.shape[1]), dtype=bool)
        done[mpos, mcode] = True
        reached = (done & self.ms_tab[self.seg_code]).sum(axis=1)
        n_ms = self.n_ms[self.seg_code]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["milestones_done"] = np.where(n_ms > 0, reached / n_ms, np.nan)

    def _metric_features(self, d: int, out: dict[str, np.ndarray]) -> None:
        sl, day, pos = self.met.window(d - LOOKBACK_DAYS, d)
        code, total, n = (self.met.columns[k][sl] for k in ("metric", "total", "n"))
        windows = {"7": day >= d - 7, "30": day >= d - 30, "base": day < d - 7}

        def stat(role: str, window: str, how: str = "mean") -> np.ndarray:
            mask = (code == self.metric_code.get(role, -2)) & windows[window]
            s = self._sum(pos, mask, total)
            if how == "sum":
                c = self._sum(pos, mask, n)
                return np.where(c > 0, s, np.nan)
            c = self._sum(pos, mask, n)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(c > 0, s / c, np.nan)

        acc = self.accounts
        nominal = acc["nominal_hashrate_ths"].to_numpy(dtype="float64")
        target = acc["target_yield_pct"].to_numpy(dtype="float64")
        target = np.where(np.isnan(target), self.config.default_target_yield_pct, target)
        hashrate7 = stat("hashrate", "7")
        pv7, pv_base, pv30 = stat("portfolio_value", "7"), stat("portfolio_value", "base"), None
        pv30 = stat("portfolio_value", "30")
        with np.errstate(divide="ignore", invalid="ignore"):
            out["hashrate_ratio"] = np.where(nominal > 0, hashrate7 / nominal, np.nan)
            out["hashrate_trend"] = hashrate7 / stat("hashrate", "base") - 1.0
            out["portfolio_value_change"] = np.where(pv_base > 0, pv7 / pv_base - 1.0, np.nan)
            out["pnl_return_30d_pct"] = np.where(
                pv30 > 0, 100.0 * stat("pnl", "30", "sum") / pv30, np.nan
            )
        out["hashrate_trend"] = np.where(
            np.isfinite(out["hashrate_trend"]), out["hashrate_trend"], np.nan
        )
        out["efficiency_j_th"] = stat("efficiency", "7")
        out["uptime_pct"] = stat("uptime", "7")
        out["rejected_share_pct"] = stat("rejected_share", "7")
        out["yield_vs_target"] = stat("yield", "7") - target

    def _latest(self, sl: slice, pos: np.ndarray, mask: np.ndarray, column: str):
        """The latest value of ``column`` per account among rows ``mask`` (NaN if none)."""
        values = self.sv.columns[column][sl][mask]
        days = self.sv.day[sl][mask]
        p = pos[mask]
        latest = np.full(self.n, np.nan)
        latest_day = np.full(self.n, np.nan)
        idx = _last_index(p, self.n)
        latest[p[idx]] = values[idx]
        latest_day[p[idx]] = days[idx]
        return latest, latest_day

    def _survey_features(self, d: int, out: dict[str, np.ndarray]) -> None:
        sl, day, pos = self.sv.window(-np.inf, d)
        kind = self.sv.columns["kind"][sl]
        nps, nps_day = self._latest(sl, pos, kind == "nps", "score")
        out["nps_latest"] = nps
        out["nps_age_days"] = d - nps_day
        out["csat_latest"], _ = self._latest(sl, pos, kind == "csat", "score")
        sentiment = self.sv.columns["sentiment"][sl]
        recent = (day >= d - self.config.sentiment_days) & ~np.isnan(sentiment)
        total = self._sum(pos, recent, sentiment)
        count = np.bincount(pos[recent], minlength=self.n)[: self.n]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["sentiment"] = np.where(count > 0, total / count, np.nan)

    def _account_features(self, d: int, tenure: np.ndarray, out: dict[str, np.ndarray]) -> None:
        acc = self.accounts
        churn_day = acc["churn_day"].to_numpy(dtype="float64")
        # recurring revenue and plan as of d come from the subscription history
        sl, _, pos = self.sub.window(-np.inf, d)
        mrr, plan, has = self._last_sub(sl, pos)
        sl90, _, pos90 = self.sub.window(-np.inf, d - 90)
        mrr90, _, has90 = self._last_sub(sl90, pos90)
        current = acc["mrr"].to_numpy(dtype="float64")
        # an account's current MRR says nothing about the past once it has churned
        fallback = np.where(np.isnan(churn_day), current, np.nan)
        out["mrr"] = np.where(has, mrr, fallback)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["mrr_change_90d"] = np.where(has90 & (mrr90 > 0), out["mrr"] / mrr90 - 1.0, np.nan)
        account_plan = acc["plan"].to_numpy(dtype=object)
        out["plan"] = np.where(has, plan, account_plan)
        out["tenure_days"] = tenure
        term = float(self.config.renewal_term_days)
        renewal = acc["renewal_day"].to_numpy(dtype="float64") - d
        signup = acc["signup_day"].to_numpy(dtype="float64")
        cycles = np.floor((d - signup) / term) + 1
        anniversary = signup + cycles * term - d
        known = (renewal > 0) & (renewal <= term)
        out["days_to_renewal"] = np.where(known, renewal, anniversary)

    def _last_sub(self, sl: slice, pos: np.ndarray):
        mrr = np.full(self.n, np.nan)
        plan = np.full(self.n, None, dtype=object)
        has = np.zeros(self.n, dtype=bool)
        idx = _last_index(pos, self.n)
        if len(idx):
            mrr[pos[idx]] = self.sub.columns["mrr_after"][sl][idx]
            plan[pos[idx]] = self.sub.columns["plan"][sl][idx]
            has[pos[idx]] = True
        return mrr, plan, has


def _last_index(pos: np.ndarray, n: int) -> np.ndarray:
    """For rows in day order: the index of each account's last row."""
    last = np.full(n, -1, dtype="int64")
    np.maximum.at(last, pos, np.arange(len(pos), dtype="int64"))
    return last[last >= 0]


def build_features(inputs: ScoringInputs, as_of: date | int, config: FeatureConfig) -> pd.DataFrame:
    """The features of every account in ``inputs`` as of the start of ``as_of``."""
    return FeatureBuilder(inputs, config).at(as_of)
