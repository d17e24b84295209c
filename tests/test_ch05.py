"""Chapter 5 (architectures): presets, grid, claims on hand-made results, and a smoke run."""

from __future__ import annotations

import numpy as np
import pytest

from freqkit import sweep
from freqkit.archs import ARCHS
from freqkit.experiments import ch05
from freqkit.imagenet import IMAGENET_MODELS


def test_presets_are_valid() -> None:
    for p in ch05.PRESETS.values():
        assert all(m in IMAGENET_MODELS for m in p.imagenet_models)
        assert all(a.name in ARCHS for a in p.archs)
        assert len({a.name for a in p.archs}) == len(p.archs)
    cpu, paper = ch05.PRESETS["cpu"], ch05.PRESETS["paper"]
    assert cpu.n_images >= 200 and paper.n_images >= 1000
    assert set(cpu.imagenet_models) == {f"efficientnet-lite{i}" for i in range(3)}
    assert {"vit-b8", "vit-b16", "vit-b32", "vit-r50-b16", "mixer-b16", "resnet50"} <= set(
        paper.imagenet_models)
    assert {a.name for a in cpu.archs} == set(ARCHS.names()) == {a.name for a in paper.archs}
    assert not ch05.PRESETS["smoke"].pretrained  # no downloads, no weights
    assert ch05.PRESETS["smoke"].images == "foolbox" and cpu.images == "imagenet-val-1300"
    with pytest.raises(ValueError, match="exactly one ImageNet image source"):
        ch05.Preset(name="x", imagenet_models=("vit-b8",), pretrained=False, n_images=2,
                    imagenet_attacks=(), archs=(), datasets=("cifar10",), n_train=1, n_val=1,
                    n_test=1, train=cpu.train, cifar_attacks=(), n_attack=1)


@pytest.mark.parametrize("preset", ["smoke", "cpu", "paper"])
def test_configs_cover_the_grid_once(preset: str) -> None:
    p = ch05.get_preset(preset)
    cs = ch05.configs(preset)
    n = (len(p.imagenet_models) + len(p.archs) * len(p.cifar_datasets)) * len(p.seeds)
    assert len(cs) == n == len({sweep.run_key(c) for c in cs})
    assert ch05.configs(preset, available=tuple(p.datasets)) == cs  # the whole grid
    assert ch05.configs(preset, available=()) == []
    only_cifar = ch05.configs(preset, available=p.cifar_datasets)
    assert {c.kind for c in only_cifar} == {"cifar"}
    if p.pretrained:  # a model without weights is dropped, the others stay
        have = (p.images, *(f"weights:{m}" for m in p.imagenet_models[1:]))
        models = [c.model for c in ch05.configs(preset, available=have)]
        assert sorted(models) == sorted(p.imagenet_models[1:] * len(p.seeds))


def test_attack_setting_validates() -> None:
    with pytest.raises(ValueError, match="use a PGD attack"):
        ch05.AttackSetting("bb-l2", 1.0, 10, 0.5)
    with pytest.raises(ValueError, match="cannot reach epsilon"):
        ch05.AttackSetting("pgd-linf", 1.0, 2, 0.25)
    assert ch05.AttackSetting("pgd-linf", 0.1, 4, 0.25).spec().rel_stepsize == 0.25


def test_claims_table_orders_families_and_patch_sizes() -> None:
    good = ch05.claims_table(ch05._toy_results((0.2, 0.1)))
    assert list(good.holds) == ["yes", "yes", "yes", "yes"]
    assert list(good.separated) == ["yes", "yes", "yes", "yes"]
    bad = ch05.claims_table(ch05._toy_results((0.4, 0.5)))  # ViTs above the CNN; p16 > p8
    assert list(bad.holds) == ["no", "no", "no", "no"]
    assert "p8 0.400, p16 0.500" in bad.measured[1]


def test_smoke_run(tmp_path) -> None:
    ds = ch05.run("smoke", tmp_path, progress=False, device="cpu")
    table = ch05.summary_table(ds)
    assert {"efficientnet-lite0", "vit-b8"} <= set(table.model)
    imagenet = table[table.dataset == "imagenet"]
    assert (imagenet.success_rate > 0).all()
    assert np.isfinite(imagenet.delta_f50).all() and np.isfinite(imagenet.beta_f50).all()
    assert ((imagenet.delta_f50_low <= imagenet.delta_f50) & (imagenet.delta_f50 <= imagenet.delta_f50_high)).all()
    assert set(ch05.claims_table(ds).holds) <= {"yes", "no", "not measured"}
    again = ch05.run("smoke", tmp_path, progress=False, device="cpu")  # resumes: nothing recomputed
    np.testing.assert_array_equal(again.delta_f50.values, ds.delta_f50.values)
