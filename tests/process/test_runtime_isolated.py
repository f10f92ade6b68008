"""The edge install in a fresh virtual environment: `pip install distilkit` with no extra, so no torch anywhere.

This is the deployment the README describes (`pip install .`, then `distilkit predict BUNDLE TEXT`). A subprocess
check in the main environment can only show that the runtime does not *import* torch; here torch is not even
installed, so an import slipped in anywhere (distilkit/__init__, the CLI modules, distilkit.core, a helper) fails the
test, and so does a runtime dependency missing from pyproject.toml's base dependencies. Every package is pinned to
its version in this environment (a constraints file), so pip finds them in its cache after the first run; it still
asks the package index, so without one the test skips (fails under CI=true).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest
from conftest import require_registry, save_tiny_model
from export_helpers import FRESH_TEXTS

import distilkit
from distilkit.export import export_bundle
from distilkit.runtime import Predictor

REPO = Path(distilkit.__file__).resolve().parents[2]
TRAINING_ONLY = ("torch", "transformers", "accelerate", "datasets", "scikit-learn")

SCRIPT = """
import json, sys
from importlib import metadata
from distilkit.runtime import Predictor
predictor = Predictor(sys.argv[1], batch_size=2)
results = predictor.predict(json.loads(sys.argv[2]))
loaded = sorted(m for m in ("torch", "transformers", "onnx", "typer") if m in sys.modules)
try:
    import torch  # noqa: F401
    torch_importable = True
except ImportError:
    torch_importable = False
installed = sorted(d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions())
print(json.dumps({"results": results, "loaded": loaded, "torch_importable": torch_importable, "installed": installed}))
"""


def _edge_source(dest: Path) -> Path:
    """The project's files pip builds from, copied: no build/ left behind in the checkout, and none reused."""
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("distilkit is not imported from a source checkout")
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


def _this_environment(path: Path) -> Path:
    """A constraints file pinning every package of this environment (distilkit itself aside) to its version here."""
    pins = {
        d.metadata["Name"].lower(): f"{d.metadata['Name']}=={d.version}"
        for d in metadata.distributions()
        if d.metadata["Name"] and d.metadata["Name"].lower() != "distilkit"
    }
    path.write_text("\n".join(sorted(pins.values())) + "\n")
    return path


def test_the_edge_install_runs_bundles_without_torch(tmp_path):
    # pip finds even the wheels its cache holds through the index: without one this skips (fails under CI=true)
    require_registry(*(f"{name}=={metadata.version(name)}" for name in ("onnxruntime", "tokenizers", "numpy")))
    bundle = tmp_path / "bundle"
    export_bundle(save_tiny_model(tmp_path / "model"), bundle)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)  # no torch visible from here on
    python, bin_dir = env_dir / "bin" / "python", env_dir / "bin"
    source = _edge_source(tmp_path / "source")
    constraints = _this_environment(tmp_path / "constraints.txt")
    # This environment's pip installs into the new one (`--python`): seeding pip there would cost ~5 s more.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile"]
        + ["-c", str(constraints), str(source)],  # the README's edge install: `pip install .`, no extra
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-2000:]

    done = subprocess.run(
        [str(python), "-c", SCRIPT, str(bundle), json.dumps(FRESH_TEXTS)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert not set(TRAINING_ONLY) & set(report["installed"]), report["installed"]
    assert {"distilkit", "onnxruntime", "tokenizers", "numpy", "typer", "rich", "pyyaml"} <= set(report["installed"])
    assert report["torch_importable"] is False
    assert report["loaded"] == []
    expected = Predictor(bundle, batch_size=2).predict(FRESH_TEXTS)
    assert [r["label"] for r in report["results"]] == [r["label"] for r in expected]
    for got, want in zip(report["results"], expected, strict=True):
        assert abs(got["score"] - want["score"]) < 1e-6

    # The `distilkit` console script: its help lists every command, `distilkit predict BUNDLE TEXT...` runs a bundle.
    help_text = subprocess.run([str(bin_dir / "distilkit"), "--help"], capture_output=True, text=True, env=env)
    assert help_text.returncode == 0, help_text.stderr[-2000:]
    assert "finetune" in help_text.stdout and "predict" in help_text.stdout
    predict = subprocess.run(
        [str(bin_dir / "distilkit"), "predict", str(bundle), *FRESH_TEXTS[:2]], capture_output=True, text=True, env=env
    )
    assert predict.returncode == 0, predict.stderr[-2000:]
    lines = [json.loads(line) for line in predict.stdout.splitlines()]
    assert [line["label"] for line in lines] == [r["label"] for r in expected[:2]]
    assert [line["text"] for line in lines] == FRESH_TEXTS[:2]

    # The shell entry point that needs no typer: `python -m distilkit.runtime BUNDLE TEXT...`.
    cli = subprocess.run(
        [str(python), "-m", "distilkit.runtime", str(bundle), FRESH_TEXTS[0]], capture_output=True, text=True, env=env
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert json.loads(cli.stdout)["label"] == expected[0]["label"]

    # Training needs the [train] extra: one line saying so, exit 2, nothing written.
    out = tmp_path / "ft"
    finetune = subprocess.run(
        [str(bin_dir / "distilkit"), "finetune", "--data", "sentiment-rt", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert finetune.returncode == 2, finetune.stderr[-2000:]
    assert finetune.stderr == "error: distilkit finetune needs the training packages: pip install 'distilkit[train]'\n"
    assert not out.exists()
    # ...and so does the bench, whose missing package (psutil, even for a bundle) shows up in its worker process.
    bench = subprocess.run(
        [str(bin_dir / "distilkit"), "bench", str(bundle), "--runs", "1", "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bench.returncode == 2, bench.stderr[-2000:]
    assert bench.stderr.endswith("error: distilkit bench needs the training packages: pip install 'distilkit[train]'\n")
