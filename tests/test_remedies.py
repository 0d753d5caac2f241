"""Wheel suggestions (cudadoctor.remedies) on real drivers, GPUs and Pythons, against the shipped tables."""

from __future__ import annotations

import itertools

import pytest
from packaging.version import Version

from cudadoctor.archs import Coverage, cc_covered_by
from cudadoctor.remedies import (
    best_wheels,
    driver_needed_for,
    first_wheel_supporting,
    variant_name,
    variant_runs_on_driver,
)
from cudadoctor.tables import RuleTables

V = Version

A100, RTX5090, GTX1080TI, K80, V100, B200 = V("8.0"), V("12.0"), V("6.1"), V("3.7"), V("7.0"), V("10.0")


def _pairs(wheels) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(str(w.release.latest), w.variant.name) for w in wheels]


# ---------------------------------------------------------------------------- variant_runs_on_driver


@pytest.mark.parametrize(
    ("torch", "variant", "driver", "full", "minor"),
    [
        # NOTE: CUDA release notes Table 3 (GA drivers) and the minor-version-compatibility floors
        # 11.x 450.80.02, 12.x 525.60.13, 13.x 580.65.06
        # (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html).
        ("2.5", "cu124", "550.54.14", True, True),
        ("2.5", "cu124", "550.54.13", False, True),
        ("2.5", "cu124", "535.183.01", False, True),
        ("2.5", "cu124", "525.60.13", False, True),
        ("2.5", "cu124", "525.60.12", False, False),
        ("2.5", "cu124", "470.256.02", False, False),
        ("2.7", "cu118", "520.61.05", True, True),
        ("2.7", "cu118", "470.256.02", False, True),
        ("2.7", "cu118", "450.80.02", False, True),
        ("2.7", "cu118", "450.51.06", False, False),
        ("2.7", "cu128", "570.26", True, True),
        ("2.7", "cu128", "570.133.20", True, True),
        ("2.13", "cu130", "575.57.08", False, False),  # no minor compat across majors
        ("2.13", "cu130", "580.65.06", True, True),
        ("2.13", "cu132", "580.95.05", False, True),
        ("2.13", "cu132", "595.45.04", True, True),
        ("1.13", "cu117", "515.43.04", True, True),
    ],
)
def test_variant_runs_on_driver(
    tables: RuleTables, torch: str, variant: str, driver: str, full: bool, minor: bool
) -> None:
    var = tables.torch.variant(V(torch), variant)
    assert var is not None
    assert variant_runs_on_driver(tables, var, V(driver), full=True) is full
    assert variant_runs_on_driver(tables, var, V(driver), full=False) is minor


# ---------------------------------------------------------------------------- best_wheels


def test_r470_and_an_a100_get_the_newest_cu11x_wheel(tables: RuleTables) -> None:
    # NOTE: R470 reports CUDA 11.4: no wheel in the tables has full support there (the oldest,
    # 1.13 cu116, needs 510.39.01), so only minor-version compatibility helps.
    assert best_wheels(tables, driver=V("470.256.02"), gpu_ccs=[A100]) == []
    wheels = best_wheels(tables, driver=V("470.256.02"), gpu_ccs=[A100], full_driver_support=False)
    assert _pairs(wheels)[0] == ("2.7.1", "cu118")
    assert {w.variant.cuda.major for w in wheels} == {11}
    # torch 2.8 has no cu118 wheel: it must never appear.
    assert all(w.release.torch <= V("2.7") for w in wheels)
    assert ("2.8.0", "cu118") not in _pairs(wheels)
    assert wheels[0].pip_command == (
        "pip install torch==2.7.1 'torchvision==0.22.*' 'torchaudio==2.7.*' "
        "--index-url https://download.pytorch.org/whl/cu118"
    )


def test_r535_admits_cu12x_only_under_minor_compat(tables: RuleTables) -> None:
    full = best_wheels(tables, driver=V("535.183.01"), gpu_ccs=[A100])
    assert _pairs(full)[0] == ("2.7.1", "cu118")
    assert all(w.variant.cuda <= V("12.2") for w in full)
    assert ("2.5.1", "cu121") in _pairs(full) and ("2.5.1", "cu124") not in _pairs(full)
    minor = best_wheels(tables, driver=V("535.183.01"), gpu_ccs=[A100], full_driver_support=False)
    assert _pairs(minor)[0] == ("2.14.1", "cu126")
    assert {w.variant.cuda.major for w in minor} == {11, 12}  # never 13.x on a 12.x driver
    assert ("2.5.1", "cu124") in _pairs(minor) and ("2.8.0", "cu129") in _pairs(minor)
    assert set(_pairs(full)) < set(_pairs(minor))


def test_newest_release_first_then_newest_cuda(tables: RuleTables) -> None:
    wheels = best_wheels(tables, driver=None)
    # NOTE: torch 2.15.0 (PyPI, cu132 only in the tables) is now the newest release line. Within
    # 2.14 the confirmed cu130 (read off the PyPI wheel) and cu126 come before the unconfirmed cu132.
    assert _pairs(wheels)[:3] == [("2.15.0", "cu132"), ("2.14.1", "cu130"), ("2.14.1", "cu126")]
    assert ("2.14.1", "cu132") in _pairs(wheels)
    for a, b in zip(wheels, wheels[1:]):
        assert a.release.torch >= b.release.torch
        if a.release.torch == b.release.torch and a.variant.confirmed == b.variant.confirmed:
            assert a.variant.cuda > b.variant.cuda
    assert _pairs(wheels)[-1] == ("1.13.1", "cu116")
    listed = [(str(r.latest), name) for r in tables.torch.releases for name in r.variants]
    assert sorted(_pairs(wheels)) == sorted(listed)


def test_confirmed_variants_come_first_within_a_release(tables: RuleTables) -> None:
    """V100 + B200 on R575: 2.10 cu128 (confirmed) before the unconfirmed 2.10 cu129."""
    wheels = best_wheels(tables, driver=V("575.57.08"), gpu_ccs=[V("7.0"), V("10.0")], python=V("3.11"))
    assert _pairs(wheels)[:2] == [("2.10.0", "cu128"), ("2.10.0", "cu129")]
    assert wheels[0].variant.confirmed and not wheels[1].variant.confirmed
    for a, b in zip(wheels, wheels[1:]):
        if a.release.torch == b.release.torch:
            assert a.variant.confirmed or not b.variant.confirmed


def test_rtx_5090_needs_cu128_or_newer(tables: RuleTables) -> None:
    first = first_wheel_supporting(tables, RTX5090)
    assert first is not None and (str(first.release.latest), first.variant.name) == ("2.7.1", "cu128")
    assert str(first) == "torch 2.7.1 (cu128)"
    # On R570 (CUDA 12.8) the newest sm_120 wheel is 2.11 cu128: 2.12+ ship only cu126 and cu13x.
    wheels = best_wheels(tables, driver=V("570.133.20"), gpu_ccs=[RTX5090])
    assert _pairs(wheels)[0] == ("2.11.0", "cu128")
    assert all(w.variant.cuda >= V("12.8") for w in wheels)
    assert all(w.variant.name != "cu126" for w in wheels)
    on_r580 = best_wheels(tables, driver=V("580.95.05"), gpu_ccs=[RTX5090])
    assert _pairs(on_r580)[0] == ("2.14.1", "cu130")


def test_gtx_1080_ti_on_r570_gets_a_cu126_wheel(tables: RuleTables) -> None:
    # NOTE: sm_50/sm_60 left the cu128+ builds (https://github.com/pytorch/pytorch/issues/157517);
    # sm_60 SASS runs on 6.1 (same major, higher minor).
    wheels = best_wheels(tables, driver=V("570.133.20"), gpu_ccs=[GTX1080TI])
    assert _pairs(wheels)[0] == ("2.14.1", "cu126")
    assert all(w.variant.cuda <= V("12.6") for w in wheels)
    assert not any(w.variant.name in ("cu128", "cu129", "cu130", "cu132") for w in wheels)


def test_volta_on_r570_is_sent_to_cu126_not_2_11_cu128(tables: RuleTables) -> None:
    # NOTE: torch 2.11 excluded Volta from its CUDA 12.8/12.9 builds (pytorch/pytorch#172598; the 2.11
    # support matrix lists 12.8.1 = 7.5, 8.0, 8.6, 9.0, 10.0, 12.0); only cu126 keeps sm_70 from 2.11 on.
    wheels = best_wheels(tables, driver=V("570.133.20"), gpu_ccs=[V100])
    assert _pairs(wheels)[0] == ("2.14.1", "cu126")
    assert ("2.11.0", "cu128") not in _pairs(wheels)
    assert all(w.variant.name == "cu126" for w in wheels if w.release.torch >= V("2.11"))
    assert ("2.11.0", "cu126") in _pairs(wheels) and ("2.10.0", "cu128") in _pairs(wheels)


def test_volta_is_not_offered_cu13x(tables: RuleTables) -> None:
    wheels = best_wheels(tables, driver=V("580.95.05"), gpu_ccs=[V100])
    assert _pairs(wheels)[0] == ("2.14.1", "cu126")
    assert all(w.variant.cuda.major < 13 for w in wheels)
    assert ("2.10.0", "cu128") in _pairs(wheels)  # sm_70 kept in cu128 (pytorch#157517)


def test_k80_only_gets_cu11x_builds_with_sm_37(tables: RuleTables) -> None:
    wheels = best_wheels(tables, driver=V("470.256.02"), gpu_ccs=[K80], full_driver_support=False)
    assert _pairs(wheels)[0] == ("2.7.1", "cu118")
    assert all(V("3.7") in w.variant.sass for w in wheels)
    assert ("2.1.2", "cu121") not in _pairs(wheels)


def test_mixed_gpus_need_a_wheel_covering_all(tables: RuleTables) -> None:
    wheels = best_wheels(tables, driver=V("575.57.08"), gpu_ccs=[GTX1080TI, RTX5090])
    assert wheels == []  # no build has both sm_60 and sm_120
    wheels = best_wheels(tables, driver=V("575.57.08"), gpu_ccs=[V100, B200])
    # NOTE: this was 2.11.0 cu128, but 2.11 dropped Volta from its 12.8/12.9 builds
    # (pytorch/pytorch#172598): 2.10 is the last release whose CUDA 12.8+ builds have sm_70.
    assert _pairs(wheels)[0][0] == "2.10.0"
    assert ("2.10.0", "cu128") in _pairs(wheels) and ("2.11.0", "cu128") not in _pairs(wheels)


@pytest.mark.parametrize(
    ("python", "newest"),
    # NOTE: torch 2.15.0 needs Python >= 3.11 and ships cp311-cp315 wheels (PyPI), so 3.14 now gets
    # 2.15.0 (it was 2.14.1) while 3.10 stays on 2.14.1.
    [("3.8.18", "2.4.1"), ("3.8", "2.4.1"), ("3.9.19", "2.8.0"), ("3.10.12", "2.14.1"), ("3.11.9", "2.15.0"),
     ("3.14.0", "2.15.0"), ("3.15.0", "2.15.0")],
)
def test_python_filters_releases(tables: RuleTables, python: str, newest: str) -> None:
    wheels = best_wheels(tables, driver=None, python=V(python))
    assert str(wheels[0].release.latest) == newest
    py = V(python)
    mm = V(f"{py.major}.{py.minor}")
    assert all(w.release.python_min <= mm <= w.release.python_max for w in wheels)


def test_python_3_8_on_r470(tables: RuleTables) -> None:
    wheels = best_wheels(
        tables, driver=V("470.256.02"), gpu_ccs=[A100], python=V("3.8.18"), full_driver_support=False
    )
    assert _pairs(wheels)[0] == ("2.4.1", "cu118")
    assert all(w.release.torch <= V("2.4") for w in wheels)


def test_python_without_any_wheel(tables: RuleTables) -> None:
    assert best_wheels(tables, driver=None, python=V("3.6.15")) == []
    # NOTE: this was 3.15, which torch 2.15.0 now serves (cp315 wheels on PyPI).
    assert best_wheels(tables, driver=None, python=V("3.16.0")) == []


def test_driver_too_old_for_every_wheel(tables: RuleTables) -> None:
    assert best_wheels(tables, driver=V("450.51.06"), full_driver_support=False) == []
    assert best_wheels(tables, driver=V("418.226.00"), full_driver_support=False) == []


def test_suggestions_always_exist_run_and_cover(tables: RuleTables) -> None:
    """Over a grid of real drivers, GPUs and Pythons, every suggestion is a published wheel that fits."""
    drivers = ["450.80.02", "470.256.02", "515.105.01", "525.147.05", "535.183.01", "545.29.06", "550.127.05",
               "560.35.03", "570.133.20", "575.57.08", "580.95.05", "590.44.01", "595.58.03"]
    ccs = ["3.7", "5.2", "6.0", "6.1", "7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0"]
    pythons = ["3.8", "3.9", "3.10", "3.13"]
    for d, cc, py, full in itertools.product(drivers, ccs, pythons, (True, False)):
        for w in best_wheels(tables, driver=V(d), gpu_ccs=[V(cc)], python=V(py), full_driver_support=full):
            assert tables.torch.variant(w.release.torch, w.variant.name) is w.variant
            assert w.variant.name in w.release.variants
            assert variant_runs_on_driver(tables, w.variant, V(d), full=full)
            assert cc_covered_by(V(cc), w.variant.sass, w.variant.ptx) is not Coverage.NONE
            assert w.release.python_min <= V(py) <= w.release.python_max


# ---------------------------------------------------------------------------- first_wheel_supporting


@pytest.mark.parametrize(
    ("cc", "expected"),
    [
        ("3.7", ("1.13.1", "cu116")),  # the oldest release the tables know
        ("6.1", ("1.13.1", "cu116")),  # sm_60 SASS runs on 6.1
        ("8.9", ("1.13.1", "cu116")),  # sm_86 SASS runs on 8.9
        ("9.0", ("2.0.1", "cu118")),  # sm_90 first in 2.0 cu118 (pytorch/builder PR #1278)
        ("10.0", ("2.7.1", "cu128")),
        ("12.0", ("2.7.1", "cu128")),
        ("12.1", ("2.7.1", "cu128")),  # GB10 runs sm_120 SASS
    ],
)
def test_first_wheel_supporting(tables: RuleTables, cc: str, expected: tuple[str, str]) -> None:
    w = first_wheel_supporting(tables, V(cc))
    assert w is not None and (str(w.release.latest), w.variant.name) == expected


def test_first_wheel_supporting_needs_sass(tables: RuleTables) -> None:
    # NOTE: no x86_64 wheel has SASS for Jetson Thor (11.0) or Kepler sm_35 (K40); the cu13x
    # builds' compute_120 PTX cannot help 11.0 either (PTX JITs only for an equal or higher CC).
    assert first_wheel_supporting(tables, V("11.0")) is None
    assert first_wheel_supporting(tables, V("3.5")) is None


# ---------------------------------------------------------------------------- small helpers


def test_driver_needed_for_and_variant_name(tables: RuleTables) -> None:
    assert driver_needed_for(tables, V("12.4")) == V("550.54.14")
    assert driver_needed_for(tables, V("12.4.1")) == V("550.54.14")  # what a cu124 build needs: the GA
    assert driver_needed_for(tables, V("13.0")) == V("580.65.06")
    assert driver_needed_for(tables, V("12.7")) is None  # no CUDA 12.7 toolkit was released
    assert variant_name(V("13.0")) == "cu130"
    assert variant_name(V("11.8.89")) == "cu118"


def test_pip_command_pins_companions(tables: RuleTables) -> None:
    by_pair = {(str(w.release.latest), w.variant.name): w for w in best_wheels(tables, driver=None)}
    assert by_pair[("2.5.1", "cu124")].pip_command == (
        "pip install torch==2.5.1 'torchvision==0.20.*' 'torchaudio==2.5.*' "
        "--index-url https://download.pytorch.org/whl/cu124"
    )
    # NOTE: no torchaudio release after 2.11 (rules/torch.toml).
    assert by_pair[("2.14.1", "cu130")].pip_command == (
        "pip install torch==2.14.1 'torchvision==0.29.*' --index-url https://download.pytorch.org/whl/cu130"
    )


def test_driver_ceiling_follows_the_last_branch_per_architecture(tables) -> None:
    from cudadoctor.remedies import driver_ceiling

    assert driver_ceiling(tables, [Version("3.7")]) == 470
    assert driver_ceiling(tables, [Version("6.1"), Version("9.0")]) == 580
    assert driver_ceiling(tables, [Version("9.0")]) is None


def test_no_wheel_is_suggested_that_needs_a_driver_a_kepler_cannot_run(tables) -> None:
    from cudadoctor.remedies import best_wheels

    for w in best_wheels(tables, driver=None, gpu_ccs=[Version("3.7")]):
        rel = tables.cuda_driver.min_driver_for(w.variant.cuda)
        assert rel is not None and rel.min_driver.major <= 470, str(w)


def test_last_wheel_supporting_an_old_gpu(tables) -> None:
    from cudadoctor.remedies import last_wheel_supporting

    last = last_wheel_supporting(tables, Version("6.1"))
    assert last is not None and last.variant.name == "cu126"
    k80 = last_wheel_supporting(tables, Version("3.7"))
    assert k80 is not None and k80.variant.cuda.major == 11
