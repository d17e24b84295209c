"""``spectra.spectrum_statistics`` (one FFT pass) against the separate functions it fuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit import spectra

NAMES = ("f50", "kappa_high", "l1_hat", "l2_hat", "l1", "l2", "mean_power")


def separate(x: np.ndarray, ks: tuple[int, ...], norm: str) -> dict[str, np.ndarray]:
    """The same statistics from power_spectrum, half_power_frequency, kappa_high, spectral_norms."""
    power = spectra.power_spectrum(x, combine_channels=True)
    out = {"f50": spectra.half_power_frequency(power),
           "kappa_high": np.stack([spectra.kappa_high(power, k, norm=norm) for k in ks]) if ks
           else np.empty((0, *power.shape[:-2])),
           "mean_power": power.reshape(-1, *power.shape[-2:]).mean(0)}
    out.update(spectra.spectral_norms(x, dims=3))
    return out


@pytest.fixture(params=["kernel", "torch"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The compiled CPU kernel and the torch operations other devices use."""
    if request.param == "torch":
        monkeypatch.setattr(spectra, "_use_kernel", lambda t: False)
    return request.param


@settings(max_examples=25, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    channels=st.integers(1, 3),
    n=st.integers(1, 17),
    data=st.data(),
    norm=st.sampled_from(["max", "radial"]),
    threads=st.sampled_from([1, 2]),
)
def test_equals_the_separate_functions_float64(batch, channels, n, data, norm, threads) -> None:
    ks = tuple(data.draw(st.lists(st.integers(1, n), unique=True, max_size=3)))
    x = np.random.default_rng(n * 7 + channels).normal(size=(*batch, channels, n, n))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = spectra.spectrum_statistics(x, ks, norm=norm)
    finally:
        torch.set_num_threads(previous)
    want = separate(x, ks, norm)
    for name in NAMES:
        assert got[name].shape == want[name].shape, name
        np.testing.assert_allclose(got[name], want[name], rtol=1e-11, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("threads", [1, 2])
def test_float32_torch_and_both_engines(engine: str, threads: int) -> None:
    x = torch.randn(300, 3, 32, 32, generator=torch.Generator().manual_seed(1))  # several chunks
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = spectra.spectrum_statistics(x, (3, 9))
    finally:
        torch.set_num_threads(previous)
    want = separate(x.double().numpy(), (3, 9), "max")
    for name in NAMES:
        assert isinstance(got[name], torch.Tensor) and got[name].dtype == torch.float32, name
        np.testing.assert_allclose(got[name].numpy(), want[name], rtol=2e-5, atol=1e-7, err_msg=name)


def test_float64_torch_engine_matches_the_kernel(engine: str) -> None:
    x = np.random.default_rng(3).normal(size=(2, 5, 2, 12, 12))
    want = separate(x, (1, 5), "radial")
    got = spectra.spectrum_statistics(x, [1, 5], norm="radial")
    for name in NAMES:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-11, atol=1e-13, err_msg=name)


def test_analytic_cosine_and_delta() -> None:
    # a cosine of 1/4 cycle/pixel: f50 = 1/4, all energy outside the k = 3 box
    x = np.cos(2 * np.pi * 0.25 * np.arange(16))[None, None, :].repeat(16, 1)
    s = spectra.spectrum_statistics(x, (3, 16))
    assert float(s["f50"]) == pytest.approx(0.25, abs=1e-12)
    assert s["kappa_high"].tolist() == pytest.approx([1.0, 0.0], abs=1e-12)
    # a delta: flat spectrum, |x̂| = 1/n everywhere, so l1_hat = n*n/n = n
    d = np.zeros((1, 1, 8, 8)); d[0, 0, 0, 0] = 1.0
    s = spectra.spectrum_statistics(d, (3,))
    assert float(s["l1_hat"][0]) == pytest.approx(8.0, rel=1e-12)
    assert float(s["kappa_high"][0, 0]) == pytest.approx(1 - 9 / 64, rel=1e-12)
    np.testing.assert_allclose(s["mean_power"], np.full((8, 8), 1 / 64), rtol=1e-12)


def test_zero_energy_images(engine: str) -> None:
    x = np.zeros((3, 1, 4, 4)); x[1, 0, 1, 2] = 2.0
    with pytest.raises(ValueError, match="positive total energy"):
        spectra.spectrum_statistics(x, (3,))
    s = spectra.spectrum_statistics(x, (3,), zero_energy="nan")
    assert np.isnan(s["f50"][[0, 2]]).all() and np.isfinite(s["f50"][1])
    assert np.isnan(s["kappa_high"][0, [0, 2]]).all()
    assert s["l1"].tolist() == [0.0, 2.0, 0.0] and s["l2_hat"][[0, 2]].tolist() == [0.0, 0.0]


def test_empty_batch() -> None:
    s = spectra.spectrum_statistics(np.zeros((0, 2, 4, 4)), (3,))
    assert s["f50"].shape == (0,) and s["kappa_high"].shape == (1, 0)
    assert np.isnan(s["mean_power"]).all()


@pytest.mark.parametrize(("bad", "needles"), [
    (math.nan, ("x", "nan", "index")),
    (math.inf, ("x", "inf", "index")),
])
def test_nonfinite_pixels_are_named(engine: str, bad: float, needles: tuple[str, ...]) -> None:
    x = np.ones((4, 2, 8, 8)); x[2, 1, 3, 5] = bad
    with pytest.raises(ValueError) as info:
        spectra.spectrum_statistics(x, (3,))
    message = str(info.value)
    assert all(n in message for n in needles) and "(2, 1, 3, 5)" in message, message


def test_overflow_is_an_error() -> None:
    x = torch.full((1, 1, 8, 8), 3e38)  # finite, but the sums overflow float32
    with pytest.raises(ValueError, match="too large"):
        spectra.spectrum_statistics(x, (3,))


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"ks": (0,)}, "k must"), ({"ks": (9,)}, "k must"), ({"ks": (2.5,)}, "k must"), ({"ks": "3"}, "ks must"),
    ({"norm": "l2"}, "norm must"), ({"zero_energy": "skip"}, "zero_energy must"),
])
def test_bad_arguments_are_named(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        spectra.spectrum_statistics(np.ones((1, 1, 8, 8)), **kwargs)


@pytest.mark.parametrize("shape", [(8, 8), (1, 8, 7)])
def test_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="x must"):
        spectra.spectrum_statistics(np.ones(shape))


def test_numpy_integer_ks_accepted() -> None:
    x = np.random.default_rng(0).normal(size=(2, 1, 8, 8))
    a = spectra.spectrum_statistics(x, [np.int64(3)])
    b = spectra.spectrum_statistics(x, [3])
    assert np.array_equal(a["kappa_high"], b["kappa_high"])
