"""Device settings: resolution, errors naming the value, the context, provenance text."""

from __future__ import annotations

import pytest
import torch

from freqkit import device


def test_auto_is_cuda_when_available_else_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve_device("auto") == torch.device("cpu")
    assert device.resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device.resolve_device("auto") == torch.device("cuda", 0)
    assert device.resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"device='cuda:2' is not available: this machine has 2"):
        device.resolve_device("cuda:2")


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:-1", "CPU", 3, "mps"])
def test_bad_device_names_the_value(bad: object) -> None:
    with pytest.raises(ValueError, match="is not allowed; use 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        device.resolve_device(bad)  # type: ignore[arg-type]


def test_unavailable_cuda_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda' is not available: torch finds no CUDA"):
        device.resolve_device("cuda")


def test_context_nests_and_restores() -> None:
    assert device.current_device() == torch.device("cpu")
    with device.use_device("cpu") as d:
        assert d == device.current_device() == torch.device("cpu")
        assert not torch.backends.cuda.matmul.allow_tf32
    assert device.current_device() == torch.device("cpu")


def test_description_names_threads() -> None:
    torch.set_num_threads(1)
    assert device.describe_device(torch.device("cpu")).endswith(", 1 threads)")


def test_a_chapter_run_records_the_device_it_used(tmp_path) -> None:
    from freqkit import results
    from freqkit.experiments.scaffold import chapters

    ch = chapters().get("ch03")
    ch.run("smoke", tmp_path, progress=False, device="cpu")
    for path in tmp_path.glob("*.nc"):
        assert results.load_results(path).attrs["device"] == device.describe_device(torch.device("cpu"))
