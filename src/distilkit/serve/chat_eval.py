"""Score a bot on held-out messages, and measure how often a student encoder retrieves what its teacher retrieves.

The eval file is a YAML list of ``{text, intent}``; ``intent: null`` marks an out-of-scope message, for which the
fallback is the right answer. Two agreements are reported between the reference (teacher) and each other encoder:

- ``top1_agreement``: same nearest intent, threshold ignored (does the student rank the examples like the teacher?)
- ``answer_agreement``: same final answer, threshold applied (would a user notice the swap?)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from distilkit.core.errors import DistilkitError
from distilkit.serve.chatbot import BotSpec, Embed, ExampleIndex


def load_eval_set(path: str | Path, spec: BotSpec) -> list[tuple[str, str | None]]:
    """(text, intent or None) pairs; intents must exist in the bot, and no text may be one of its examples."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list) or not raw:
        raise DistilkitError(f"{path}: expected a non-empty list of {{text, intent}} items")
    names = {intent.name for intent in spec.intents}
    examples = {e.lower() for intent in spec.intents for e in intent.examples}
    items: list[tuple[str, str | None]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or "intent" not in item:
            raise DistilkitError(f"{path}: item {i}: expected {{text: ..., intent: name or null}}")
        intent = item["intent"]
        if intent is not None and intent not in names:
            raise DistilkitError(f"{path}: item {i}: unknown intent {intent!r}")
        if item["text"].strip().lower() in examples:
            raise DistilkitError(f"{path}: item {i}: {item['text']!r} is one of the bot's examples, not held out")
        items.append((item["text"], intent))
    return items


def _predict(spec: BotSpec, embed: Embed, texts: list[str]) -> tuple[list[str], list[str | None], np.ndarray]:
    """Nearest intent of each text (threshold ignored), the bot's answer (None = fallback), and the scores."""
    owners, scores = ExampleIndex.build(spec, embed).nearest(embed(texts))
    nearest = [spec.intents[int(o)].name for o in owners]
    answers = [name if score >= spec.threshold else None for name, score in zip(nearest, scores, strict=True)]
    return nearest, answers, scores


def evaluate_bot(spec: BotSpec, items: list[tuple[str, str | None]], encoders: dict[str, Embed]) -> dict[str, Any]:
    """Per encoder: accuracy of the answers, top-1 accuracy on in-scope messages, fallback recall on the others;
    then each encoder's agreement with the first one (the reference)."""
    texts = [t for t, _ in items]
    gold = [g for _, g in items]
    in_scope = [i for i, g in enumerate(gold) if g is not None]
    out_scope = [i for i, g in enumerate(gold) if g is None]
    runs = {name: _predict(spec, embed, texts) for name, embed in encoders.items()}
    report: dict[str, Any] = {
        "messages": len(items),
        "in_scope": len(in_scope),
        "out_of_scope": len(out_scope),
        "threshold": spec.threshold,
        "encoders": {},
    }
    for name, (nearest, answers, scores) in runs.items():
        report["encoders"][name] = {
            "answer_accuracy": float(np.mean([a == g for a, g in zip(answers, gold, strict=True)])),
            "in_scope_top1_accuracy": float(np.mean([nearest[i] == gold[i] for i in in_scope])) if in_scope else None,
            "fallback_recall": float(np.mean([answers[i] is None for i in out_scope])) if out_scope else None,
            "mean_score": float(np.mean(scores)),
        }
    reference, (ref_nearest, ref_answers, _) = next(iter(runs.items()))
    report["reference"] = reference
    report["agreement"] = {
        name: {
            "top1_agreement": float(np.mean([a == b for a, b in zip(nearest, ref_nearest, strict=True)])),
            "answer_agreement": float(np.mean([a == b for a, b in zip(answers, ref_answers, strict=True)])),
        }
        for name, (nearest, answers, _) in runs.items()
        if name != reference
    }
    return report
