"""freqkit: spectral analysis of the implicit bias of (convolutional) networks.

Modules
-------
spectra     Fourier metrics: power spectra, half-power frequency f50, kappa_high, band masks.
results     xarray/NetCDF results store with provenance.
plots       offline plotly helpers for the book.
registry    small name -> factory registries (models, datasets, attacks).
data        dataset registry and loaders.
models      FC / FKC / LKC / LC parameterisations.
predictor   end-to-end predictor beta (exact for linear nets, saliency otherwise).
train       SGD training with the paper's schedule and failure retries.
sweep       resumable grids of runs.
attacks     foolbox attack registry and perturbation spectra.
stego       class-specific band-limited "steganographic" shortcut features.
"""

__version__ = "0.1.0"
