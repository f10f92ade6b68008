"""What the CPU can do: its model name and the vector extensions INT8 and bf16 speed depend on.

The project's machines differ from one day to the next (one had AVX2 only, where INT8 gave ~1.1x; another AVX-512
VNNI, where the INT8 student ran 8x faster than PyTorch fp32), so every timing is recorded with these.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

VECTOR_EXTENSIONS = {
    "avx2": "AVX2",
    "fma": "FMA",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "amx_tile": "AMX",
    "amx_int8": "AMX INT8",
    "amx_bf16": "AMX BF16",
}
"""/proc/cpuinfo flag → the name a reader knows, for the extensions that speed up INT8 and bf16 matrix products."""


@functools.cache
def _cpuinfo() -> str:
    """/proc/cpuinfo, read once: `--precision auto` asks for the flags wherever a forward pass is set up."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_name(cpuinfo: str | None = None) -> str:
    for line in (cpuinfo if cpuinfo is not None else _cpuinfo()).splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def vector_extensions(cpuinfo: str | None = None) -> list[str]:
    """The `VECTOR_EXTENSIONS` this CPU has, in that table's order (empty where /proc/cpuinfo is unreadable)."""
    flags: set[str] = set()
    for line in (cpuinfo if cpuinfo is not None else _cpuinfo()).splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return [name for flag, name in VECTOR_EXTENSIONS.items() if flag in flags]


BF16_EXTENSIONS = ("AVX-512 BF16", "AMX BF16")
"""Extensions with bf16 matrix-product instructions: without them PyTorch emulates bf16, slower than fp32."""


def has_fast_bf16(cpuinfo: str | None = None) -> bool:
    """True when this CPU multiplies bf16 matrices natively (AVX-512 BF16 or AMX BF16)."""
    return any(name in BF16_EXTENSIONS for name in vector_extensions(cpuinfo))
