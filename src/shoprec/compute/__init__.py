"""Where torch work runs and in what precision, chosen from what this machine reports.

bf16 autocast pays only where the hardware has native bf16 matrix units (AMX or AVX512-BF16 on
a CPU, or a GPU that supports bf16): on an AVX2-only CPU torch emulates it and the text encoder
runs about 6x slower than in fp32. So ``auto`` asks torch what the CPU (or GPU) can do and
never picks bf16 where the answer is no. Serving never uses this module: it scores with numpy.

:mod:`shoprec.compute.ann` beside it is the approximate nearest-neighbour index (faiss) that
large catalogs search through.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16"]
Device = Literal["cpu", "cuda"]


@dataclass(frozen=True)
class Capability:
    """What torch reports about one device.

    Attributes
    ----------
    device : ``"cpu"`` or ``"cuda"``.
    native_bf16 : whether bf16 matrix products run on native units (AMX / AVX512-BF16 on a CPU,
        ``torch.cuda.is_bf16_supported()`` on a GPU).
    description : what was seen, for logs and benchmarks (e.g. ``"AVX2"``,
        ``"AVX512, AVX512-BF16, AMX"``, ``"NVIDIA H200"``).
    """

    device: Device
    native_bf16: bool
    description: str


@lru_cache(maxsize=2)
def capability(device: Device = "cpu") -> Capability:
    """Ask torch what ``device`` can do (cached: the hardware does not change under us)."""
    import torch

    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        return Capability("cuda", bool(torch.cuda.is_bf16_supported()), name)
    seen = [torch.backends.cpu.get_cpu_capability()]
    bf16 = bool(torch.cpu._is_avx512_bf16_supported())
    amx = bool(torch.cpu._is_amx_tile_supported())
    seen += ["AVX512-BF16"] * bf16 + ["AMX"] * amx
    return Capability("cpu", bf16 or amx, ", ".join(seen))


def choose_device(setting: str = "auto") -> Device:
    """``"cuda"`` when asked for, or with ``auto`` when torch sees a GPU; else ``"cpu"``.

    Raises
    ------
    ValueError
        ``setting`` is ``"cuda"`` but torch sees no GPU (a silent CPU run would hide it).
    """
    import torch

    if setting not in ("auto", "cpu", "cuda"):
        raise ValueError(f"SHOPREC_DEVICE must be auto, cpu or cuda, not {setting!r}")
    if setting == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if setting == "cuda":
        raise ValueError("SHOPREC_DEVICE=cuda but torch sees no CUDA device")
    return "cpu"


def choose_precision(setting: str, native_bf16: bool) -> Precision:
    """The precision to run: ``auto`` takes bf16 only where ``native_bf16``; an explicit
    ``fp32`` or ``bf16`` is obeyed (bf16 without native units is logged as slow)."""
    if setting not in ("auto", "fp32", "bf16"):
        raise ValueError(f"SHOPREC_PRECISION must be auto, fp32 or bf16, not {setting!r}")
    if setting == "auto":
        return "bf16" if native_bf16 else "fp32"
    if setting == "bf16" and not native_bf16:
        log.warning("bf16 asked for on hardware without native bf16 units: expect it to be slow")
    return setting  # type: ignore[return-value]


def free_cores() -> int:
    """Cores this process may use less those other processes keep busy (1-minute load
    average), at least 1: a training run beside a busy server should not fight it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    # whole cores kept busy: a load of 0.7 still leaves every core mostly free
    busy = int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


@dataclass(frozen=True)
class Compute:
    """The resolved choice for torch work: device, precision and what they were chosen from."""

    device: Device
    precision: Precision
    capability: Capability

    @property
    def bf16(self) -> bool:
        """Whether work runs under bf16 autocast."""
        return self.precision == "bf16"

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on the device when chosen, else a no-op context."""
        import torch

        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=torch.bfloat16)

    def describe(self) -> str:
        """One line for logs and reports."""
        native = "native bf16" if self.capability.native_bf16 else "no native bf16"
        return f"{self.device} ({self.capability.description}; {native}) -> {self.precision}"


def resolve(precision: str | None = None, device: str | None = None) -> Compute:
    """The device and precision for torch work: explicit arguments first, then the
    ``SHOPREC_PRECISION`` / ``SHOPREC_DEVICE`` settings."""
    if precision is None or device is None:
        from shoprec.settings import Settings

        s = Settings()
        precision = precision or s.precision
        device = device or s.device
    dev = choose_device(device)
    cap = capability(dev)
    return Compute(dev, choose_precision(precision, cap.native_bf16), cap)


def configure_threads(threads: int = 0) -> int:
    """Set torch's intra-op threads: ``threads`` when positive, else :func:`free_cores`.
    Returns the count set."""
    import torch

    n = threads if threads > 0 else free_cores()
    torch.set_num_threads(n)
    return n
