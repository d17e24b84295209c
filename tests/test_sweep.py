"""Tests of freqkit.sweep: stable run keys, skipping, atomicity and kill/resume."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from freqkit.sweep import combine_runs, config_json, expand_run_dims, run_key, run_sweep


@dataclasses.dataclass(frozen=True)
class Inner:
    lr: float = 0.1
    factors: tuple[float, ...] = (1.0, 10.0)


@dataclasses.dataclass(frozen=True)
class ConfigAB:
    model: str
    seed: int
    inner: Inner = Inner()


@dataclasses.dataclass(frozen=True)
class ConfigBA:  # same fields, declared in another order
    inner: Inner
    seed: int
    model: str


# ----------------------------------------------------------------------------- run_key


def test_run_key_is_sha256_of_canonical_json() -> None:
    config = ConfigAB("fc", 3)
    canonical = '{"inner":{"factors":[1.0,10.0],"lr":0.1},"model":"fc","seed":3}'
    assert config_json(config) == canonical
    assert run_key(config) == hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_run_key_ignores_field_order_and_container_type() -> None:
    a = ConfigAB("fc", 3)
    b = ConfigBA(inner=Inner(), seed=3, model="fc")
    as_dict = {"seed": np.int64(3), "model": "fc", "inner": {"lr": 0.1, "factors": [1.0, 10.0]}}
    assert run_key(a) == run_key(b) == run_key(as_dict)
    assert run_key(a) != run_key(ConfigAB("fc", 4))
    assert run_key(a) != run_key(ConfigAB("fc", 3, Inner(lr=0.1000001)))


def test_run_key_stable_across_processes() -> None:
    code = "from freqkit.sweep import run_key; print(run_key({'model': 'fc', 'seed': 3, 'lr': 0.1}))"
    keys = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        ).stdout.strip()
        for hash_seed in (1, 2)
    }
    assert keys == {run_key({"lr": 0.1, "seed": 3, "model": "fc"})}


def test_run_key_rejects_unserialisable_configs() -> None:
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        run_key({"lr": float("nan")})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        run_key({"f": object()})
    with pytest.raises(ValueError, match="config must be a dataclass instance or a mapping, got list"):
        run_key([1, 2])


# ----------------------------------------------------------------------------- expand_run_dims


def test_expand_run_dims() -> None:
    ds = xr.Dataset({"acc": ((), 0.5), "curve": (("freq",), [1.0, 2.0])}, coords={"freq": [0.0, 0.25]})
    out = expand_run_dims(ds, {"model": "fc"}, depth=2)
    assert out.acc.dims == ("model", "depth") and out.curve.dims == ("model", "depth", "freq")
    assert out.acc.values.tolist() == [[0.5]] and out.depth.values.tolist() == [2]
    with pytest.raises(ValueError, match="'freq' already exists"):
        expand_run_dims(ds, freq=1)
    with pytest.raises(ValueError, match="lowercase"):
        expand_run_dims(ds, Model="fc")
    with pytest.raises(ValueError, match="given twice"):
        expand_run_dims(ds, {"seed": 0}, seed=1)


# ----------------------------------------------------------------------------- run_sweep


def square_run(config: dict) -> xr.Dataset:
    x = config["x"]
    ds = xr.Dataset({"score": ((), float(x) ** 2), "curve": (("k",), np.arange(3.0) * x)}, coords={"k": [0, 1, 2]})
    return expand_run_dims(ds, x=x)


def test_run_sweep_writes_skips_and_combines(tmp_path: Path) -> None:
    calls: list[dict] = []

    def run_fn(config: dict) -> xr.Dataset:
        calls.append(config)
        return square_run(config)

    configs = [{"x": 2}, {"x": 1}, {"x": 3}, {"x": 1}]  # a duplicate runs once
    paths = run_sweep(configs, run_fn, tmp_path, progress=False)
    assert paths == [tmp_path / f"{run_key(c)}.nc" for c in configs]
    assert calls == [{"x": 2}, {"x": 1}, {"x": 3}]
    assert sorted(os.listdir(tmp_path)) == sorted({p.name for p in paths})
    assert json.loads(xr.load_dataset(paths[0], engine="h5netcdf").attrs["config"]) == {"x": 2}
    combined = combine_runs(tmp_path)
    assert combined.x.values.tolist() == [1, 2, 3]
    assert combined.score.values.tolist() == [1.0, 4.0, 9.0]
    assert combined.curve.sel(x=3).values.tolist() == [0.0, 3.0, 6.0]
    xr.testing.assert_identical(combine_runs(paths), combined)

    mtimes = {p: p.stat().st_mtime_ns for p in paths}
    calls.clear()
    assert run_sweep(configs + [{"x": 4}], run_fn, tmp_path, progress=False)[:4] == paths
    assert calls == [{"x": 4}]  # finished runs are not redone
    assert {p: p.stat().st_mtime_ns for p in paths} == mtimes


def test_existing_config_attr_is_kept(tmp_path: Path) -> None:
    (path,) = run_sweep([{"x": 1}], lambda c: square_run(c).assign_attrs(config="custom"), tmp_path,
                        progress=False)
    assert xr.load_dataset(path, engine="h5netcdf").attrs["config"] == "custom"


def test_corrupt_file_is_redone_and_stale_temp_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer exists
    key = run_key({"x": 1})
    (tmp_path / f"{key}.nc").write_bytes(b"half-written garbage")
    stale = tmp_path / f"{run_key({'x': 2})}.nc.tmp-{dead.pid}-abcd1234"
    stale.write_bytes(b"partial")
    live = tmp_path / f"{run_key({'x': 3})}.nc.tmp-{os.getppid()}-abcd1234"  # a living writer's file
    live.write_bytes(b"in progress")
    calls: list[dict] = []
    run_sweep([{"x": 1}, {"x": 2}], lambda c: calls.append(c) or square_run(c), tmp_path, progress=False)
    assert calls == [{"x": 1}, {"x": 2}]
    assert not stale.exists() and live.exists()
    assert combine_runs([tmp_path / f"{key}.nc"]).score.values.tolist() == [1.0]


def test_crash_propagates_after_previous_runs_are_saved(tmp_path: Path) -> None:
    def run_fn(config: dict) -> xr.Dataset:
        if config["x"] == 3:
            raise RuntimeError("boom")
        return square_run(config)

    with pytest.raises(RuntimeError, match="boom"):
        run_sweep([{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4}], run_fn, tmp_path, progress=False)
    assert sorted(os.listdir(tmp_path)) == sorted(f"{run_key({'x': x})}.nc" for x in (1, 2))
    assert combine_runs(tmp_path).score.values.tolist() == [1.0, 4.0]
    with pytest.raises(ValueError, match="must return an xarray.Dataset"):
        run_sweep([{"x": 5}], lambda c: 5, tmp_path, progress=False)


# ----------------------------------------------------------------------------- kill / resume

SWEEP_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import xarray as xr
    from freqkit.sweep import expand_run_dims, run_sweep

    CONFIGS = [{"model": m, "seed": s} for m in ("fc", "lc") for s in range(4)]
    LOG = None
    DELAY = 0.0

    def run_fn(config):
        with open(LOG, "a") as log:
            log.write(json.dumps(config, sort_keys=True) + "\\n")
        time.sleep(DELAY)
        rng = np.random.default_rng([config["seed"], config["model"] == "lc"])
        ds = xr.Dataset({"acc": ((), rng.random()), "curve": (("freq",), rng.random(5))},
                        coords={"freq": np.arange(5) / 10})
        return expand_run_dims(ds, model=config["model"], seed=config["seed"])

    if __name__ == "__main__":
        LOG, DELAY = sys.argv[2], float(sys.argv[3])
        run_sweep(CONFIGS, run_fn, sys.argv[1], progress=False)
    """
)


def logged(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_killed_sweep_resumes_without_redoing_finished_runs(tmp_path: Path) -> None:
    script = tmp_path / "sweep_script.py"
    script.write_text(SWEEP_SCRIPT)
    spec = importlib.util.spec_from_file_location("sweep_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    n_runs = len(module.CONFIGS)

    # reference: an uninterrupted sweep, in-process
    module.LOG = str(tmp_path / "reference.log")
    reference = combine_runs(run_sweep(module.CONFIGS, module.run_fn, tmp_path / "reference", progress=False))

    # a real process, SIGKILLed once 3 runs are on disk (the 4th is sleeping in run_fn)
    out, log = tmp_path / "killed", tmp_path / "killed.log"
    process = subprocess.Popen([sys.executable, str(script), str(out), str(log), "0.3"],
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.nc"))) < 3:
        assert process.poll() is None, "sweep process ended early"
        assert time.monotonic() < deadline, "sweep process too slow"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_at_kill = {p.name for p in out.glob("*.nc")}
    assert 3 <= len(done_at_kill) < n_runs
    assert all(xr.load_dataset(p, engine="h5netcdf").sizes["freq"] == 5 for p in out.glob("*.nc"))
    calls_before = logged(log)
    assert len(calls_before) in (len(done_at_kill), len(done_at_kill) + 1)

    # resume: only the missing runs are executed, and the result equals the reference
    module.LOG = str(log)
    paths = run_sweep(module.CONFIGS, module.run_fn, out, progress=False)
    resumed_calls = logged(log)[len(calls_before):]
    assert len(resumed_calls) == n_runs - len(done_at_kill)
    assert {f"{run_key(c)}.nc" for c in resumed_calls}.isdisjoint(done_at_kill)
    assert sorted(os.listdir(out)) == sorted(p.name for p in paths)  # no temp or stray files
    combined = combine_runs(out)
    xr.testing.assert_identical(combined, reference)
    assert combined.acc.dims == ("model", "seed") and combined.acc.shape == (2, 4)
    assert not np.isnan(combined.curve.values).any()


def _locked_sweep_worker(out_dir: str, log: str) -> None:
    import time as _time

    def run_fn(config):
        with open(log, "a") as f:  # O_APPEND: one line per computation, from any process
            f.write(f"{config['x']}\n")
        _time.sleep(0.05)
        return expand_run_dims(xr.Dataset({"y": ((), config["x"] * 2)}), x=config["x"])

    run_sweep([{"x": i} for i in range(8)], run_fn, out_dir, progress=False)


def test_three_processes_compute_each_run_exactly_once(tmp_path: Path) -> None:
    import multiprocessing as mp

    log = tmp_path / "computed.log"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_locked_sweep_worker, args=(str(tmp_path / "out"), str(log)))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    computed = sorted(int(v) for v in log.read_text().split())
    assert computed == list(range(8))  # 8 computations in all, each run once
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == sorted(
        f"{run_key({'x': i})}.nc" for i in range(8))  # no locks or temp files left
    assert combine_runs(tmp_path / "out").y.values.tolist() == [2 * i for i in range(8)]


def test_stale_lock_of_a_dead_process_is_broken(tmp_path: Path) -> None:
    import socket

    out = tmp_path / "out"
    out.mkdir()
    lock = out / f"{run_key({'x': 1})}.nc.lock"
    lock.write_text(f"{socket.gethostname()}:999999999")  # no such pid
    run_fn = lambda c: expand_run_dims(xr.Dataset({"y": ((), c["x"])}), x=c["x"])  # noqa: E731
    paths = run_sweep([{"x": 1}], run_fn, out, progress=False)
    assert paths[0].exists() and not lock.exists()
