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
    task runs exactly the config the submitter saw. Bad arguments (unknown chapter,
    preset or device, overrides that are no JSON object, a ``results_dir`` that is
    no writable folder) fail before anything is computed.
    """
    import json

    from freqkit import sweep
    from freqkit.device import resolve_device, use_device
    from freqkit.experiments.scaffold import _check_writable, chapters

    ch = chapters().get(chapter)
    ch.get_preset(preset)
    resolve_device(device)
    try:
        overrides = json.loads(overrides_json)
    except (TypeError, ValueError):
        overrides = None
    if not isinstance(overrides, dict):
        raise ValueError(f"overrides_json={overrides_json!r} is not allowed; use a JSON object of the "
                         "chapter's overrides, e.g. '{}'")
    out = ch.results_dir(preset, results_dir)
    _check_writable(out)
    configs = [c for c in ch.grid(preset, **overrides) if sweep.config_json(c) == config_json]
    if not configs:
        raise ValueError(f"config {config_json[:200]}… is not in the grid of {chapter}/{preset} "
                         "with this code version; resubmit")
    with use_device(device):
        paths = sweep.run_sweep(configs[:1], ch.run_one, out, progress=False)
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
    blocks until every task has ended and raises if one failed. ``chapter`` is a
    :class:`~freqkit.experiments.scaffold.Chapter` or its name. Every argument is
    checked before anything is submitted (``device`` by its form only: the tasks'
    nodes may have devices this one lacks).
    """
    import json

    from freqkit import sweep
    from freqkit._validate import as_bool, as_int, as_real
    from freqkit.device import _DEVICE
    from freqkit.experiments.scaffold import Chapter, _check_writable, chapters

    if isinstance(chapter, str):
        chapter = chapters().get(chapter)
    if not isinstance(chapter, Chapter):
        raise ValueError(f"chapter={chapter!r} is not allowed; use a Chapter (e.g. ch03.CHAPTER) or its name")
    chapter.get_preset(preset)
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ValueError(f"device={device!r} is not allowed; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    gpus_per_task = as_int(gpus_per_task, "gpus_per_task", minimum=0)
    cpus_per_task = as_int(cpus_per_task, "cpus_per_task", minimum=1)
    time_min = as_int(time_min, "time_min", minimum=1)
    array_parallelism = as_int(array_parallelism, "array_parallelism", minimum=1)
    mem_gb = as_real(mem_gb, "mem_gb", minimum=0, min_open=True)
    wait = as_bool(wait, "wait")
    if partition is not None and (not isinstance(partition, str) or not partition):
        raise ValueError(f"partition={partition!r} is not allowed; use None or a Slurm partition name")
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"overrides={overrides!r} is not allowed; use a dict of the chapter's overrides")
    chapter.grid(preset, available=(), **dict(overrides or {}))  # unknown / bad overrides fail here
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
    _check_writable(out)
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
