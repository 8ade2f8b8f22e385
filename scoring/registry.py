"""Saving and loading churn models with skops (never raw pickle), data fingerprints and the
promotion rule.

A model is stored as a skops document holding only scikit-learn objects and plain data. On
load, every type skops does not trust by default must come from scikit-learn, NumPy or
SciPy; anything else is refused before a single object is built.
"""

from __future__ import annotations

import hashlib
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from scoring.churn import ChurnModel

FORMAT = 1
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
TRUSTED_BUILTINS = {"builtins.slice", "functools.partial"}  # partial of a checked function


class UntrustedModel(ValueError):
    """The stored bytes would build objects outside scikit-learn, NumPy and SciPy."""


def dumps(model: ChurnModel) -> bytes:
    import skops.io as sio  # imported on use: it pulls in scikit-learn (seconds)

    return sio.dumps(
        {
            "format": FORMAT,
            "estimator": model.estimator,
            "numeric": list(model.numeric),
            "categorical": list(model.categorical),
            "reference": dict(model.reference),
            "info": dict(model.info),
        },
        compression=zipfile.ZIP_DEFLATED,
    )


def loads(data: bytes) -> ChurnModel:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=data)
    refused = [
        t for t in untrusted if not (t.startswith(TRUSTED_PREFIXES) or t in TRUSTED_BUILTINS)
    ]
    if refused:
        raise UntrustedModel(f"refusing to load types: {', '.join(sorted(refused))}")
    doc = sio.loads(data, trusted=untrusted)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UntrustedModel("not a cshub churn model")
    return ChurnModel(
        estimator=doc["estimator"],
        numeric=list(doc["numeric"]),
        categorical=list(doc["categorical"]),
        reference=dict(doc["reference"]),
        info=dict(doc["info"]),
    )


def fingerprint(*frames: pd.DataFrame | np.ndarray) -> str:
    """A SHA-256 of the data a model was trained on (values and column names)."""
    digest = hashlib.sha256()
    for frame in frames:
        if isinstance(frame, pd.DataFrame):
            digest.update(",".join(map(str, frame.columns)).encode())
            hashed = pd.util.hash_pandas_object(frame, index=False)
            digest.update(hashed.to_numpy().tobytes())
        else:
            digest.update(np.ascontiguousarray(frame).tobytes())
    return digest.hexdigest()


def beats(candidate: dict[str, Any], active: dict[str, Any], min_gain: float = 0.0) -> bool:
    """Does the candidate beat the active model on the same validation data? Higher ROC AUC
    by more than ``min_gain``, and a Brier score no worse than 0.005 above the active one's."""
    c_auc, a_auc = candidate.get("roc_auc"), active.get("roc_auc")
    if c_auc is None:
        return False
    if a_auc is None:
        return True
    brier_ok = (candidate.get("brier") or 0.0) <= (active.get("brier") or 1.0) + 0.005
    return c_auc > a_auc + min_gain and brier_ok
