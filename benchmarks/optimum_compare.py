"""The distilkit runtime against Hugging Face Optimum on the same student: latency from raw text, interleaved.

Optimum (`optimum[onnxruntime]`) pins an older transformers than distilkit's, so this script runs in a separate
virtual environment holding torch, optimum[onnxruntime] and tokenizers; distilkit's runtime needs only
onnxruntime, tokenizers and numpy, so it is imported from the source tree (PYTHONPATH=src):

    python3 -m venv /tmp/venv-optimum
    /tmp/venv-optimum/bin/pip install torch==2.13.0 'optimum[onnxruntime]'
    PYTHONPATH=src /tmp/venv-optimum/bin/python benchmarks/optimum_compare.py \\
        --student runs/main/student/model --bundle int8=runs/edge/int8 --bundle fp32=runs/edge/fp32 \\
        --test ~/.cache/distilkit/data/sentiment-rt/test.csv --out runs/edge/optimum

What a user of Optimum would do with the student: export it (`ORTModelForSequenceClassification`, export=True),
optimise it (`ORTOptimizer`, level 2: fused attention/GELU/LayerNorm), quantise the export dynamically to INT8
(`ORTQuantizer`, `AutoQuantizationConfig.avx2`, per channel), then run each in a transformers `pipeline`. Each
candidate is timed on the same texts, cut to exactly 128 or 32 tokens, in interleaved blocks; medians are reported
with test accuracy and size on disk, in `optimum_compare.json` and `.md`.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path


def read_test(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def optimum_candidates(student: Path, work: Path, threads: int) -> dict:
    """Optimum's fp32 export and its optimised INT8 variant, each as a text-classification pipeline."""
    import onnxruntime as ort
    from optimum.onnxruntime import ORTModelForSequenceClassification, ORTOptimizer, ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig, OptimizationConfig
    from transformers import AutoTokenizer, pipeline

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    tokenizer = AutoTokenizer.from_pretrained(student)
    exported = work / "optimum-fp32"
    if not (exported / "model.onnx").is_file():
        ORTModelForSequenceClassification.from_pretrained(student, export=True).save_pretrained(exported)
        tokenizer.save_pretrained(exported)
    optimized = work / "optimum-o2"
    if not (optimized / "model_optimized.onnx").is_file():
        optimizer = ORTOptimizer.from_pretrained(ORTModelForSequenceClassification.from_pretrained(exported))
        optimizer.optimize(OptimizationConfig(optimization_level=2), save_dir=optimized)
        tokenizer.save_pretrained(optimized)
    # Optimum's quantizer fails on its own O2 graph with this onnxruntime (no type for the fused ops' outputs), so
    # INT8 is made from the plain export, as Optimum's quantization guide does; ORT fuses what it can at load.
    quantized = work / "optimum-int8"
    if not (quantized / "model_quantized.onnx").is_file():
        quantizer = ORTQuantizer.from_pretrained(exported, file_name="model.onnx")
        quantizer.quantize(AutoQuantizationConfig.avx2(is_static=False, per_channel=True), save_dir=quantized)
        tokenizer.save_pretrained(quantized)
    out = {}
    for name, folder, file in (
        ("optimum fp32", exported, "model.onnx"),
        ("optimum O2 fp32", optimized, "model_optimized.onnx"),
        ("optimum INT8", quantized, "model_quantized.onnx"),
    ):
        model = ORTModelForSequenceClassification.from_pretrained(folder, file_name=file, session_options=options)
        pipe = pipeline("text-classification", model=model, tokenizer=tokenizer)
        out[name] = {
            "run": lambda texts, pipe=pipe: pipe(texts, batch_size=len(texts)),
            "labels": lambda texts, pipe=pipe: [r["label"] for r in pipe(texts, batch_size=64, truncation=True)],
            "disk_bytes": (folder / file).stat().st_size,
        }
    return out


def distilkit_candidates(bundles: list[str], threads: int) -> dict:
    from distilkit.runtime import Predictor

    out = {}
    for spec in bundles:
        name, _, path = spec.partition("=")
        predictor = Predictor(path, batch_size=64, threads=threads)
        out[f"distilkit {name}"] = {
            "run": predictor.predict,
            "labels": lambda texts, p=predictor: [r["label"] for r in p.predict(texts)],
            "disk_bytes": (Path(path) / "model.onnx").stat().st_size,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", type=Path, required=True, help="the student's HF folder")
    parser.add_argument("--bundle", action="append", default=[], help="NAME=BUNDLE_DIR (repeatable)")
    parser.add_argument("--test", type=Path, required=True, help="test CSV (text,label)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from distilkit.bench.backends import SETTINGS  # the bench's shapes; a torch-free module
    from distilkit.bench.texts import load_tokenizer, texts_of_length

    args.out.mkdir(parents=True, exist_ok=True)
    texts, gold = read_test(args.test)
    tokenizer = load_tokenizer(args.student)
    timing_texts = {seq: texts_of_length(tokenizer, texts, seq, 64) for seq in (128, 32)}
    inputs = {
        name: [timing_texts[seq][i : i + batch] for i in range(0, 64 - batch + 1, batch)]
        for name, (batch, seq) in SETTINGS.items()
    }
    candidates = optimum_candidates(args.student, args.out, args.threads)
    candidates.update(distilkit_candidates(args.bundle, args.threads))
    seconds = {c: {s: [] for s in SETTINGS} for c in candidates}
    for cand in candidates.values():
        for items in inputs.values():
            for i in range(args.warmup):
                cand["run"](items[i % len(items)])
    blocks = 5
    for r in range(blocks):
        order = list(candidates) if r % 2 == 0 else list(candidates)[::-1]
        for setting, items in inputs.items():
            for name in order:
                for i in range(args.runs // blocks):
                    batch = items[(r * args.runs + i) % len(items)]
                    start = time.perf_counter()
                    candidates[name]["run"](batch)
                    seconds[name][setting].append(time.perf_counter() - start)
    results = {}
    for name, cand in candidates.items():
        predicted = cand["labels"](texts)
        results[name] = {
            "latency_ms_p50": {s: round(1000 * statistics.median(v), 3) for s, v in seconds[name].items()},
            "throughput_seq_s_b32_s128": round(32 / statistics.median(seconds[name]["b32_s128"]), 2),
            "accuracy": sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold),
            "disk_bytes": cand["disk_bytes"],
            "runs": len(seconds[name]["b1_s128"]),
        }
    (args.out / "optimum_compare.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "| candidate | b1 s128 p50 ms | b1 s32 p50 ms | b32 s128 seq/s | accuracy | disk MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lat = r["latency_ms_p50"]
        lines.append(
            f"| {name} | {lat['b1_s128']:.2f} | {lat['b1_s32']:.2f} | {r['throughput_seq_s_b32_s128']:.1f} "
            f"| {r['accuracy']:.4f} | {r['disk_bytes'] / 1e6:.1f} |"
        )
    (args.out / "optimum_compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
