"""cudadoctor diff: noise is ignored, differences are grouped by consequence, and each finding that
fires on one side only is attributed to the differences it rests on, by the same engine check runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudadoctor.cli import main
from cudadoctor.diff.aspects import GROUP_RANK, aspect_of
from cudadoctor.diff.compare import diff_facts, judge, path_matches
from cudadoctor.factsfile import facts_to_dict
from cudadoctor.render.json_report import report_dict
from tests.conftest import env_facts, env_path

A100 = str(env_path("healthy_a100_cu121"))
A100_LATER = str(env_path("healthy_a100_cu121_later"))
A100_CU118 = str(env_path("a100_cu118_wheel"))


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["diff", *args])
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


def test_two_fixtures_that_differ_only_in_noise_are_the_same(capsys) -> None:
    """Acceptance: temperatures, memory in use, PIDs, timestamps, host names, power, probe timings moved; exit 0."""
    code, out, _ = run([A100, A100_LATER], capsys)
    assert code == 0, out
    assert "SAME in everything that matters." in out
    assert "in live state ignored" in out
    code, out, _ = run([A100, A100_LATER, "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["same"] is True and data["groups"] == [] and data["findings"] == []
    ignored = {c["path"] for c in data["noise"]}
    assert {"collected_at", "host.hostname", "driver.gpus[0].temperature_c", "driver.gpus[0].memory_used_mib",
            "driver.gpus[0].power_draw_w", "driver.gpus[0].utilization_percent", "env.working_directory",
            "env.variables[SLURM_JOB_ID]", "probe_seconds.torch"} <= ignored
    assert any(p.startswith("driver.gpus[0].processes") for p in ignored)


def test_cu121_vs_cu118_wheel_on_the_same_host_names_the_variant_and_the_finding(capsys) -> None:
    """Acceptance: the variant is named, and nvcc-torch-cuda-mismatch is the finding it causes."""
    code, out, _ = run([A100, A100_CU118], capsys)
    assert code == 1
    assert "torch version              2.3.1+cu121  →  2.3.1+cu118   (CUDA variant cu121 → cu118)" in out
    assert "causes nvcc-torch-cuda-mismatch (warning, only in B)" in out
    assert "TLK001 nvcc-torch-cuda-mismatch (warning): only in B" in out
    assert "rests on: torch version, CUDA torch was built with" in out
    code, out, _ = run([A100, A100_CU118, "--format", "json"], capsys)
    data = json.loads(out)
    torch = next(g for g in data["groups"] if g["group"] == "torch")
    version = next(c for c in torch["changes"] if c["path"] == "torch.version")
    assert version["note"] == "CUDA variant cu121 → cu118"
    assert version["findings"] == ["nvcc-torch-cuda-mismatch"]
    (finding,) = data["findings"]
    assert finding["side"] == "b" and finding["code"] == "TLK001" and finding["by"] == "evidence"
    assert "torch.version" in finding["rests_on"] and "torch.cuda_version" in finding["rests_on"]
    assert data["a"]["verdict"] == "ready" and data["b"]["verdict"] == "degraded"


def test_groups_are_ordered_by_consequence(capsys) -> None:
    code, out, _ = run([A100, str(env_path("healthy_h100_cu128")), "--format", "json"], capsys)
    groups = [g["group"] for g in json.loads(out)["groups"]]
    assert groups == sorted(groups, key=GROUP_RANK.__getitem__)
    assert groups[:5] == ["driver", "loaded", "torch", "arch", "gpus"]
    assert groups.index("python") < groups.index("packages") < groups.index("environment")


def test_markdown_and_output_file(tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "diff.md"
    code, out, _ = run([A100, A100_CU118, "--format", "markdown", "-o", str(out_file)], capsys)
    assert code == 1 and out == ""
    text = out_file.read_text()
    assert text.startswith("## cudadoctor diff: different")
    assert "| torch version | 2.3.1+cu121 | 2.3.1+cu118 | CUDA variant cu121 → cu118; causes `nvcc-torch-cuda-mismatch` |" in text
    assert "**TLK001** `nvcc-torch-cuda-mismatch` (warning), only in B" in text


def test_sides_may_be_reports_and_snapshots(tmp_path: Path, capsys) -> None:
    """A check --format json report (facts embedded) and a snapshot compare like facts files."""
    report = tmp_path / "a.report.json"
    with pytest.raises(SystemExit):
        main(["check", "--facts", A100, "--format", "json", "-o", str(report)])
    snap = tmp_path / "b.snapshot.json"
    with pytest.raises(SystemExit) as e:
        main(["snapshot", "--facts", A100_CU118, "-o", str(snap)])
    assert e.value.code == 0
    capsys.readouterr()
    code, out, _ = run([str(report), str(snap), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["a"]["kind"] == "report" and data["b"]["kind"] == "snapshot"
    assert [f["name"] for f in data["findings"]] == ["nvcc-torch-cuda-mismatch"]
    code, _, _ = run([str(report), A100], capsys)
    assert code == 0


def test_here_probes_this_machine_once(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from cudadoctor.commands import check

    calls = []

    def fake_probe(opts):  # type: ignore[no-untyped-def]
        calls.append(opts)
        return env_facts("healthy_a100_cu121")

    monkeypatch.setattr(check, "probe", fake_probe)
    code, out, _ = run([A100, "here"], capsys)
    assert code == 0 and "this machine, probed now" in out
    code, _, _ = run(["-", "here"], capsys)
    assert code == 0 and len(calls) == 2  # once per diff: "-" and "here" are the same probe


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent.json", A100], "/nonexistent.json: cannot read file"),
        ([A100, A100, "--format", "xml"], "diff --format must be one of terminal, json, markdown"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys) -> None:
    code, out, err = run(args, capsys)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_json_is_named(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run([str(bad), A100], capsys)
    assert code == 2 and f"{bad}: not valid JSON" in err


def test_finding_differences_are_exactly_what_the_engine_says() -> None:
    """The same checks judge both sides: the deltas are the set difference of the two reports' findings."""
    from cudadoctor.tables import load_tables

    tables = load_tables()
    for a, b in [("healthy_a100_cu121", "no_driver"), ("healthy_h100_cu128", "lib_h100_syscuda"),
                 ("healthy_a100_cu121", "a100_cu118_wheel")]:
        fa, fb = env_facts(a), env_facts(b)
        d = diff_facts(fa, fb, tables)
        codes_a = {f.code for f in judge(fa, tables).findings}
        codes_b = {f.code for f in judge(fb, tables).findings}
        assert {x.code for x in d.findings if x.side == "a"} == codes_a - codes_b
        assert {x.code for x in d.findings if x.side == "b"} == codes_b - codes_a


def test_a_finding_resting_only_on_live_state_is_shown_but_not_a_difference() -> None:
    """A GPU whose PCIe link idles down on one side fires pcie-link-degraded there: live state, not the environment."""
    from cudadoctor.tables import load_tables

    tables = load_tables()
    busy = env_facts("healthy_a100_cu121", {"driver.gpus[0].pcie_gen_current": 2, "driver.gpus[0].utilization_percent": 97,
                                               "driver.gpus[0].throttle_reasons": ["sw-power-cap"]})
    d = diff_facts(env_facts("healthy_a100_cu121"), busy, tables)
    (delta,) = d.findings
    assert delta.name == "pcie-link-degraded" and delta.live and "driver.gpus[0].pcie_gen_current" in delta.rests_on
    assert d.same and not d.changes


def test_an_area_unknown_on_one_side_is_one_change() -> None:
    from cudadoctor.tables import load_tables

    gone = env_facts("healthy_a100_cu121", {"torch": {"unavailable": True, "probe": "torch", "reason": "timed out"}})
    d = diff_facts(env_facts("healthy_a100_cu121"), gone, load_tables())
    torch = [c for c in d.changes if c.path.startswith("torch")]
    assert [(c.path, c.a, c.b) for c in torch] == [("torch", "probed", "unknown (timed out)")]


@pytest.mark.parametrize(
    ("evidence", "path", "expected"),
    [
        ("torch.cuda_version", "torch.cuda_version", True),
        ("driver.gpus", "driver.gpus[0].name", True),
        ("driver.gpus[1].temperature_c", "driver.gpus[0].temperature_c", False),
        ("driver.gpus.memory_total_mib", "driver.gpus[3].memory_total_mib", True),
        ("env.CUDA_VISIBLE_DEVICES", "env.variables[CUDA_VISIBLE_DEVICES]", True),
        ("env.variables.RANK", "env.variables[RANK]", True),
        ("env.variables.RANK", "env.variables[WORLD_SIZE]", False),
        ("cuda_libs.copies[libcudart]", "cuda_libs.copies[libcudart@/usr/lib/libcudart.so.12]", True),
        ("cuda_libs.copies[libcudnn]", "cuda_libs.copies[libcudart@/usr/lib/libcudart.so.12]", False),
        ("torch.version", "torch", True),  # the whole area is unknown on one side
        ("library", "torch.version", False),  # a bare word is not a fact path
        ("torch.version", "torch.version_extra", False),
    ],
)
def test_evidence_keys_name_fact_paths(evidence: str, path: str, expected: bool) -> None:
    assert path_matches(evidence, path) is expected


def test_every_noise_kind_the_issue_names_is_noise() -> None:
    for path in ("driver.gpus[0].temperature_c", "driver.gpus[0].memory_used_mib", "driver.gpus[2].processes[0].pid",
                 "collected_at", "host.hostname", "driver.gpus[0].throttle_reasons", "probe_seconds.driver",
                 "driver.gpus[0].utilization_percent", "driver.gpus[0].power_draw_w"):
        assert aspect_of(path).noise, path
    for path in ("driver.driver_version", "torch.version", "env.variables[LD_LIBRARY_PATH]", "torch.arch_list",
                 "driver.gpus[0].name", "torch.python_version", "torch.distributions[torchvision].version"):
        assert not aspect_of(path).noise, path


def test_secrets_never_appear_and_redact_hides_hosts(tmp_path: Path, capsys) -> None:
    secret = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    data = facts_to_dict(env_facts("healthy_a100_cu121"))
    data["env"]["variables"]["HF_TOKEN"] = secret
    data["torch"]["import_error"] = f"could not fetch with token {secret}"
    data["host"]["hostname"] = "gpu-node-secret-17"
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(data))
    for fmt in ("terminal", "json", "markdown"):
        code, out, _ = run([A100, str(planted), "--format", fmt], capsys)
        assert code == 1 and secret not in out, fmt
        assert "HF_TOKEN" in out or fmt != "json"
        code, out, _ = run([A100, str(planted), "--format", fmt, "--redact"], capsys)
        assert "gpu-node-secret-17" not in out and "/home/ana" not in out, fmt


def test_a_reports_stored_findings_are_not_trusted(tmp_path: Path, capsys) -> None:
    """Both sides are judged again by this engine: an edited report's findings change nothing."""
    from cudadoctor.tables import load_tables

    report = report_dict(judge(env_facts("healthy_a100_cu121"), load_tables()))
    report["findings"] = [{"code": "DRV001", "name": "driver-too-old-for-torch", "severity": "error"}]
    report["verdict"] = "not-ready"
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(report))
    code, _, _ = run([str(path), A100], capsys)
    assert code == 0


@pytest.mark.parametrize("b", ["a100_cu118_wheel", "healthy_a100_cu121_later"])
def test_docs_show_what_diff_prints(b: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/diff.md's worked examples are the real output (rerun the command and paste it when this fails)."""
    root = Path(__file__).parents[2]
    monkeypatch.chdir(root)
    _, out, _ = run([f"tests/fixtures/envs/healthy_a100_cu121.json", f"tests/fixtures/envs/{b}.json"], capsys)
    assert out.strip() in (root / "docs" / "diff.md").read_text()
