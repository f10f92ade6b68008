#!/usr/bin/env bash
# Edge deployment figures on sentiment-rt: the teacher in a transformers pipeline, the PyTorch student, and the
# student's fp32 and INT8 bundles, all timed from raw text in one bench run (medians, interleaved).
#   bash benchmarks/edge_deployment.sh [TEACHER_DIR] [STUDENT_DIR] [OUT]   (defaults: the main job's models)
# BENCH_ARGS adds bench options (e.g. BENCH_ARGS='--threads 1'); DISTILKIT names the command (default: distilkit).
set -euo pipefail
teacher=${1:-runs/main/teacher/model}
student=${2:-runs/main/student/model}
out=${3:-runs/edge}
distilkit=${DISTILKIT:-distilkit}
$distilkit export "$student" --out "$out/fp32" --data sentiment-rt
$distilkit export "$student" --out "$out/int8" --data sentiment-rt --quantize auto
$distilkit bench "teacher=$teacher" "student=$student" "fp32=$out/fp32" "int8=$out/int8" \
    --test sentiment-rt --timing text --runs 30 --out "$out/bench" ${BENCH_ARGS:-}
