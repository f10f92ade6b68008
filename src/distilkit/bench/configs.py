"""Architectures benched from their configs alone: random weights, a 2-label classification head, saved to disk.

`bench --configs bert-base,distilbert-base` measures the seed's claim (DistilBERT ~40% smaller, ~60% faster than
BERT-base) on this machine without any download. Known names:

- ``bert-base``: ``BertConfig()`` defaults (12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522): 109,483,778
  parameters with the head.
- ``distilbert-base``: ``DistilBertConfig()`` defaults (6 layers, dim 768, 12 heads, FFN 3072, vocab 30522):
  66,955,010 parameters with the head.

A name may carry overrides of config fields after colons, e.g. ``bert-base:num_hidden_layers=6:hidden_size=384:
intermediate_size=1536`` (a MiniLM-shaped BERT); values are read as JSON when they parse, else as strings. Colons,
not commas, so a list of such specs still splits on commas.

The model is built and saved in a short-lived subprocess (``python -m distilkit.bench.configs SPEC DIR``), so the
bench worker that later loads it from disk has a peak RSS of loading a model, not of initialising one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from distilkit.core.errors import DistilkitError

NUM_LABELS = 2
KNOWN = {
    "bert-base": ("BertConfig", "BertForSequenceClassification"),
    "distilbert-base": ("DistilBertConfig", "DistilBertForSequenceClassification"),
}


def parse_config_spec(spec: str) -> tuple[str, dict]:
    """Split ``NAME[:key=value...]`` into the known base name and its overrides; unknown names are user errors."""
    base, *parts = spec.strip().split(":")
    if base not in KNOWN:
        raise DistilkitError(f"config {spec!r}: unknown architecture {base!r} (known: {', '.join(KNOWN)})")
    overrides: dict = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise DistilkitError(f"config {spec!r}: expected key=value after ':', got {part!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return base, overrides


def build_config(spec: str):
    """The transformers config of `spec`, with a `NUM_LABELS`-way classification head."""
    import transformers

    base, overrides = parse_config_spec(spec)
    config_cls = getattr(transformers, KNOWN[base][0])
    defaults = config_cls().to_dict()
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise DistilkitError(f"config {spec!r}: unknown field(s) {', '.join(unknown)} for {KNOWN[base][0]}")
    names = [f"LABEL_{i}" for i in range(NUM_LABELS)]
    return config_cls(
        **overrides,
        num_labels=NUM_LABELS,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
    )


def model_class(spec: str):
    import transformers

    return getattr(transformers, KNOWN[parse_config_spec(spec)[0]][1])


def param_count(spec: str) -> int:
    """Parameters of the architecture (head included), counted on the meta device: no memory, no init."""
    import torch

    with torch.device("meta"):
        model = model_class(spec)(build_config(spec))
    return sum(p.numel() for p in model.parameters())


def save_config_model(spec: str, folder: str | Path, seed: int = 0) -> Path:
    """Build `spec` with random weights (seeded) and save it with `save_pretrained` (safetensors) into `folder`."""
    import torch

    config = build_config(spec)
    torch.manual_seed(seed)
    model = model_class(spec)(config)
    model.eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def materialize(spec: str, folder: str | Path) -> Path:
    """Save `spec` into `folder` from a subprocess (keeps the caller free of torch and of the init's memory)."""
    parse_config_spec(spec)  # fail fast, with the user's spelling, before starting a process
    done = subprocess.run(
        [sys.executable, "-m", "distilkit.bench.configs", spec, str(folder)], capture_output=True, text=True
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise DistilkitError(f"config {spec!r}: cannot build the model ({last})")
    return Path(folder)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m distilkit.bench.configs SPEC DIR", file=sys.stderr)
        return 2
    try:
        save_config_model(args[0], args[1])
    except DistilkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
