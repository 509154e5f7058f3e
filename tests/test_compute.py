"""Precision, device and threads follow what the machine reports: ``auto`` never runs bf16
where the CPU has no native bf16 units (emulated bf16 is several times slower than fp32)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from shoprec import compute
from shoprec.compute import Capability, choose_device, choose_precision, resolve
from shoprec.settings import Settings

CPUINFO = Path("/proc/cpuinfo")


def cpu_flags() -> set[str]:
    """The kernel's CPU flags (an independent witness of what torch reports)."""
    for line in CPUINFO.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_auto_takes_bf16_only_with_native_units() -> None:
    assert choose_precision("auto", native_bf16=False) == "fp32"
    assert choose_precision("auto", native_bf16=True) == "bf16"
    # an explicit choice is obeyed either way
    assert choose_precision("fp32", native_bf16=True) == "fp32"
    assert choose_precision("bf16", native_bf16=False) == "bf16"
    with pytest.raises(ValueError, match="SHOPREC_PRECISION"):
        choose_precision("fp16", native_bf16=True)


@pytest.mark.parametrize("native", [False, True])
def test_resolve_follows_the_capability_check(
    monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    seen = Capability("cpu", native, "AVX512, AVX512-BF16" if native else "AVX2")
    monkeypatch.setattr(compute, "capability", lambda device="cpu": seen)
    chosen = resolve("auto", "cpu")
    assert chosen.precision == ("bf16" if native else "fp32")
    assert chosen.bf16 is native
    assert ("no native bf16" in chosen.describe()) is not native


@pytest.mark.skipif(not CPUINFO.is_file(), reason="no /proc/cpuinfo to check torch against")
def test_capability_agrees_with_the_kernels_cpu_flags() -> None:
    flags = cpu_flags()
    native = bool({"avx512_bf16", "amx_bf16"} & flags)
    cap = compute.capability("cpu")
    # torch may see less than the kernel (an OS without AMX state), never more
    assert not cap.native_bf16 or native, (cap, sorted(f for f in flags if "avx512" in f))
    if not native:
        assert resolve("auto", "cpu").precision == "fp32"
        assert cap.description.split(",")[0] in {"DEFAULT", "AVX2", "AVX512"}


def test_models_take_the_resolved_precision() -> None:
    from shoprec.nlp.sentiment.finetune import FineTuneConfig, FineTunedSentiment
    from shoprec.text.encoder import TextEncoder

    auto = resolve("auto", "cpu").precision
    assert TextEncoder(precision="auto", device="cpu").precision == auto
    assert TextEncoder(precision="fp32", device="cpu").compute.autocast() is not None
    model = FineTunedSentiment(FineTuneConfig(precision="auto"))
    assert model.compute.precision == resolve().precision
    with pytest.raises(ValueError, match="precision"):
        FineTuneConfig(precision="int8")


def test_settings_reject_unknown_precision_device_and_durability() -> None:
    for field, bad in (("precision", "fp16"), ("device", "tpu"), ("durability", "never")):
        with pytest.raises(ValidationError, match=field):
            Settings(**{field: bad})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU answer")
def test_device_is_cpu_without_a_gpu_and_cuda_is_refused() -> None:
    assert choose_device("auto") == "cpu" and choose_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="no CUDA device"):
        choose_device("cuda")


def test_threads_default_to_free_cores() -> None:
    before = torch.get_num_threads()
    try:
        n = compute.configure_threads(0)
        assert 1 <= n == torch.get_num_threads() <= len(os.sched_getaffinity(0))
        assert compute.configure_threads(3) == 3 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
