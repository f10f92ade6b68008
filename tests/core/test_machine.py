"""The CPU facts every timing is recorded with: the model name and the INT8/bf16 vector extensions."""

from __future__ import annotations

from distilkit.core.machine import cpu_name, vector_extensions

AVX2_ONLY = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
SAPPHIRE = (
    "model name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    "flags\t\t: avx2 fma avx512f avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16 avx_vnni\n"
)


def test_vector_extensions_are_read_from_the_flags_in_a_fixed_order():
    assert vector_extensions(AVX2_ONLY) == ["AVX2", "FMA"]
    assert vector_extensions(SAPPHIRE) == [
        "AVX2",
        "FMA",
        "AVX-512",
        "AVX-512 VNNI",
        "AVX-VNNI",
        "AVX-512 BF16",
        "AMX",
        "AMX INT8",
        "AMX BF16",
    ]


def test_an_unreadable_cpuinfo_gives_no_extensions_and_a_platform_name():
    assert vector_extensions("") == []
    assert cpu_name(AVX2_ONLY) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert cpu_name("")  # falls back to the platform's processor or machine name


def test_this_machine_reports_what_its_cpuinfo_says():
    from pathlib import Path

    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    assert ("AVX2" in vector_extensions()) == (" avx2" in flags)
