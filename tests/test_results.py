"""Tests for freqkit.results: building, atomic NetCDF I/O, sweeps, provenance."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from freqkit import results
from freqkit.results import from_records, load_results, load_sweep, provenance, save_results


def _sweep_records() -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {
            "model": model,
            "kernel_size": k,
            "seed": seed,
            "f50": float(rng.uniform(0, 0.7)),
            "epochs": np.int64(10 + seed),
            "spectrum": rng.normal(size=(3, 4)),
        }
        for model in ("fc", "lkc", "fkc")
        for k in (3, 5)
        for seed in (0, 1)
    ]


def _example_dataset() -> xr.Dataset:
    return from_records(
        _sweep_records(),
        ["model", "kernel_size", "seed"],
        units={"f50": "cycles/pixel", "epochs": "1", "spectrum": "a.u."},
        long_names={"f50": "half-power frequency"},
        attrs={"chapter": "01", "lr": 0.05, "n": np.int32(7), "flag": True},
        var_dims={"spectrum": ("row", "col")},
    )


# --------------------------------------------------------------------------- #
# from_records
# --------------------------------------------------------------------------- #
def test_from_records_places_every_value_on_its_grid_point():
    recs = _sweep_records()
    ds = _example_dataset()
    assert ds.f50.dims == ("model", "kernel_size", "seed")
    assert ds.spectrum.dims == ("model", "kernel_size", "seed", "row", "col")
    assert list(ds.model.values) == ["fc", "lkc", "fkc"]  # order of first appearance
    for rec in recs:
        point = ds.sel(model=rec["model"], kernel_size=rec["kernel_size"], seed=rec["seed"])
        assert point.f50.item() == rec["f50"]
        assert point.epochs.item() == rec["epochs"]
        np.testing.assert_array_equal(point.spectrum.values, rec["spectrum"])
    assert ds.f50.attrs == {"units": "cycles/pixel", "long_name": "half-power frequency"}
    assert ds.epochs.attrs == {"units": "1", "long_name": "epochs"}
    assert ds.attrs["flag"] == 1 and type(ds.attrs["flag"]) is int


def test_from_records_fills_missing_grid_points_with_nan():
    recs = [{"model": "fc", "seed": 0, "acc": 1}, {"model": "lc", "seed": 1, "acc": 2}]
    ds = from_records(recs, ["model", "seed"])
    assert ds.acc.dtype.kind == "f"
    np.testing.assert_array_equal(ds.acc.values, [[1.0, np.nan], [np.nan, 2.0]])


@pytest.mark.parametrize(
    ("records", "dims", "kwargs", "message"),
    [
        ([], ["seed"], {}, "records is empty"),
        ([{"seed": 0, "a": 1}], ["Seed"], {}, "dimension 'Seed'"),
        ([{"seed": 0, "a": 1}, {"seed": 0, "a": 2}], ["seed"], {}, "duplicate grid points"),
        ([{"seed": 0, "a": 1}, {"seed": 1, "b": 2}], ["seed"], {}, "records\\[1\\]"),
        ([{"seed": 0, "a": [1]}, {"seed": 1, "a": [1, 2]}], ["seed"], {}, "variable 'a'"),
        ([{"seed": 0, "a": 1}], ["seed"], {"units": {"b": "m"}}, "\\['b'\\]"),
        ([{"seed": 0, "a": 1}], ["seed"], {"attrs": {"cfg": {"lr": 1}}}, "attribute 'cfg'"),
        ([{"seed": 0, "a": [1, 2]}], ["seed"], {"var_dims": {"a": ("x", "y")}}, "var_dims"),
    ],
)
def test_from_records_rejects_bad_input(records, dims, kwargs, message):
    with pytest.raises(ValueError, match=message):
        from_records(records, dims, **kwargs)


# --------------------------------------------------------------------------- #
# save / load round trip
# --------------------------------------------------------------------------- #
def test_netcdf_round_trip_keeps_values_dims_coords_and_every_attr(tmp_path):
    ds = _example_dataset()
    ds.attrs.update(provenance({"lr": 0.05, "depth": [1, 2]}, device="cpu"))
    ds["model"].attrs["long_name"] = "parameterisation"
    path = save_results(ds, tmp_path / "sub" / "run.nc")
    assert path == tmp_path / "sub" / "run.nc"
    back = load_results(path)

    xr.testing.assert_identical(back, ds)  # values, dims, coords, all attrs
    assert back.attrs == ds.attrs
    for name in ds.variables:
        assert back[name].attrs == ds[name].attrs, name
        assert back[name].dtype == ds[name].dtype, name
    assert back.spectrum.dims == ("model", "kernel_size", "seed", "row", "col")
    assert json.loads(back.attrs["config"]) == {"depth": [1, 2], "lr": 0.05}
    assert sorted(os.listdir(path.parent)) == ["run.nc"]  # no temp file left


def test_load_results_returns_loaded_data_with_file_closed(tmp_path):
    path = save_results(_example_dataset(), tmp_path / "run.nc")
    back = load_results(path)
    os.remove(path)  # a lazily-backed dataset would fail to read after this
    assert np.isfinite(back.spectrum.values).all()
    save_results(back, path)  # and the file was not held open either
    xr.testing.assert_identical(load_results(path), back)


def test_bool_attrs_are_stored_as_int(tmp_path):
    ds = xr.Dataset({"a": ("seed", [1.0], {"units": "1", "masked": np.bool_(False)})},
                    attrs={"dirty": True})
    back = load_results(save_results(ds, tmp_path / "b.nc"))
    assert back.attrs["dirty"] == 1 and back.a.attrs["masked"] == 0


@pytest.mark.parametrize(
    ("bad_attr", "message"),
    [({"cfg": {"a": 1}}, "'cfg'"), ({"seeds": [0, 1]}, "'seeds'"), ({"note": None}, "'note'")],
)
def test_save_rejects_nested_attrs_naming_them(tmp_path, bad_attr, message):
    ds = xr.Dataset({"a": ("seed", [1.0])}, attrs=bad_attr)
    with pytest.raises(ValueError, match=message):
        save_results(ds, tmp_path / "x.nc")
    var_bad = xr.Dataset({"a": ("seed", [1.0], bad_attr)})
    with pytest.raises(ValueError, match=f"a\\.{message[1:-1]}"):
        save_results(var_bad, tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_non_lowercase_dims_naming_them(tmp_path):
    ds = xr.Dataset({"a": (("seed", "KernelSize"), [[1.0]])})
    with pytest.raises(ValueError, match="'KernelSize'"):
        save_results(ds, tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_partial_or_temp_file_and_keeps_old_target(tmp_path, monkeypatch):
    target = tmp_path / "run.nc"
    old = xr.Dataset({"a": ("seed", [1.0, 2.0])}, coords={"seed": [0, 1]})
    save_results(old, target)
    old_bytes = target.read_bytes()

    written: list[Path] = []

    def half_way_writer(ds, path):
        Path(path).write_bytes(b"\x89HDF\r\n partial")  # half a file exists ...
        written.append(Path(path))
        raise OSError("disk full")  # ... then the writer dies

    monkeypatch.setattr(results, "_write_netcdf", half_way_writer)
    new = xr.Dataset({"a": ("seed", [9.0, 9.0])}, coords={"seed": [0, 1]})
    with pytest.raises(OSError, match="disk full"):
        save_results(new, target)
    assert written and written[0].name.startswith("run.nc.tmp-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]
    assert target.read_bytes() == old_bytes

    fresh = tmp_path / "fresh.nc"
    with pytest.raises(OSError):
        save_results(new, fresh)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]


def test_unserialisable_variable_fails_without_leaving_files(tmp_path):
    ds = xr.Dataset({"a": ("seed", np.array([object(), object()], dtype=object))})
    with pytest.raises(Exception):  # noqa: B017 - whatever the backend raises
        save_results(ds, tmp_path / "obj.nc")
    assert list(tmp_path.iterdir()) == []


def test_load_results_missing_file_names_it(tmp_path):
    with pytest.raises(ValueError, match="missing.nc"):
        load_results(tmp_path / "missing.nc")


# --------------------------------------------------------------------------- #
# sweeps
# --------------------------------------------------------------------------- #
def test_load_sweep_combines_run_files_into_the_full_grid(tmp_path):
    recs = _sweep_records()
    full = from_records(recs, ["model", "kernel_size", "seed"],
                        var_dims={"spectrum": ("row", "col")})
    for i, rec in enumerate(recs):  # one file per run, written in scrambled order
        run = from_records([rec], ["model", "kernel_size", "seed"],
                           var_dims={"spectrum": ("row", "col")},
                           attrs={"chapter": "01", "created_at": f"t{i}"})
        save_results(run, tmp_path / f"run{(i * 7) % len(recs):02d}.nc")

    combined = load_sweep(tmp_path)
    assert dict(combined.sizes) == dict(full.sizes)
    aligned = combined.sel(model=full.model, kernel_size=full.kernel_size, seed=full.seed)
    np.testing.assert_array_equal(aligned.f50.values, full.f50.values)
    np.testing.assert_array_equal(aligned.spectrum.values, full.spectrum.values)
    assert combined.attrs["chapter"] == "01"  # identical attrs kept
    assert "created_at" not in combined.attrs  # conflicting ones dropped

    paths = sorted(tmp_path.glob("*.nc"))[:2]
    assert load_sweep(paths).sizes["seed"] >= 1
    assert load_sweep(paths[0]).sizes["seed"] == 1


def test_load_sweep_rejects_empty_or_missing(tmp_path):
    with pytest.raises(ValueError, match="no .nc"):
        load_sweep(tmp_path)
    with pytest.raises(ValueError, match="neither"):
        load_sweep(tmp_path / "nope")


# --------------------------------------------------------------------------- #
# provenance
# --------------------------------------------------------------------------- #
@dataclasses.dataclass(frozen=True)
class _Config:
    lr: float = 0.1
    depth: int = 2
    kernel_sizes: tuple[int, ...] = (3, 5)


def test_provenance_has_all_fields_and_config_json_round_trips():
    cfg = _Config()
    attrs = provenance(cfg, dataset_source="debian:fashion-mnist", dataset_checksum="abc",
                       device="cpu")
    expected = {"config", "git_commit", "git_dirty", "device", "dataset_source",
                "dataset_checksum", "created_at"} | {
        f"version_{p}" for p in ("freqkit", "torch", "torchvision", "foolbox", "timm",
                                 "numpy", "xarray")}
    assert set(attrs) == expected
    assert json.loads(attrs["config"]) == {"lr": 0.1, "depth": 2, "kernel_sizes": [3, 5]}
    assert _Config(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in json.loads(attrs["config"]).items()}) == cfg
    assert json.loads(provenance(dataclasses.asdict(cfg))["config"]) == json.loads(attrs["config"])
    assert attrs["dataset_source"] == "debian:fashion-mnist" and attrs["dataset_checksum"] == "abc"
    import numpy
    import torch
    import xarray

    assert attrs["version_numpy"] == numpy.__version__
    assert attrs["version_torch"] == torch.__version__
    assert attrs["version_xarray"] == xarray.__version__
    assert attrs["created_at"].endswith("+00:00")
    commit = attrs["git_commit"]
    assert commit == "unknown" or (len(commit) == 40 and int(commit, 16) >= 0)
    assert attrs["git_dirty"] in (0, 1, "unknown")
    for key, value in attrs.items():  # all flat -> storable
        assert isinstance(value, (str, int)), key


def test_provenance_outside_git_is_unknown(monkeypatch, tmp_path):
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-a-repo"))
    attrs = provenance({})
    assert attrs["git_commit"] == "unknown" and attrs["git_dirty"] == "unknown"


def test_provenance_rejects_other_config_types():
    with pytest.raises(ValueError, match="config must be"):
        provenance([1, 2])
