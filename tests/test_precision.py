"""``--precision auto``: bf16 on CPUs that compute it natively, fp32 on the others, fp16 on CUDA."""

from __future__ import annotations

import pytest

from vsr.backends.precision import choose_precision, cpu_flags, native_bf16

ZEN4 = frozenset("fpu sse2 avx2 avx512f avx512bw avx512_vnni avx512_bf16".split())
SKYLAKE_SP = frozenset("fpu sse2 avx2 avx512f avx512bw avx512vl avx512dq".split())
SAPPHIRE_RAPIDS = frozenset("avx512f avx512_bf16 amx_tile amx_bf16 amx_int8".split())


@pytest.mark.parametrize("flags, torch_bf16, expected", [
    (ZEN4, True, "bf16"),
    (SAPPHIRE_RAPIDS, True, "bf16"),
    (SKYLAKE_SP, True, "fp32"),  # oneDNN emulates bf16 on plain AVX512: slower than fp32
    (frozenset({"avx2", "fma"}), False, "fp32"),
    (ZEN4, False, "fp32"),  # a PyTorch build without oneDNN bf16
    (frozenset(), True, "fp32"),  # no /proc/cpuinfo (macOS, Windows)
])
def test_auto_on_cpu_follows_the_instructions(flags, torch_bf16, expected) -> None:
    choice = choose_precision("auto", "cpu", flags=flags, torch_bf16=torch_bf16)
    assert choice.precision == expected
    assert choice.reason  # said in `vsr probe` and --json


def test_reason_names_the_evidence() -> None:
    assert "avx512_bf16" in choose_precision("auto", "cpu", flags=ZEN4, torch_bf16=True).reason
    assert "amx_bf16+avx512_bf16" in choose_precision("auto", "cpu", flags=SAPPHIRE_RAPIDS, torch_bf16=True).reason
    assert "no native bf16" in choose_precision("auto", "cpu", flags=SKYLAKE_SP, torch_bf16=True).reason


def test_explicit_precision_and_cuda() -> None:
    assert choose_precision("fp32", "cpu", flags=ZEN4, torch_bf16=True).precision == "fp32"
    assert choose_precision("bf16", "cpu", flags=SKYLAKE_SP, torch_bf16=True).precision == "bf16"
    assert choose_precision("auto", "cuda:0", flags=ZEN4, torch_bf16=True).precision == "fp16"


def test_cpu_flags_reads_x86_and_arm_cpuinfo(tmp_path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert {"avx512_bf16", "avx512f"} <= cpu_flags(x86)
    assert "bf16" in cpu_flags(arm)
    assert native_bf16(cpu_flags(arm), True) is None  # ARM bf16 is not claimed (not measured)
    assert cpu_flags(tmp_path / "missing") == frozenset()
