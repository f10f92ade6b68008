"""Every transfer set beside every benchmark: its size and source, and how many of its texts equal (in
`data.transfer.normal_form`) a train, dev or test text of each benchmark. `distil --transfer` drops the dev/test ones
of the task it trains; this table shows what there is to drop, and the train overlap it keeps.

    python benchmarks/transfer_sets.py                      # benchmarks from the distilkit cache (fetched if absent)
    python benchmarks/transfer_sets.py --benchmarks ../shared/data --out runs/transfer-sets.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distilkit.data.classification import load_classification
from distilkit.data.fetch import DATASETS, TRANSFER_SETS, get_dataset
from distilkit.data.tagged import load_token_data
from distilkit.data.transfer import normal_form, read_transfer_texts, split_texts


def benchmark_texts(root: Path | None) -> dict[str, dict[str, set[str]]]:
    """Normal forms of each benchmark's split texts (a tagged sentence's words joined by spaces)."""
    out = {}
    for name in DATASETS:
        folder = root / name if root is not None else get_dataset(name)
        tokens = name in ("pos-oanc", "ner-bbc-silver")
        data = load_token_data(folder, unseen_tags="drop") if tokens else load_classification(folder)
        splits = {"train": data.train, "dev": data.dev, "test": data.test}
        out[name] = {split: {normal_form(t) for t in split_texts(s)} for split, s in splits.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=Path, help="folder holding the benchmark folders (default: the cache)")
    parser.add_argument("--out", type=Path, help="write the table as JSON here too")
    args = parser.parse_args()
    benchmarks = benchmark_texts(args.benchmarks)
    rows = []
    for name, spec in TRANSFER_SETS.items():
        path = get_dataset(name) / spec.files[0]
        texts = read_transfer_texts(name)
        forms = {normal_form(t) for t in texts}
        overlap = {b: {split: len(forms & s) for split, s in splits.items()} for b, splits in benchmarks.items()}
        rows.append(
            {
                "name": name,
                "source": f"{spec.requirement} {spec.member}",
                "texts": len(texts),
                "distinct": len(forms),
                "bytes": path.stat().st_size,
                "overlap": overlap,
            }
        )
        print(
            f"{name}: {len(texts):,} texts ({len(forms):,} distinct), {path.stat().st_size:,} bytes, {spec.requirement}"
        )
        for b, counts in overlap.items():
            print(f"    {b:15s} " + "  ".join(f"{split} {n:,}" for split, n in counts.items()))
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
