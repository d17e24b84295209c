"""Sweeps on a Slurm cluster through submitit: each missing run is one task of a job array.

:func:`submit_missing` submits the runs of a chapter preset that have no result
file yet (``submitit.AutoExecutor`` + ``map_array``). Every task computes one
config with :func:`freqkit.sweep.run_sweep` — lock file, atomic write — so a
cancelled, timed-out or preempted task leaves no partial file, two tasks never
compute the same run, and submitting again computes only what is still missing.
``freqkit status`` shows the progress while jobs run. The run files are the same
as a local run's (same config hash, same code); only the ``device`` provenance differs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["run_task", "submit_missing"]


def run_task(chapter: str, preset: str, config_json: str, results_dir: str,
             device: str = "auto", overrides_json: str = "{}") -> str:
    """One Slurm task: compute the run of ``config_json`` (unless done) and return its file.

    The config is looked up in the chapter's grid by its canonical JSON, so the
    task runs exactly the config the submitter saw.
    """
    import json

    from freqkit import sweep
    from freqkit.device import use_device
    from freqkit.experiments.scaffold import chapters

    ch = chapters().get(chapter)
    overrides = json.loads(overrides_json)
    configs = [c for c in ch.grid(preset, **overrides) if sweep.config_json(c) == config_json]
    if not configs:
        raise ValueError(f"config {config_json[:200]}… is not in the grid of {chapter}/{preset} "
                         "with this code version; resubmit")
    with use_device(device):
        paths = sweep.run_sweep(configs[:1], ch.run_one, results_dir, progress=False)
    return str(paths[0])


def submit_missing(chapter: Any, preset: str, results_dir: str | None = None, *,
                   device: str = "auto", overrides: dict[str, Any] | None = None,
                   partition: str | None = None, gpus_per_task: int = 0,
                   cpus_per_task: int = 2, mem_gb: float = 4.0, time_min: int = 60,
                   array_parallelism: int = 64, wait: bool = False,
                   folder: str | Path | None = None) -> list[Any]:
    """Submit every missing run of ``chapter``/``preset`` as one task of a Slurm job array.

    Returns the submitit jobs (empty when nothing is missing). ``folder`` holds
    submitit's logs and pickles (default ``<results_dir>/slurm``). With ``wait``,
    blocks until every task has ended and raises if one failed.
    """
    import json

    from freqkit import sweep

    if shutil.which("sbatch") is None:
        raise ValueError("executor='slurm' needs Slurm's sbatch on PATH, and there is none "
                         "here; use executor='local' (the default) or run on a cluster login node")
    try:
        import submitit
    except ImportError:
        raise ValueError("executor='slurm' needs the submitit package: "
                         "pip install 'freqkit[cluster]'") from None
    overrides = dict(overrides or {})
    out = chapter.results_dir(preset, results_dir)
    out.mkdir(parents=True, exist_ok=True)
    grid = {sweep.run_key(c): c for c in chapter.grid(preset, **overrides)}
    todo = [c for key, c in grid.items() if not (out / f"{key}.nc").exists()]
    if not todo:
        return []
    executor = submitit.AutoExecutor(folder=str(folder or out / "slurm"), cluster="slurm")
    params: dict[str, Any] = {
        "timeout_min": int(time_min), "cpus_per_task": int(cpus_per_task),
        "mem_gb": float(mem_gb), "slurm_array_parallelism": int(array_parallelism),
        "name": f"freqkit-{chapter.name}-{preset}",
    }
    if gpus_per_task:
        params["gpus_per_node"] = int(gpus_per_task)
    if partition:
        params["slurm_partition"] = partition
    executor.update_parameters(**params)
    n = len(todo)
    jobs = executor.map_array(run_task, [chapter.name] * n, [preset] * n,
                              [sweep.config_json(c) for c in todo], [str(out)] * n,
                              [device] * n, [json.dumps(overrides)] * n)
    if wait:
        for job in jobs:
            job.result()
    return jobs
