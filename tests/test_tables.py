"""Tests for the shipped rule tables (rules/*.toml) and their loader (cudadoctor.tables)."""

from __future__ import annotations

import re
import shutil
from dataclasses import fields
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from cudadoctor import tables as tables_mod
from cudadoctor.errors import RuleTableError
from cudadoctor.tables import TABLE_FILES, RuleTables, default_rules_dir, load_tables

V = Version


@pytest.fixture(scope="module")
def rt() -> RuleTables:
    """The shipped tables."""
    return load_tables()


def _all_entries(rt: RuleTables) -> list[object]:
    return [
        *rt.cuda_driver.releases, *rt.cuda_driver.minor_compat, *rt.torch.releases, *rt.torch.variants,
        *rt.gpus.models, *rt.compute_capability.entries, *rt.host_compiler.rules, *rt.cudnn.majors,
        *rt.images.pytorch, *rt.images.ngc,
    ]


def _strictly_increasing(keys: list[object]) -> bool:
    return all(a < b for a, b in zip(keys, keys[1:]))  # type: ignore[operator]


# ---------------------------------------------------------------------------- shape


def test_every_shipped_table_loads(rt: RuleTables) -> None:
    assert set(rt.meta) == set(TABLE_FILES)
    for meta in rt.meta.values():
        assert meta.schema == 1
        # a real ISO date, no older than the first shipped tables (tables are re-dated as they change)
        assert re.fullmatch(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", meta.updated), meta.updated
        assert "2026-11-26" <= meta.updated
        assert meta.sources, f"{meta.name} names no source URL"
    assert Path(rt.directory).resolve() == default_rules_dir().resolve()


def test_tables_are_sorted_without_duplicates(rt: RuleTables) -> None:
    assert _strictly_increasing([r.version for r in rt.cuda_driver.releases])
    assert _strictly_increasing([m.cuda_major for m in rt.cuda_driver.minor_compat])
    assert _strictly_increasing([r.torch for r in rt.torch.releases])
    assert _strictly_increasing([(v.torch, v.cuda) for v in rt.torch.variants])
    assert _strictly_increasing([e.cc for e in rt.compute_capability.entries])
    assert _strictly_increasing([r.cuda for r in rt.host_compiler.rules])
    assert _strictly_increasing([m.major for m in rt.cudnn.majors])
    ccs = [m.cc for m in rt.gpus.models]
    assert ccs == sorted(ccs)
    models = [m.model for m in rt.gpus.models]
    assert len(models) == len(set(models))
    matches = [s.lower() for m in rt.gpus.models for s in m.match]
    assert len(matches) == len(set(matches))
    for v in rt.torch.variants:
        assert _strictly_increasing(list(v.sass)) and _strictly_increasing(list(v.ptx)), v


def test_every_entry_is_sourced(rt: RuleTables) -> None:
    for entry in _all_entries(rt):
        source = getattr(entry, "source")
        urls = source.split()
        assert urls and all(u.startswith("https://") for u in urls), entry


def test_unconfirmed_entries_say_why(rt: RuleTables) -> None:
    for entry in _all_entries(rt):
        names = {f.name for f in fields(entry)}  # type: ignore[arg-type]
        if "confirmed" in names and not getattr(entry, "confirmed") and "note" in names:
            assert getattr(entry, "note"), f"unconfirmed entry without a note: {entry}"


# ---------------------------------------------------------------------------- consistency


def test_every_torch_variant_cuda_is_in_cuda_driver(rt: RuleTables) -> None:
    for v in rt.torch.variants:
        rel = rt.cuda_driver.min_driver_for(v.cuda)
        assert rel is not None, f"torch {v.torch} {v.name}: CUDA {v.cuda} missing from cuda_driver"
        assert rt.cuda_driver.minor_compat_floor(v.cuda.major) is not None or v.cuda.major < 11


def test_default_variant_is_listed_and_has_a_row(rt: RuleTables) -> None:
    for rel in rt.torch.releases:
        assert rel.default_variant in rel.variants, rel.torch
        assert rt.torch.variant(rel.torch, rel.default_variant) is not None, rel.torch
        for name in rel.variants:
            assert rt.torch.variant(rel.torch, name) is not None, (rel.torch, name)


def test_every_variant_row_belongs_to_a_release_that_lists_it(rt: RuleTables) -> None:
    for v in rt.torch.variants:
        rel = rt.torch.release(v.torch)
        assert rel is not None and v.name in rel.variants, (v.torch, v.name)
        assert v.name == f"cu{v.cuda.major}{v.cuda.minor}"


def test_every_gpu_cc_is_in_compute_capability(rt: RuleTables) -> None:
    for m in rt.gpus.models:
        info = rt.compute_capability.get(m.cc)
        assert info is not None, f"{m.model}: cc {m.cc} missing"
        assert info.arch == m.arch, m.model


def test_every_variant_arch_is_in_compute_capability_and_its_cuda_window(rt: RuleTables) -> None:
    for v in rt.torch.variants:
        for cc in (*v.sass, *v.ptx):
            info = rt.compute_capability.get(cc)
            assert info is not None, f"torch {v.torch} {v.name}: cc {cc} missing"
            key = v.cuda.release[:2]
            assert info.first_cuda is None or info.first_cuda.release[:2] <= key, (v.torch, v.name, cc)
            assert info.last_cuda is None or key <= info.last_cuda.release[:2], (v.torch, v.name, cc)


def test_variant_cudnn_major_ships_for_its_cuda(rt: RuleTables) -> None:
    for v in rt.torch.variants:
        if v.cudnn is None:
            continue
        major = rt.cudnn.get(v.cudnn.major)
        assert major is not None and v.cuda.major in major.cuda_majors, (v.torch, v.name, v.cudnn)


def test_compute_capability_windows_name_known_cuda_releases(rt: RuleTables) -> None:
    for e in rt.compute_capability.entries:
        for cuda in (e.first_cuda, e.last_cuda):
            if cuda is not None and cuda >= V("10.0"):
                assert rt.cuda_driver.min_driver_for(cuda) is not None, (e.cc, cuda)


def test_host_compiler_covers_every_cuda_major_minor(rt: RuleTables) -> None:
    for r in rt.cuda_driver.releases:
        assert rt.host_compiler.for_cuda(r.version) is not None, r.version


# ---------------------------------------------------------------------------- look-ups


def test_driver_lookups(rt: RuleTables) -> None:
    cd = rt.cuda_driver
    assert cd.min_driver_for(V("12.4")).min_driver == V("550.54.14")  # type: ignore[union-attr]
    assert cd.min_driver_for(V("12.4.1")).version == V("12.4")  # type: ignore[union-attr]
    assert cd.get(V("12.4.1")).min_driver == V("550.54.15")  # type: ignore[union-attr]
    assert cd.min_driver_for(V("12.7")) is None
    assert cd.minor_compat_floor(12).min_driver == V("525.60.13")  # type: ignore[union-attr]
    assert cd.minor_compat_floor(10) is None
    assert cd.max_cuda_for_driver(V("535.183.01")) == V("12.2")
    assert cd.max_cuda_for_driver(V("570.26")) == V("12.8")
    assert cd.max_cuda_for_driver(V("580.65.06")) == V("13.0")
    assert cd.max_cuda_for_driver(V("400.1")) is None
    assert [r.version for r in cd.updates_of(V("12.6"))] == [V("12.6"), V("12.6.1"), V("12.6.2"), V("12.6.3")]
    assert "datacenter" in cd.forward_compat_gpu_classes


def test_torch_lookups(rt: RuleTables) -> None:
    t = rt.torch
    assert t.variant(V("2.8"), "cu118") is None
    assert t.variant(V("2.7.1"), "cu118") is not None
    assert t.release(V("2.5.1")).default_variant == "cu124"  # type: ignore[union-attr]
    assert t.default_variant(V("2.11.0")).cuda == V("13.0")  # type: ignore[union-attr]
    # NOTE: torch 2.15.0 is on PyPI (default CUDA 13.2): the tables' newest line since 2026-12-03.
    assert t.newest.torch == V("2.15")
    # NOTE: Maxwell/Pascal SASS left the default wheels with cu128 (2.8); only cu126 keeps them.
    assert V("6.0") not in t.variant(V("2.8"), "cu128").sass  # type: ignore[union-attr]
    assert V("6.0") in t.variant(V("2.8"), "cu126").sass  # type: ignore[union-attr]
    assert V("7.0") not in t.variant(V("2.9"), "cu130").sass  # type: ignore[union-attr]
    # NOTE: this used to read PTX 12.0 off the main-branch build script; release builds strip +PTX
    # (pytorch#188914: "release/RC CUDA wheels ship without +PTX" before 2.13), so the row holds
    # none and says it is unconfirmed (the cu130 wheel itself was not read).
    assert t.variant(V("2.9"), "cu130").ptx == ()  # type: ignore[union-attr]
    assert not t.variant(V("2.9"), "cu130").confirmed  # type: ignore[union-attr]
    # NOTE: 2.5 cu124 was unconfirmed (builder script, conda measurements); its arch list has since
    # been read off the PyPI 2.5.1 wheel (the default variant), so only cu118/cu121 stay unconfirmed.
    assert t.variant(V("2.5"), "cu124").confirmed  # type: ignore[union-attr]
    assert not t.variant(V("2.5"), "cu118").confirmed  # type: ignore[union-attr]
    assert not t.variant(V("2.8"), "cu129").confirmed  # type: ignore[union-attr]
    assert V("3.7") in t.variant(V("2.7"), "cu118").sass  # type: ignore[union-attr]


def test_default_wheel_pins_are_recorded_and_fit_the_variant(rt: RuleTables) -> None:
    """Every release's PyPI wheel pins parse, and agree with the variant's CUDA, cuDNN and NCCL."""
    for rel in rt.torch.releases:
        var = rt.torch.default_variant(rel.torch)
        assert var is not None and var.pins, f"torch {rel.torch}: no pins for the PyPI wheel ({rel.default_variant})"
        assert "https://pypi.org/project/torch/" + str(rel.latest) + "/" in var.source.split(), rel.torch
        reqs = {canonicalize_name(r.name): r for r in map(Requirement, var.pins)}
        assert len(reqs) == len(var.pins), rel.torch
        for name, req in reqs.items():
            assert name.startswith("nvidia-") or name == "cuda-toolkit", (rel.torch, name)
            assert req.marker is None and req.specifier, (rel.torch, name)
            m = re.search(r"-cu(\d+)$", name)
            if m:
                assert int(m.group(1)) == var.cuda.major, (rel.torch, name)
        # the CUDA runtime: nvidia-cuda-runtime-cuXX up to 2.10, the cuda-toolkit meta-wheel from 2.11
        runtime = reqs.get(f"nvidia-cuda-runtime-cu{var.cuda.major}") or reqs["cuda-toolkit"]
        (pinned,) = [Version(s.version) for s in runtime.specifier]
        assert pinned.release[:2] == var.cuda.release[:2], (rel.torch, runtime)
        cudnn = reqs[f"nvidia-cudnn-cu{var.cuda.major}"]
        assert var.cudnn is not None and cudnn.specifier.contains(var.cudnn), (rel.torch, cudnn, var.cudnn)
        nccl = reqs.get(f"nvidia-nccl-cu{var.cuda.major}")
        if nccl is not None:
            assert var.nccl is not None and nccl.specifier.contains(var.nccl), (rel.torch, nccl, var.nccl)
    # Non-default variants' pins were not read (download.pytorch.org metadata): none are recorded.
    for var in rt.torch.variants:
        rel = rt.torch.release(var.torch)
        if rel is not None and var.name != rel.default_variant:
            assert var.pins == (), (var.torch, var.name)


def test_pin_lookups(rt: RuleTables) -> None:
    t = rt.torch
    assert "nvidia-cudnn-cu12==9.1.0.70" in t.pins(V("2.5.1"))
    assert t.pins(V("2.5.1+cu124")) == t.pins(V("2.5"), "cu124")
    assert t.pins(V("2.5"), "cu118") == ()  # not recorded
    assert t.pins(V("2.16")) == ()  # unknown release
    assert str(t.pin(V("2.11.0"), "nvidia_cudnn_cu13")) == "nvidia-cudnn-cu13==9.19.0.56"  # type: ignore[union-attr]
    assert str(t.pin(V("2.8.0"), "NVIDIA-NCCL-CU12")) == "nvidia-nccl-cu12==2.27.3"  # type: ignore[union-attr]
    assert t.pin(V("1.13.1"), "nvidia-nccl-cu11") is None  # 1.13.1 linked NCCL statically: no pin
    assert str(t.pin(V("2.0.1"), "nvidia-nccl-cu11")) == "nvidia-nccl-cu11==2.14.3"  # type: ignore[union-attr]
    # 2.12.1 pins cuBLAS by a range, outside the cuda-toolkit extras.
    cublas = t.pin(V("2.12.1"), "nvidia-cublas")
    assert cublas is not None and cublas.specifier.contains("13.1.0.3") and not cublas.specifier.contains("13.2")
    toolkit = t.pin(V("2.14.1"), "cuda-toolkit")
    assert toolkit is not None and "cudart" in toolkit.extras and str(toolkit.specifier) == "==13.0.3"


@pytest.mark.parametrize(
    ("name", "model", "cc"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM", "9.0"),
        ("NVIDIA H100 PCIe", "H100 PCIe", "9.0"),
        ("NVIDIA H100 NVL", "H100 NVL", "9.0"),
        ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB", "8.0"),
        ("NVIDIA A100-SXM4-40GB", "A100 SXM4 40GB", "8.0"),
        ("NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB", "8.0"),
        ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB", "8.0"),
        ("Tesla V100-SXM2-32GB", "Tesla V100 SXM2 32GB", "7.0"),
        ("Tesla T4", "Tesla T4", "7.5"),
        ("NVIDIA A10G", "A10G", "8.6"),
        ("NVIDIA A10", "A10", "8.6"),
        ("NVIDIA L4", "L4", "8.9"),
        ("NVIDIA L40S", "L40S", "8.9"),
        ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090", "8.9"),
        ("NVIDIA GeForce RTX 4090 Laptop GPU", "GeForce RTX 40xx", "8.9"),
        ("NVIDIA GeForce RTX 5090", "GeForce RTX 5090", "12.0"),
        ("NVIDIA H200", "H200 SXM", "9.0"),
        ("NVIDIA H200 NVL", "H200 NVL", "9.0"),
        ("NVIDIA GH200 480GB", "GH200", "9.0"),
        ("NVIDIA B200", "B200", "10.0"),
        ("NVIDIA GeForce GTX 1080 Ti", "GeForce GTX 1080 Ti", "6.1"),
        ("Tesla K80", "Tesla K80", "3.7"),
        ("Tesla P100-PCIE-16GB", "Tesla P100 PCIe 16GB", "6.0"),
        ("Orin (nvgpu)", "Jetson AGX Orin / Orin NX / Orin Nano", "8.7"),
        ("nvidia h100 pcie", "H100 PCIe", "9.0"),
    ],
)
def test_gpu_lookup_by_nvml_name(rt: RuleTables, name: str, model: str, cc: str) -> None:
    m = rt.gpus.lookup(name)
    assert m is not None and m.model == model and m.cc == V(cc)


def test_gpu_flags(rt: RuleTables) -> None:
    g = rt.gpus
    assert g.lookup("NVIDIA GH200 480GB").model != "H200 SXM"  # type: ignore[union-attr]
    for name in ("NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "NVIDIA H200", "NVIDIA B200"):
        m = g.lookup(name)
        assert m is not None and m.nvswitch and m.datacenter and m.forward_compat, name
    for name in ("NVIDIA H100 PCIe", "NVIDIA A100 80GB PCIe", "Tesla T4"):
        assert not g.lookup(name).nvswitch  # type: ignore[union-attr]
    for name in ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 5090"):
        m = g.lookup(name)
        assert m is not None and not m.datacenter and not m.forward_compat
    assert g.lookup("NVIDIA Radeon") is None
    assert g.by_model("H100 SXM").bf16 == 989  # type: ignore[union-attr]


def test_compute_capability_lookups(rt: RuleTables) -> None:
    cc = rt.compute_capability
    assert cc.get(V("3.7")).last_cuda == V("11.8")  # type: ignore[union-attr]
    assert cc.get(V("7.0")).last_cuda == V("12.9")  # type: ignore[union-attr]
    assert cc.get(V("7.5")).last_cuda is None  # type: ignore[union-attr]
    assert cc.get(V("12.0")).first_cuda == V("12.8")  # type: ignore[union-attr]
    on13 = {e.cc for e in cc.supported_by(V("13.0"))}
    assert V("7.0") not in on13 and V("7.5") in on13 and V("11.0") in on13


def test_host_compiler_and_cudnn_lookups(rt: RuleTables) -> None:
    assert rt.host_compiler.for_cuda(V("12.4.1")).max_gcc == 13  # type: ignore[union-attr]
    assert rt.host_compiler.for_cuda(V("13.1")).max_gcc == 15  # type: ignore[union-attr]
    assert rt.host_compiler.for_cuda(V("9.2")) is None
    assert rt.cudnn.major_of_library("libcudnn_ops.so.9").major == 9  # type: ignore[union-attr]
    assert rt.cudnn.major_of_library("libcudnn_ops_infer.so.8").major == 8  # type: ignore[union-attr]
    assert 13 in rt.cudnn.get(9).cuda_majors  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- validation errors


def _copy_rules(tmp_path: Path) -> Path:
    dest = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), dest)
    return dest


def _edit_entry(path: Path, header: str, index: int, key: str, new_line: str | None) -> None:
    """Replace (or, with None, delete) the line ``key = ...`` of the *index*-th ``header`` entry."""
    lines = path.read_text(encoding="utf-8").splitlines()
    seen = -1
    for n, line in enumerate(lines):
        if line.strip() == header:
            seen += 1
        elif seen == index and re.match(rf"^{re.escape(key)}\s*=", line):
            if new_line is None:
                del lines[n]
            else:
                lines[n] = new_line
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return
        elif seen > index:
            break
    raise AssertionError(f"{header}[{index}].{key} not found in {path}")


def _error(directory: Path | None) -> str:
    with pytest.raises(RuleTableError) as exc:
        load_tables(directory)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_bad_version_names_file_entry_and_field(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "cuda_driver.toml", "[[cuda]]", 3, "min_driver", 'min_driver = "55O.54"')
    assert _error(d) == f"{d / 'cuda_driver.toml'}: cuda[3].min_driver: '55O.54' is not a version"


def test_shipped_dir_errors_use_the_short_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "cuda_driver.toml", "[[cuda]]", 3, "min_driver", 'min_driver = "55O.54"')
    monkeypatch.setattr(tables_mod, "default_rules_dir", lambda: d)
    assert _error(None) == "rules/cuda_driver.toml: cuda[3].min_driver: '55O.54' is not a version"


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "cuda_driver.toml", "[[cuda]]", 3, "min_driver", 'min_drivr = "450.51.05"')
    assert _error(d).startswith(f"{d / 'cuda_driver.toml'}: cuda[3].min_drivr: unknown key (expected one of: ")


def test_unknown_key_in_a_gpu_entry(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "gpus.toml", "[[gpu]]", 0, "arch", 'arhc = "Kepler"')
    assert _error(d).startswith(f"{d / 'gpus.toml'}: gpu[0].arhc: unknown key")


def test_bad_version_in_an_arch_list(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "torch.toml", "[[variant]]", 0, "sass", 'sass = ["3.7", "sm_50"]')
    assert _error(d) == f"{d / 'torch.toml'}: variant[0].sass: 'sm_50' is not a version"


def test_default_variant_must_be_listed(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "torch.toml", "[[release]]", 0, "default_variant", 'default_variant = "cu118"')
    assert _error(d) == (
        f"{d / 'torch.toml'}: release[0].default_variant: 'cu118' is not in variants ['cu116', 'cu117']"
    )


def test_variant_names_must_be_cuda_variants(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "torch.toml", "[[release]]", 0, "variants", 'variants = ["cu116", "cu11x"]')
    assert _error(d) == f"{d / 'torch.toml'}: release[0].variants: 'cu11x' is not a CUDA variant name like 'cu124'"


def test_variant_row_must_belong_to_a_listing_release(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "torch.toml", "[[release]]", 0, "variants", 'variants = ["cu117"]')
    _edit_entry(d / "torch.toml", "[[release]]", 0, "default_variant", 'default_variant = "cu117"')
    assert _error(d) == f"{d / 'torch.toml'}: variant[0].variant: 'cu116' is not listed in the variants of release 1.13"


def test_variant_cuda_must_match_its_name(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "torch.toml", "[[variant]]", 0, "cuda", 'cuda = "11.7"')
    assert _error(d) == f"{d / 'torch.toml'}: variant[0].cuda: '11.7' does not match variant 'cu116'"


def test_duplicate_and_unsorted_entries(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "cuda_driver.toml", "[[cuda]]", 1, "version", 'version = "10.0"')
    assert _error(d) == f"{d / 'cuda_driver.toml'}: cuda.version: duplicate entry 10.0"
    d2 = _copy_rules(tmp_path / "b")
    _edit_entry(d2 / "compute_capability.toml", "[[cc]]", 1, "cc", 'cc = "2.0"')
    assert _error(d2) == f"{d2 / 'compute_capability.toml'}: cc.cc: entries not sorted (2.0 after 3.0)"


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    path = d / "host_compiler.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^source = .*$", "", text), encoding="utf-8")
    assert _error(d) == (
        f"{path}: cuda[0].source: every entry needs a source URL (on the entry or the file)"
    )


def test_newer_schema_missing_file_and_bad_toml(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    path = d / "cudnn.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("schema = 1", "schema = 2"), encoding="utf-8")
    assert _error(d) == f"{path}: schema 2 is newer than this cudadoctor reads (1)"
    path.unlink()
    assert _error(d) == f"{path}: missing"
    d3 = _copy_rules(tmp_path / "c")
    (d3 / "gpus.toml").write_text("schema = 1\n[[gpu]\n", encoding="utf-8")
    assert _error(d3).startswith(f"{d3 / 'gpus.toml'}: not valid TOML: ")
    assert _error(tmp_path / "nowhere") == f"{tmp_path / 'nowhere'}: rules directory does not exist"


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ('["nvidia-cudnn-cu11=8.3.2.44"]', "'nvidia-cudnn-cu11=8.3.2.44' is not a requirement like 'nvidia-cudnn-cu12==9.1.0.70'"),
        ('["nvidia-cudnn-cu11"]', "'nvidia-cudnn-cu11' has no version specifier"),
        ('["nvidia-cudnn-cu11==8.3.2.44; platform_system == \'Linux\'"]',
         "\"nvidia-cudnn-cu11==8.3.2.44; platform_system == 'Linux'\" has an environment marker "
         "(pins are recorded without one)"),
        ('["nvidia-cudnn-cu11==8.3.2.44", "nvidia_cudnn_cu11==8.3.2.44"]', "duplicate pin for 'nvidia_cudnn_cu11'"),
        ('"nvidia-cudnn-cu11==8.3.2.44"', "'nvidia-cudnn-cu11==8.3.2.44' is not an array of strings"),
    ],
)
def test_bad_pins(tmp_path: Path, pins: str, message: str) -> None:
    d = _copy_rules(tmp_path)
    _edit_entry(d / "torch.toml", "[[variant]]", 0, "ptx", f"ptx = []\npins = {pins}")
    assert _error(d) == f"{d / 'torch.toml'}: variant[0].pins: {message}"


# ---------------------------------------------------------------------------- facts pinned against sources
# Each test below pins a rule fact that was found wrong (or missing) against its source (issue 12).

#: Hosts whose pages may be cited in `source`: NVIDIA's, PyTorch's, PyPI (the wheels' metadata) and the
#: wheel files themselves. A third party's site never counts as the source of a number.
PRIMARY_HOSTS = frozenset({
    "docs.nvidia.com", "developer.nvidia.com", "www.nvidia.com", "developer.download.nvidia.com",
    "pytorch.org", "docs.pytorch.org", "download.pytorch.org", "dev-discuss.pytorch.org",
    "pypi.org", "files.pythonhosted.org",
})
#: GitHub organisations that are NVIDIA's or PyTorch's own.
PRIMARY_GITHUB_OWNERS = frozenset({"nvidia", "pytorch"})


def _is_primary(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "github.com":
        owner = parts.path.strip("/").split("/", 1)[0].lower()
        return owner in PRIMARY_GITHUB_OWNERS
    if host == "hub.docker.com":
        # NOTE: PyTorch's own repository on Docker Hub is the primary page of its image tags.
        return parts.path.startswith("/r/pytorch/")
    return host in PRIMARY_HOSTS


def test_every_source_url_is_a_primary_host(rt: RuleTables) -> None:
    """No `source` in rules/ names a third party's site (issue 12: a cuda_driver row cited one)."""
    bad = []
    for entry in _all_entries(rt):
        bad += [(type(entry).__name__, u) for u in getattr(entry, "source").split() if not _is_primary(u)]
    bad += [("cuda_driver.forward_compat", u) for u in rt.cuda_driver.forward_compat_source.split()
            if not _is_primary(u)]
    for meta in rt.meta.values():  # file-level sources too
        bad += [(meta.name, u) for u in meta.sources if not _is_primary(u)]
    assert not bad, bad


@pytest.mark.parametrize(
    ("url", "primary"),
    [
        ("https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html", True),
        ("https://github.com/pytorch/pytorch/pull/172598", True),
        ("https://github.com/NVIDIA/nccl/issues/1637", True),
        ("https://pypi.org/project/torch/2.15.0/", True),
        ("https://vmafx.github.io/vmafx/adr/0738-bump-cuda-133-r610-local/", False),
        ("https://github.com/stas00/ml-engineering/blob/master/compute/accelerator/README.md", False),
        ("https://github.com/pytorchfork/pytorch/blob/main/RELEASE.md", False),
        ("https://docs.nvidia.com.example.org/x", False),
        ("https://hub.docker.com/r/pytorch/pytorch/tags", True),
        ("https://hub.docker.com/r/someone/pytorch/tags", False),
    ],
)
def test_primary_host_allow_list(url: str, primary: bool) -> None:
    assert _is_primary(url) is primary


def test_torch_2_11_cu128_has_no_volta(rt: RuleTables) -> None:
    # NOTE: pytorch/pytorch#172598 "[CD] Exclude Volta from CUDA-12.8 and 12.9 builds"; the 2.11
    # support matrix (#172352, RELEASE.md): 12.8.1 = 7.5, 8.0, 8.6, 9.0, 10.0, 12.0. The row used to
    # copy the 2.9/2.10 list, 7.0 included.
    var = rt.torch.variant(V("2.11"), "cu128")
    assert var is not None and var.confirmed
    assert var.sass == tuple(map(V, ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0"))) and var.ptx == ()
    assert V("7.0") in rt.torch.variant(V("2.11"), "cu126").sass  # type: ignore[union-attr]
    assert V("7.0") in rt.torch.variant(V("2.10"), "cu128").sass  # type: ignore[union-attr]
    # from 2.11 on, only cu126 builds carry Volta
    for v in rt.torch.variants:
        if v.torch >= V("2.11"):
            assert (V("7.0") in v.sass) is (v.name == "cu126"), (v.torch, v.name)


def test_release_wheels_from_2_11_carry_no_ptx(rt: RuleTables) -> None:
    # NOTE: cuobjdump of the PyPI wheels (2.11.0/2.12.1/2.13.0/2.14.1 cu130, 2.15.0 cu132) finds SASS
    # sm_75 ... sm_120 and no PTX; release builds strip +PTX (pytorch/pytorch#188914, #188925). The
    # rows used to read 12.0+PTX off RELEASE.md / the main-branch build script, which describe nightlies.
    sass = tuple(map(V, ("7.5", "8.0", "8.6", "9.0", "10.0", "12.0")))
    for tv in ("2.11", "2.12", "2.13", "2.14", "2.15"):
        default = rt.torch.default_variant(V(tv))
        assert default is not None and default.confirmed, tv
        assert default.sass == sass and default.ptx == (), tv
        for v in rt.torch.variants_of(V(tv)):
            assert v.ptx == (), (tv, v.name)
            if v.name == "cu132" and v.name != rt.torch.release(V(tv)).default_variant:  # type: ignore[union-attr]
                assert not v.confirmed and "wheel itself would confirm" in v.note, (tv, v.name)


def test_cu129_wheels_of_2_9_and_2_10(rt: RuleTables) -> None:
    # NOTE: the whl/cu129 index serves torch 2.9.0 and 2.10.0 (issue 12); not in RELEASE.md, so the
    # rows are unconfirmed, with the 12.9 list of the build script (sm_70 kept) and no cuDNN/NCCL.
    for tv in ("2.9", "2.10"):
        rel = rt.torch.release(V(tv))
        var = rt.torch.variant(V(tv), "cu129")
        assert rel is not None and "cu129" in rel.variants and var is not None, tv
        assert var.cuda == V("12.9") and not var.confirmed and "download.pytorch.org/whl/cu129" in var.note
        assert V("7.0") in var.sass and V("12.0") in var.sass and var.ptx == ()
        assert var.cudnn is None and var.nccl is None and var.pins == ()
    assert rt.torch.variant(V("2.11"), "cu129") is None  # not listed: not confirmed


def test_torch_2_15_from_its_pypi_wheel(rt: RuleTables) -> None:
    rel = rt.torch.release(V("2.15.0"))
    assert rel is not None and rel.latest == V("2.15.0") and rel.default_variant == "cu132"
    assert (rel.python_min, rel.python_max) == (V("3.11"), V("3.15"))
    assert not rel.confirmed and "cadence" in rel.note  # month and companions are not confirmed
    var = rt.torch.default_variant(V("2.15"))
    assert var is not None and var.cuda == V("13.2") and var.cudnn == V("9.26.0.51") and var.nccl == V("2.30.7")
    assert str(rt.torch.pin(V("2.15.0"), "cuda-toolkit").specifier) == "==13.2.2"  # type: ignore[union-attr]


def test_cuda_13_3_rows_stay_unconfirmed_with_nvidia_sources(rt: RuleTables) -> None:
    # NOTE: the 13.3 rows cited a third-party ADR page; NVIDIA's 13.3 release notes (Table 3) would
    # confirm 610.43.02, so the rows stay unconfirmed and name those pages instead.
    for version in ("13.3", "13.3.1"):
        rel = rt.cuda_driver.get(V(version))
        assert rel is not None and not rel.confirmed and rel.min_driver == V("610.43.02")
        assert all(u.startswith("https://docs.nvidia.com/cuda/") for u in rel.source.split())
        assert "Table 3" in rel.note
    assert rt.cuda_driver.newest == V("13.3.1")  # 13.4/13.5 exist but their driver rows were not read


def test_host_compiler_limits_read_in_nvcc_host_config(rt: RuleTables) -> None:
    # NOTE: crt/host_config.h of NVIDIA's nvcc/crt wheels: "#if __GNUC__ > N" per release.
    hc = rt.host_compiler
    expected = {"11.7": 11, "11.8": 11, "12.0": 12, "12.3": 12, "12.4": 13, "12.6": 13, "12.8": 14, "12.9": 14,
                "13.0": 15, "13.2": 15, "13.3": 15, "13.4": 16, "13.5": 16}
    for cuda, max_gcc in expected.items():
        rule = hc.for_cuda(V(cuda))
        assert rule is not None and rule.max_gcc == max_gcc and rule.confirmed, cuda
    for cuda in ("10.0", "11.0", "11.4", "11.6"):
        assert not hc.for_cuda(V(cuda)).confirmed, cuda  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("cc", "single", "multi", "confirmed"),
    [
        ("8.0", "2.7.3", "2.7.3", True),  # NCCL 2.7.3: "Added support for A100 GPU and related platforms"
        ("8.6", "2.7.3", "2.7.3", False),  # sm_80 SASS runs on 8.6
        ("8.9", "2.7.3", "2.7.3", False),
        ("9.0", "2.15.1", "2.15.1", False),
        ("10.0", "2.25.1", "2.25.1", False),
        ("10.3", "2.25.1", "2.25.1", False),
        ("12.0", "2.26.2", "2.27.3", False),  # consumer Blackwell: the P2P path came later
        ("12.1", "2.26.2", "2.27.3", False),
    ],
)
def test_nccl_floor_per_architecture(rt: RuleTables, cc: str, single: str, multi: str, confirmed: bool) -> None:
    info = rt.compute_capability.get(V(cc))
    assert info is not None
    assert info.nccl_min == V(single) and info.nccl_min_for(1) == V(single)
    assert info.nccl_min_for(2) == V(multi) and info.nccl_min_for(8) == V(multi)
    assert info.nccl_confirmed is confirmed
    assert any("nccl" in u.lower() for u in info.source.split()), cc


def test_nccl_floor_left_out_where_no_release_note_says(rt: RuleTables) -> None:
    # NOTE: which NCCL 2.x first supported Kepler..Turing was not found; every NCCL a torch wheel in
    # the tables ships (>= 2.10) supports them, so the check skips them rather than guess.
    for cc in ("3.5", "3.7", "5.0", "6.0", "6.1", "7.0", "7.5"):
        info = rt.compute_capability.get(V(cc))
        assert info is not None and info.nccl_min is None and info.nccl_min_for(2) is None, cc


def test_nccl_multi_gpu_floor_needs_and_exceeds_the_single_gpu_floor(tmp_path: Path) -> None:
    d = _copy_rules(tmp_path)
    path = d / "compute_capability.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('nccl_min_multi_gpu = "2.27.3"', 'nccl_min_multi_gpu = "2.26.2"', 1), encoding="utf-8")
    n = next(i for i, e in enumerate(load_tables().compute_capability.entries) if e.cc == V("12.0"))
    assert _error(d) == (f"{path}: cc[{n}].nccl_min_multi_gpu: '2.26.2' is not above nccl_min '2.26.2' "
                         "(leave it out instead)")
    d2 = _copy_rules(tmp_path / "b")
    path2 = d2 / "compute_capability.toml"
    text2 = path2.read_text(encoding="utf-8")
    path2.write_text(text2.replace('nccl_min = "2.26.2"\nnccl_min_multi_gpu', 'nccl_min_multi_gpu', 1), encoding="utf-8")
    assert _error(d2) == f"{path2}: cc[{n}].nccl_min_multi_gpu: needs nccl_min (the single-GPU floor) too"


def _unconfirmed_row_keys(rt: RuleTables) -> set[str]:
    """`<table> <row>` for every row the loaded tables mark unconfirmed (the README index's keys)."""
    keys = {f"cuda_driver {r.version}" for r in rt.cuda_driver.releases if not r.confirmed}
    keys |= {f"torch {r.torch}" for r in rt.torch.releases if not r.confirmed}
    keys |= {f"torch {v.torch} {v.name}" for v in rt.torch.variants if not v.confirmed}
    for cc in rt.compute_capability.entries:
        if not cc.confirmed:
            keys.add(f"compute_capability {cc.cc}")
        if not cc.nccl_confirmed:
            keys.add(f"compute_capability {cc.cc} nccl")
    keys |= {f"cudnn {m.major}" for m in rt.cudnn.majors if not m.confirmed}
    keys |= {f"host_compiler {r.cuda}" for r in rt.host_compiler.rules if not r.confirmed}
    keys |= {f"gpus {g.model}" for g in rt.gpus.models if not g.confirmed}
    keys |= {f"images {i.tag(i.flavors[0]).rsplit('-', 1)[0]}" for i in rt.images.pytorch if not i.confirmed}
    keys |= {f"images {n.tag}" for n in rt.images.ngc if not n.confirmed}
    return keys


def test_every_unconfirmed_row_is_listed_in_the_readme(rt: RuleTables) -> None:
    """rules/README.md names every `confirmed = false` row, with the item that says what would confirm it."""
    text = (default_rules_dir() / "README.md").read_text(encoding="utf-8")
    head, sep, index = text.partition("### Every unconfirmed row")
    assert sep, "rules/README.md lost its index of unconfirmed rows"
    listed = dict(re.findall(r"^- `([^`]+)`: items? ([0-9][0-9 and,]*)$", index, flags=re.MULTILINE))
    expected = _unconfirmed_row_keys(rt)
    assert expected, "the tables hold unconfirmed rows; finding none means the key builder broke"
    assert sorted(expected - set(listed)) == [], "unconfirmed rows missing from rules/README.md"
    assert sorted(set(listed) - expected) == [], "rules/README.md lists rows that are confirmed or gone"
    items = {int(n) for n in re.findall(r"^(\d+)\. ", head.partition("## Facts not confirmed")[2], flags=re.MULTILINE)}
    for key, refs in listed.items():
        for n in re.findall(r"\d+", refs):
            assert int(n) in items, f"{key}: item {n} is not in the README's list"


def test_unconfirmed_rows_say_why_in_their_note(rt: RuleTables) -> None:
    """Every unconfirmed row carries a note (why it is unconfirmed; the README says what would confirm it)."""
    bare = [(type(e).__name__, getattr(e, "note", None)) for e in _all_entries(rt)
            if hasattr(e, "confirmed") and not e.confirmed and not getattr(e, "note", "x").strip()]
    assert bare == []


def test_notes_link_no_third_party_page(rt: RuleTables) -> None:
    """A note may name a secondary site but never link it: links in rules/ are primary sources only."""
    bad = [(type(e).__name__, u) for e in _all_entries(rt)
           for u in re.findall(r"https?://\S+", getattr(e, "note", "")) if not _is_primary(u.rstrip(").,;"))]
    assert bad == []
