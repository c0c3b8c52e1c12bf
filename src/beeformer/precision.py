"""The precision a sentence-Transformer runs in, shared by training and encoding: ``fp32``, ``bf16`` or ``auto``.

``bf16`` is autocast: float32 weights, with matrix products (linear layers, attention) run in bfloat16 and
accumulated in float32; what leaves the model is cast to float32, so A, the loss and the embedding files are
float32 either way. ``auto`` picks bf16 where the hardware multiplies bf16 natively, so faster than fp32: CUDA
GPUs from Ampere on (``torch.cuda.is_bf16_supported(including_emulation=False)``), and x86 CPUs with AVX512-BF16
or AMX-BF16. On a CPU it reads the ``avx512_bf16`` and ``amx_bf16`` flags of
``torch.cpu.get_capabilities()``: the instruction sets cpuinfo found at run time, the map that
``torch.cpu._is_avx512_bf16_supported()`` also reads (``torch.backends.cpu.get_cpu_capability()`` only names the
kernel level, "AVX512" with or without bf16). Without them bf16 is emulated, no faster than fp32: fp32 it is.
"""

from __future__ import annotations

from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16"]


def native_bf16_cpu() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX512-BF16 or AMX-BF16)."""
    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def autocast_dtype(precision: Precision, device: torch.device) -> torch.dtype | None:
    """``torch.bfloat16`` to autocast to, or None to run in fp32."""
    if precision == "auto":
        if device.type == "cuda":
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        else:
            native = device.type == "cpu" and native_bf16_cpu()
        return torch.bfloat16 if native else None
    return torch.bfloat16 if precision == "bf16" else None


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``dtype`` on ``device``, or a no-op when ``dtype`` is None."""
    return torch.autocast(device_type=device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)
