"""Chatbot retrieval with a distilled encoder: does the student pick the intent the teacher picks?

Both encoders are embedding bundles (`distilkit export --task embedding`), run on the torch-free runtime exactly as
`distilkit serve` runs them. The first bundle is the reference (the teacher). Prints and writes a JSON report:
answer accuracy, in-scope top-1 accuracy and fallback recall of each encoder on the held-out eval set, and each
encoder's top-1 / answer agreement with the reference (see `distilkit.serve.chat_eval`).

    python benchmarks/chatbot_agreement.py teacher=BUNDLE student=BUNDLE \\
        --bot examples/support-bot/intents.yaml --eval examples/support-bot/eval.yaml --out report.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distilkit.runtime import Predictor
from distilkit.serve.chat_eval import evaluate_bot, load_eval_set
from distilkit.serve.chatbot import load_bot
from distilkit.serve.models import parse_bundle_args

HERE = Path(__file__).resolve().parent.parent / "examples" / "support-bot"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", help="NAME=BUNDLE embedding bundles; the first is the reference")
    parser.add_argument("--bot", type=Path, default=HERE / "intents.yaml")
    parser.add_argument("--eval", type=Path, default=HERE / "eval.yaml")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    spec = load_bot(args.bot)
    items = load_eval_set(args.eval, spec)
    encoders = {name: Predictor(path, threads=args.threads).embed for name, path in parse_bundle_args(args.bundles)}
    report = evaluate_bot(spec, items, encoders)
    report["bundles"] = {name: str(path) for name, path in parse_bundle_args(args.bundles)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
