"""recommend: the newest torch / variant / image for a driver and GPUs, judged against the shipped tables."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from packaging.version import Version

from cudadoctor.commands.recommend import parse_gpu, render_text, to_dict
from cudadoctor.recommend import Gpu, recommend, support_level
from cudadoctor.tables import load_tables

V = Version


@pytest.fixture(scope="module")
def rt():
    return load_tables()


def _gpu(rt, name: str) -> Gpu:
    return parse_gpu(rt, name)


def test_driver_too_old_for_every_cuda12_build_gets_cuda11(rt) -> None:
    # 470 supports CUDA 11.4; every CUDA 12 build needs >= 525.60.13 even under minor-version compatibility.
    r = recommend(rt, driver=V("470.256.02"), gpus=(_gpu(rt, "Tesla V100-SXM2-16GB"),))
    assert r.full is None
    assert r.compat is not None and r.compat.variant.cuda.major == 11
    assert all(i.cuda.major == 11 for i in r.images)
    assert support_level(rt, V("12.1"), V("470.256.02")) is None


def test_rtx_5090_needs_a_cu128_or_newer_build(rt) -> None:
    r = recommend(rt, driver=V("570.86.10"), gpus=(_gpu(rt, "NVIDIA GeForce RTX 5090"),))
    assert r.full is not None and r.full.variant.cuda >= V("12.8")
    assert V("12.0") in r.full.variant.sass
    # the driver cannot run CUDA 13 (needs 580): nothing newer under minor compat either
    assert r.compat is None
    assert all(i.cuda >= V("12.8") for i in r.images if i.ref.startswith("pytorch/"))


def test_v100_after_volta_was_dropped_gets_a_build_with_sm70(rt) -> None:
    r = recommend(rt, driver=V("580.95.05"), gpus=(_gpu(rt, "V100"),))
    assert r.full is not None and V("7.0") in r.full.variant.sass
    var13 = rt.torch.variant(V("2.11"), "cu130")
    assert var13 is not None and V("7.0") not in var13.sass  # the CUDA 13 builds have no Volta
    assert r.full.variant.cuda.major == 12
    assert "R580" in " ".join(r.notes)


def test_a100_on_535_full_support_and_minor_compat(rt) -> None:
    r = recommend(rt, driver=V("535.183.01"), gpus=(_gpu(rt, "A100"),))
    assert r.full is not None and r.full.variant.cuda <= V("12.2")
    assert r.compat is not None and r.compat.variant.cuda.major == 12 and r.compat.variant.cuda > V("12.2")
    assert r.images[0].support == "full"  # fully supported images come first


def test_h100_on_590_gets_cuda13(rt) -> None:
    r = recommend(rt, driver=V("590.48.01"), gpus=(_gpu(rt, "H100"),))
    assert r.full is not None and r.full.variant.cuda == V("13.0")
    assert any(i.ref.startswith("nvcr.io/nvidia/pytorch:") for i in r.images)
    assert all(i.min_driver is None or i.min_driver.major <= 590 for i in r.images)


def test_t4_on_525_minor_compat_floor(rt) -> None:
    r = recommend(rt, driver=V("525.60.13"), gpus=(_gpu(rt, "7.5"),))
    assert r.full is not None and r.full.variant.cuda <= V("12.0")
    assert r.compat is not None and r.compat.variant.cuda.major == 12


def test_no_driver_recommends_the_newest_default(rt) -> None:
    r = recommend(rt, driver=None)
    assert r.full is not None and r.full.release == rt.torch.newest
    assert "No driver given" in r.notes[0]


def test_torch_2_8_with_cuda_11_8_does_not_exist(rt) -> None:
    r = recommend(rt, driver=V("570.86.10"), torch=V("2.8"), cuda=V("11.8"))
    q = r.request
    assert q is not None and q.exists is None
    assert "no official torch 2.8 build for CUDA 11.8" in q.message
    assert "cu126, cu128, cu129" in q.message
    assert [(str(w.release.torch), w.variant.name) for w in q.nearest] == [("2.8", "cu126"), ("2.7", "cu118")]
    text = render_text(r)
    assert "nearest: torch 2.8.0 (cu126)" in text and "--index-url https://download.pytorch.org/whl/cu118" in text


def test_existing_request(rt) -> None:
    r = recommend(rt, driver=None, torch=V("2.8"), cuda=V("12.8"))
    assert r.request is not None and r.request.exists is not None
    assert to_dict(r)["request"]["exists"] is True


def test_every_image_recommended_is_in_the_tables(rt) -> None:
    tags = {i.tag(f) for i in rt.images.pytorch for f in i.flavors} | {n.tag for n in rt.images.ngc}
    for drv in ("470.256.02", "535.183.01", "570.86.10", "580.95.05", "595.71.05"):
        for i in recommend(rt, driver=V(drv)).images:
            assert i.ref in tags


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cudadoctor", "recommend", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_json_and_bad_input() -> None:
    ok = _cli("--driver", "550.54.14", "--gpu", "8.0", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["driver"] == "550.54.14" and data["full_support"]["pip"].startswith("pip install torch==")
    bad = _cli("--driver", "12.4")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--driver" in bad.stderr
    gpu = _cli("--driver", "550.54.14", "--gpu", "Nonexistent 9000")
    assert gpu.returncode == 2 and "rules/gpus.toml" in gpu.stderr


def test_nearest_builds_say_when_they_do_not_run_here(rt) -> None:
    r = recommend(rt, driver=V("570.86.10"), gpus=(_gpu(rt, "RTX 5090"),), torch=V("2.8"), cuda=V("11.8"))
    assert r.request is not None
    assert all("no code for GeForce RTX 5090 (sm_120)" in n for n in r.request.nearest_notes)
    ok = recommend(rt, driver=V("570.86.10"), gpus=(_gpu(rt, "A100"),), torch=V("2.8"), cuda=V("11.8"))
    assert ok.request is not None and ok.request.nearest_notes[0] == ""
