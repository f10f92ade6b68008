"""Run a Triton model repository on this machine, without a container: the Triton server of the `nvidia-pytriton` wheel.

In production Triton comes as NVIDIA's container (``tritonserver --model-repository=...``) or behind KServe; neither
installs from a package registry. The ``nvidia-pytriton`` wheel (PyPI, manylinux_2_35: glibc 2.35 or newer) ships a
real ``tritonserver`` binary (2.51 in pytriton 0.7) with its Python backend and one backend stub per Python version,
but no onnxruntime backend: write the repository with ``--onnx-backend python`` for it.

pytriton pins numpy below 2, so it lives in its own environment with the torch-free distilkit, which the repository's
Python models import::

    python3 -m venv ENGINE && ENGINE/bin/pip install -e '.[engine]'
    python -m distilkit.export.triton_local REPO --python ENGINE/bin/python --port 8000

What this module adds to the binary is what pytriton's own launcher does: a backend folder holding the Python backend
and the stub built for the environment's Python, the wheel's libraries and that Python's ``libpython`` on the library
path, and the environment's ``bin`` first on PATH, so that the stub's interpreter finds the environment's packages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from distilkit.core.errors import DistilkitError

LOOPBACK = "127.0.0.1"
# Asked of the engine's Python: where pytriton's server lies, which stub fits it, where its libpython is.
PROBE = (
    "import json, sys, sysconfig, pathlib, pytriton; "
    "print(json.dumps({'pytriton': str(pathlib.Path(pytriton.__file__).parent), "
    "'version': f'{sys.version_info[0]}.{sys.version_info[1]}', 'libdir': sysconfig.get_config_var('LIBDIR')}))"
)


@dataclass(frozen=True)
class Engine:
    """A Triton server installed by `nvidia-pytriton` into the environment of `python`."""

    python: Path
    server: Path
    libraries: Path
    python_backend: Path
    stub: Path
    libpython_dir: Path

    @classmethod
    def find(cls, python: Path) -> Engine:
        """The engine of the environment whose interpreter is `python`; a one-line error when it has none."""
        python = Path(python)
        if not python.exists():
            raise DistilkitError(f"{python}: no such Python")
        done = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            hint = "pip install 'distilkit[engine]' there"
            raise DistilkitError(f"{python}: no Triton engine there ({last}); {hint}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        root = Path(found["pytriton"]) / "tritonserver"
        engine = cls(
            python=python,
            server=root / "bin" / "tritonserver",
            libraries=Path(found["pytriton"]).parent / "nvidia_pytriton.libs",
            python_backend=root / "backends" / "python",
            stub=root / "python_backend_stubs" / found["version"] / "triton_python_backend_stub",
            libpython_dir=Path(found["libdir"]),
        )
        for path in (engine.server, engine.python_backend / "libtriton_python.so", engine.stub):
            if not path.exists():
                raise DistilkitError(f"{path}: missing from the nvidia-pytriton install")
        return engine

    def backends(self, workdir: Path) -> Path:
        """A backend folder for the server: the Python backend, with the stub of this environment's Python."""
        folder = Path(workdir) / "backends" / "python"
        folder.mkdir(parents=True, exist_ok=True)
        links = {
            "libtriton_python.so": self.python_backend / "libtriton_python.so",
            "triton_python_backend_utils.py": self.python_backend / "triton_python_backend_utils.py",
            "triton_python_backend_stub": self.stub,
        }
        for name, target in links.items():
            link = folder / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(target)
        return folder.parent

    def command(
        self, repository: Path, workdir: Path, http_port: int, grpc_port: int, metrics_port: int | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """The server's command line and environment for `repository`, listening on 127.0.0.1 only."""
        argv = [
            str(self.server),
            f"--model-repository={Path(repository).resolve()}",
            f"--backend-directory={self.backends(workdir)}",
            f"--http-address={LOOPBACK}",
            f"--http-port={http_port}",
            f"--grpc-address={LOOPBACK}",
            f"--grpc-port={grpc_port}",
            "--log-verbose=0",
        ]
        if metrics_port is None:
            argv.append("--allow-metrics=false")
        else:
            argv += [f"--metrics-address={LOOPBACK}", f"--metrics-port={metrics_port}"]
        env = dict(os.environ)
        library_path = [str(self.libraries), str(self.libpython_dir)]
        if env.get("LD_LIBRARY_PATH"):
            library_path.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = ":".join(library_path)
        env["PATH"] = f"{self.python.parent}:{env.get('PATH', '')}"
        return argv, env


def main(argv: list[str] | None = None) -> None:
    """Serve a repository with the engine of another environment until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", type=Path, help="folder written by distilkit export-triton")
    parser.add_argument("--python", type=Path, required=True, help="interpreter of the environment with the engine")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (Open Inference Protocol)")
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--workdir", type=Path, default=Path(".triton"), help="where the backend folder is made")
    args = parser.parse_args(argv)
    try:
        command, env = Engine.find(args.python).command(args.repository, args.workdir, args.port, args.grpc_port)
    except DistilkitError as e:
        sys.exit(f"error: {e}")
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
