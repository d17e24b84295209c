"""A real single-node Slurm cluster (scripts/slurm_cluster.sh): a smoke grid through
``freqkit run --executor slurm``, one task cancelled mid-run, resubmitted, equal to a local run.

Needs root and Debian's packages (installed by the script when missing); skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from freqkit import results, sweep
from freqkit.experiments.scaffold import chapters

pytestmark = pytest.mark.slurm
REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "slurm_cluster.sh"
STATE = Path(os.environ.get("FREQKIT_SLURM_DIR", "/tmp/freqkit-slurm"))


def _up() -> bool:
    env = dict(os.environ, SLURM_CONF=str(STATE / "slurm.conf"))
    return shutil.which("scontrol") is not None and (STATE / "slurm.conf").exists() and \
        subprocess.run(["scontrol", "ping"], env=env, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("starting a Slurm cluster needs root and apt-get")
    started = not _up()
    if started:
        proc = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(STATE / "slurm.conf")
    try:
        yield STATE
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        if started:  # stop exactly the daemons this test started
            subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


def test_slurm_grid_cancel_resubmit_equals_local(cluster: Path, tmp_path: Path) -> None:
    from freqkit import slurm

    ch = chapters().get("ch01")
    out = tmp_path / "slurm-results"
    # one task at a time (array parallelism 1), so the second task can be cancelled while it runs
    jobs = slurm.submit_missing(ch, "smoke", str(out), device="cpu", cpus_per_task=1,
                                mem_gb=1, time_min=10, array_parallelism=1)
    assert len(jobs) == 4
    victim = jobs[1]
    deadline = time.monotonic() + 240

    def live_state() -> str:  # squeue reads the controller (sacct, submitit's source, lags)
        out = subprocess.run(["squeue", "-h", "-j", victim.job_id, "-o", "%T"],
                             capture_output=True, text=True).stdout.strip()
        return out or "GONE"

    while (state := live_state()) != "RUNNING":
        assert state != "GONE" and time.monotonic() < deadline, f"task never seen running: {state}"
        time.sleep(0.1)
    time.sleep(1.0)
    subprocess.run(["scancel", victim.job_id], check=True)
    for job in jobs:
        try:
            job.result()
        except Exception:  # noqa: BLE001 - the cancelled task raises; the others must not
            assert job is victim, job.stderr()
    assert not list(out.glob("*.tmp-*"))  # the cancelled task left no partial file ...
    done = sorted(out.glob("*.nc"))
    for lock in out.glob("*.nc.lock"):  # ... at most the lock of a dead process, broken on resubmit
        assert not sweep.lock_is_live(lock.with_suffix(""))
    assert len(done) in (3, 4)  # the cancelled run left no file (unless it had just finished)
    again = slurm.submit_missing(ch, "smoke", str(out), device="cpu", cpus_per_task=1, mem_gb=1,
                                 time_min=10, wait=True)
    assert len(again) == 4 - len(done)  # only the missing run is submitted
    assert len(list(out.glob("*.nc"))) == 4 and not list(out.glob("*.lock"))

    local = ch.run("smoke", tmp_path / "local", progress=False, device="cpu")
    remote = ch.run("smoke", out, progress=False, device="cpu")  # loads, computes nothing
    for var in local.data_vars:
        if local[var].attrs.get("units") in results.TIMING_UNITS:
            continue
        np.testing.assert_array_equal(local[var].values, remote[var].values, err_msg=var)


def test_cli_submits_to_slurm(cluster: Path, tmp_path: Path) -> None:
    from freqkit import cli

    out = tmp_path / "r"
    assert cli.main(["run", "ch01", "--preset", "smoke", "--results", str(out), "--executor",
                     "slurm", "--cpus-per-task", "1", "--mem-gb", "1", "--wait"]) == 0
    assert len(list(out.glob("*.nc"))) == 4
    rep = cli.status_report(chapters().get("ch01"), "smoke", str(out))
    assert (rep["done"], rep["missing"]) == (4, 0)
