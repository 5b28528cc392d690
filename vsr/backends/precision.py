"""Which number format a learned model runs in, and why (``--precision auto``).

On a CUDA GPU ``auto`` is fp16. On a CPU it is bf16 where the CPU computes bf16 natively
(AVX512-BF16 or AMX instructions, read from /proc/cpuinfo) and PyTorch's oneDNN can use it: there
EDSR-baseline x2 runs 1.8-2.6x as fast as in fp32 (model only; 1.6-2.4x end to end on a shared machine)
and its Set5/Set14 PSNR moves by less than 0.02 dB (benchmarks/RESULTS.md). Everywhere else (older
x86, ARM, no /proc/cpuinfo) it is fp32: oneDNN emulates bf16 there, slower than fp32.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from vsr.errors import BackendError

# /proc/cpuinfo flags of x86 instructions that compute bf16 dot products in hardware.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # fp32 | fp16 | bf16
    reason: str  # one line for `vsr probe` and --json


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is absent or unreadable)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@functools.lru_cache(maxsize=None)
def _torch_cpu_bf16() -> bool:
    """Whether PyTorch's oneDNN has a bf16 path on this CPU (True also where it is only emulated)."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return False
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def native_bf16(flags: frozenset[str], torch_bf16: bool) -> str | None:
    """The evidence that this CPU runs bf16 natively (e.g. 'avx512_bf16'), or None."""
    if not torch_bf16:
        return None
    found = [f for f in NATIVE_BF16_FLAGS if f in flags]
    return "+".join(found) if found else None


def choose_precision(requested: str, device: str, *, flags: frozenset[str] | None = None,
                     torch_bf16: bool | None = None) -> PrecisionChoice:
    """The precision to run in on ``device`` for ``--precision requested`` (auto|fp32|fp16|bf16)."""
    if requested == "bf16" and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_bf16_supported():
            raise BackendError("this GPU does not support bf16: use --precision fp16 or fp32")
    if requested != "auto":
        return PrecisionChoice(requested, f"asked for with --precision {requested}")
    if device.startswith("cuda"):
        return PrecisionChoice("fp16", "CUDA GPU: fp16 tensor cores")
    flags = cpu_flags() if flags is None else flags
    torch_bf16 = _torch_cpu_bf16() if torch_bf16 is None else torch_bf16
    evidence = native_bf16(flags, torch_bf16)
    if evidence:
        return PrecisionChoice("bf16", f"CPU computes bf16 natively ({evidence}): ~2x fp32, PSNR within 0.02 dB (benchmarks/RESULTS.md)")
    if not torch_bf16:
        return PrecisionChoice("fp32", "PyTorch has no bf16 path on this CPU")
    return PrecisionChoice("fp32", "CPU has no native bf16 (no avx512_bf16/amx_bf16 flag): bf16 would be emulated, slower than fp32")


def fit_precision(choice: PrecisionChoice, supported: tuple[str, ...], requested: str, device: str, model: str) -> PrecisionChoice:
    """``choice`` where the model computes correctly in it; else the next best it supports, with the reason.

    spandrel marks architectures whose fp16 or bf16 output is wrong (DAT, SwinIR, ... overflow in fp16);
    an ONNX graph computes in its own input type. An explicit ``--precision`` the model cannot take is a
    usage error; ``auto`` falls back: fp16 -> bf16 (where the GPU has it) -> fp32, bf16 -> fp32."""
    if choice.precision in supported:
        return choice
    if requested != "auto":
        from vsr.errors import UsageError

        raise UsageError(f"--precision {requested}: {model} does not compute correctly in {requested} "
                         f"(it supports {', '.join(supported)}); use --precision {supported[0]} or auto")
    fallbacks = ["bf16", "fp32"] if choice.precision == "fp16" else ["fp32"]
    if "bf16" in fallbacks and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_bf16_supported():
            fallbacks.remove("bf16")
    picked = next((p for p in fallbacks if p in supported), supported[0])
    return PrecisionChoice(picked, f"{model} does not support {choice.precision} (the {choice.precision} choice: "
                                   f"{choice.reason}); {picked} is the best it computes correctly")
