"""Sentiment of free-text feedback on a labelled set of customer comments: accuracy, per-class
recall and the confusion matrix, with the thresholds and lexicon of the shipped feedback
defaults. Prints one JSON document.

    python bench/sentiment.py [--data bench/data/sentiment_comments.yaml]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

LABELS = ("positive", "neutral", "negative")
DEFAULT_DATA = Path(__file__).parent / "data" / "sentiment_comments.yaml"


def evaluate(items: list[dict[str, str]], doc: dict[str, Any]) -> dict[str, Any]:
    from hub.feedback.analysis import compound, label

    confusion = {t: dict.fromkeys(LABELS, 0) for t in LABELS}
    misses = []
    start = time.perf_counter()
    for item in items:
        score = compound(item["text"], doc["sentiment"].get("lexicon"))
        predicted = label(score, doc["sentiment"])
        confusion[item["label"]][predicted] += 1
        if predicted != item["label"]:
            misses.append(
                {
                    "text": item["text"],
                    "label": item["label"],
                    "predicted": predicted,
                    "compound": round(score, 3),
                }
            )
    elapsed = time.perf_counter() - start
    correct = sum(confusion[t][t] for t in LABELS)
    recall = {
        t: round(confusion[t][t] / sum(confusion[t].values()), 3)
        if sum(confusion[t].values())
        else None
        for t in LABELS
    }
    negatives = confusion["negative"]
    return {
        "items": len(items),
        "accuracy": round(correct / len(items), 4),
        "recall": recall,
        "negative_caught": negatives["negative"],
        "negative_total": sum(negatives.values()),
        "confusion": confusion,
        "misses": misses,
        "ms_per_comment": round(1000 * elapsed / max(len(items), 1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    import hub.feedback.config  # noqa: F401  (registers the document)
    from hub.growth.documents import defaults

    items = yaml.safe_load(args.data.read_text())
    result = evaluate(items, defaults("feedback"))
    result["data"] = str(args.data)
    result["model"] = "vaderSentiment compound, thresholds from hub/feedback/defaults.yaml"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
