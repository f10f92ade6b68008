"""The runtime in a fresh virtual environment holding only onnxruntime, tokenizers and numpy: no torch anywhere.

This is the deployment the README describes (`pip install --no-deps` plus the runtime packages). A subprocess check
in the main environment can only show that the runtime does not *import* torch; here torch is not even installed, so
an import slipped in anywhere (distilkit/__init__, distilkit.core.errors, a helper) fails the test. The packages are
pinned to the versions of this environment, so pip finds them in its cache after the first run; it still asks the
package index, so without one the test skips (fails under CI=true).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

from conftest import require_registry, save_tiny_model
from export_helpers import FRESH_TEXTS

import distilkit
from distilkit.export import export_bundle
from distilkit.runtime import Predictor

RUNTIME_PACKAGES = ("onnxruntime", "tokenizers", "numpy")
SOURCE = Path(distilkit.__file__).resolve().parent.parent

SCRIPT = """
import json, sys
from distilkit.runtime import Predictor
predictor = Predictor(sys.argv[1], batch_size=2)
results = predictor.predict(json.loads(sys.argv[2]))
loaded = sorted(m for m in ("torch", "transformers", "onnx", "typer") if m in sys.modules)
try:
    import torch  # noqa: F401
    torch_importable = True
except ImportError:
    torch_importable = False
print(json.dumps({"results": results, "loaded": loaded, "torch_importable": torch_importable}))
"""


def test_runtime_works_in_a_venv_without_torch(tmp_path):
    pins = [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]
    require_registry(*pins)  # pip finds even the wheels its cache holds through the index
    bundle = tmp_path / "bundle"
    export_bundle(save_tiny_model(tmp_path / "model"), bundle)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)  # no torch visible from here on
    python = env_dir / "bin" / "python"
    # This environment's pip installs into the new one (`--python`): seeding pip there would cost ~5 s more.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile", *pins],
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    done = subprocess.run(
        [str(python), "-c", SCRIPT, str(bundle), json.dumps(FRESH_TEXTS)],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(SOURCE)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["torch_importable"] is False
    assert report["loaded"] == []
    expected = Predictor(bundle, batch_size=2).predict(FRESH_TEXTS)
    assert [r["label"] for r in report["results"]] == [r["label"] for r in expected]
    for got, want in zip(report["results"], expected, strict=True):
        assert abs(got["score"] - want["score"]) < 1e-6
    # The shell entry point that needs no typer: `python -m distilkit.runtime BUNDLE TEXT...`.
    cli = subprocess.run(
        [str(python), "-m", "distilkit.runtime", str(bundle), FRESH_TEXTS[0]],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(SOURCE)},
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert json.loads(cli.stdout)["label"] == expected[0]["label"]
