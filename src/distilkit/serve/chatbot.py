"""A retrieval chatbot: the intent whose example utterance is nearest to the message answers, if near enough.

The bot is a YAML file (see `examples/support-bot/intents.yaml`):

    name: support
    threshold: 0.6            # cosine similarity the best example must reach, else the fallback answers
    fallback: "Sorry, ..."
    intents:
      - name: order_status
        examples: ["where is my order", ...]
        responses: ["You can follow your parcel ...", ...]

Matching is nearest neighbour over the examples' sentence embeddings (cosine), computed once when the bot loads.
Nearest example rather than intent centroid: one intent often covers several phrasings that a centroid would blur.
Responses of an intent are used in turn, so a user asking twice does not get the same sentence twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from distilkit.core.errors import DistilkitError

Embed = Callable[[list[str]], np.ndarray]


@dataclass
class Intent:
    name: str
    examples: list[str]
    responses: list[str]


@dataclass
class BotSpec:
    """A parsed bot file."""

    name: str
    threshold: float
    fallback: str
    intents: list[Intent]


def _strings(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise DistilkitError(f"{path}: {where}: expected a non-empty list of non-empty strings")
    return [v.strip() for v in value]


def load_bot(path: str | Path) -> BotSpec:
    """Read and check a bot file; any problem is one line naming the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise DistilkitError(f"{path}: no such chatbot file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise DistilkitError(f"{path}:{mark.line + 1 if mark else '?'}: invalid YAML") from None
    if not isinstance(raw, dict):
        raise DistilkitError(f"{path}: expected a mapping with name, threshold, fallback, intents")
    threshold = raw.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not -1 <= threshold <= 1:
        raise DistilkitError(f"{path}: threshold: expected a cosine similarity between -1 and 1, got {threshold!r}")
    fallback = raw.get("fallback")
    if not isinstance(fallback, str) or not fallback.strip():
        raise DistilkitError(f"{path}: fallback: expected the answer given when no intent matches")
    intents_raw = raw.get("intents")
    if not isinstance(intents_raw, list) or not intents_raw:
        raise DistilkitError(f"{path}: intents: expected a non-empty list")
    intents: list[Intent] = []
    for i, item in enumerate(intents_raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise DistilkitError(f"{path}: intents[{i}]: expected a mapping with a name")
        name = item["name"].strip()
        if any(x.name == name for x in intents):
            raise DistilkitError(f"{path}: intents[{i}]: duplicate intent name {name!r}")
        intents.append(
            Intent(
                name,
                _strings(path, f"intent {name}: examples", item.get("examples")),
                _strings(path, f"intent {name}: responses", item.get("responses")),
            )
        )
    return BotSpec(str(raw.get("name") or path.stem), float(threshold), fallback.strip(), intents)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), so a dot product is a cosine similarity."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


@dataclass
class ExampleIndex:
    """Unit-length embeddings of every example utterance and the intent each belongs to."""

    vectors: np.ndarray
    owners: np.ndarray

    @classmethod
    def build(cls, spec: BotSpec, embed: Embed) -> ExampleIndex:
        texts = [e for intent in spec.intents for e in intent.examples]
        owners = [i for i, intent in enumerate(spec.intents) for _ in intent.examples]
        return cls(unit_rows(embed(texts)), np.asarray(owners, dtype=np.int64))

    def nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each query row: the index of the intent of its nearest example, and that cosine similarity."""
        sims = unit_rows(queries) @ self.vectors.T
        best = sims.argmax(axis=1)
        return self.owners[best], sims[np.arange(len(best)), best]


@dataclass
class Chatbot:
    """A bot file plus its example index: `reply(vector)` answers a message whose embedding is `vector`."""

    spec: BotSpec
    index: ExampleIndex
    _turns: dict[str, Iterator[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path, embed: Embed) -> Chatbot:
        spec = load_bot(path)
        return cls(spec, ExampleIndex.build(spec, embed))

    def reply(self, vector: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """``{"intent", "score", "response", "fallback"}``; below the threshold the intent is None."""
        owner, score = self.index.nearest(np.asarray(vector, dtype=np.float32)[None, :])
        score_value = float(score[0])
        if score_value < self.spec.threshold:
            return {"intent": None, "score": score_value, "response": self.spec.fallback, "fallback": True}
        intent = self.spec.intents[int(owner[0])]
        turns = self._turns.setdefault(intent.name, itertools.cycle(intent.responses))
        return {"intent": intent.name, "score": score_value, "response": next(turns), "fallback": False}
