"""spectral_norms(power=...) is computed per batch chunk: the same numbers as the whole-batch formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from freqkit import spectra


@pytest.mark.parametrize("dims", [2, 3])
def test_chunked_power_norms_equal_the_whole_batch_formula(dims):
    x = torch.randn(700, 3, 16, 16, generator=torch.Generator().manual_seed(0))  # several chunks
    power = spectra.power_spectrum(x)
    axes = tuple(range(-dims, 0))
    got = spectra.spectral_norms(x, dims=dims, power=power)
    assert torch.equal(got["l2_hat"], power.sum(axes).sqrt())
    assert torch.equal(got["l1_hat"], power.sqrt().sum(axes))
    # and they agree with the FFT path (power=None) within rounding
    direct = spectra.spectral_norms(x, dims=dims)
    for name in ("l1_hat", "l2_hat"):
        torch.testing.assert_close(got[name], direct[name], rtol=1e-5, atol=0)


def test_chunked_power_norms_numpy_and_empty_batch():
    x = np.random.default_rng(0).standard_normal((5, 2, 8, 8))
    power = spectra.power_spectrum(x)
    got = spectra.spectral_norms(x, power=power)
    assert isinstance(got["l1_hat"], np.ndarray)
    np.testing.assert_array_equal(got["l1_hat"], torch.from_numpy(power).sqrt().sum((-3, -2, -1)).numpy())
    empty = torch.zeros(0, 2, 8, 8)
    assert spectra.spectral_norms(empty, power=torch.zeros(0, 2, 8, 8))["l1_hat"].shape == (0,)
