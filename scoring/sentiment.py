"""Sentiment of free-text feedback: VADER's compound score (-1 to +1), once per distinct text."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=65536)
def compound(text: str) -> float:
    """VADER's compound score of one text."""
    return float(_analyzer().polarity_scores(text)["compound"])


def fill_sentiment(sentiment: pd.Series, comments: pd.Series) -> np.ndarray:
    """``sentiment``, with missing values worked out from the comment where there is one."""
    out = sentiment.to_numpy(dtype="float64", na_value=np.nan).copy()
    text = comments.astype(object).to_numpy()
    todo = np.isnan(out) & pd.notna(text)
    if todo.any():
        values = {t: compound(str(t)) for t in set(text[todo]) if str(t).strip()}
        out[todo] = [values.get(t, np.nan) for t in text[todo]]
    return out
