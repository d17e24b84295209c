"""Chapter experiments: one module per book chapter plus the shared runner.

Modules
-------
common  :class:`~freqkit.experiments.common.RunConfig` and
        :func:`~freqkit.experiments.common.run_model_experiment`, the train ->
        predictor -> attack -> spectra pipeline shared by the chapters.
ch01    implicit bias in norms (FC vs FKC, figure 2 of Caro et al. 2024).
ch02    half-power frequency f50 across datasets (figure 3 of Caro et al. 2024).
"""
