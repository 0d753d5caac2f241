"""The terminal renderer: every area, every finding's evidence and fix, narrow terminals, no colour."""

from __future__ import annotations

from cudadoctor.engine import evaluate
from cudadoctor.render import OutputFormat, render
from tests.conftest import env_facts


def _report(tables, env: str = "no_driver", **overrides):
    return evaluate(env_facts(env, overrides or None), tables)


def test_every_finding_shows_message_evidence_and_fix(tables) -> None:
    report = _report(tables)
    text = render(report, OutputFormat.TERMINAL, width=100)
    assert report.findings, "the no-driver environment must produce findings"
    for f in report.findings:
        assert f"{f.code} {f.name}" in text
        assert "Fix:" in text
    assert report.verdict_heading() in text and report.counts_summary() in text.replace("\n", " ")


def test_last_line_says_the_verdict_once_in_words(tables) -> None:
    report = _report(tables)
    last = render(report, OutputFormat.TERMINAL, width=100).rstrip().splitlines()[-1]
    assert last.strip().startswith("NOT READY for GPU training")
    assert last.count("NOT READY") == 1 and "NOT-READY" not in last
    assert report.counts_summary() in last


def test_narrow_terminal_wraps_within_width(tables) -> None:
    text = render(_report(tables), OutputFormat.TERMINAL, width=60)
    assert max(len(line) for line in text.splitlines()) <= 60


def test_no_colour_codes_unless_asked(tables) -> None:
    report = _report(tables)
    assert "\x1b[" not in render(report, OutputFormat.TERMINAL, color=False)
    assert "\x1b[" in render(report, OutputFormat.TERMINAL, color=True)


def test_verbose_lists_library_copies_skips_and_facts(tables) -> None:
    text = render(_report(tables, "healthy_h100_cu128"), OutputFormat.TERMINAL, width=120, verbose=True)
    assert "CUDA library copies:" in text
    assert "libcudnn 9.10.2" in text
    assert "All facts:" in text and "driver_version: 570.133.20" in text


def test_unavailable_area_says_why(tables) -> None:
    report = _report(tables, "healthy_h100_cu128", torch={"unavailable": True, "probe": "torch", "reason": "the torch child timed out after 60 s"})
    text = render(report, OutputFormat.TERMINAL, width=120)
    assert "PyTorch: could not be probed: the torch child timed out after 60 s" in text


def test_jupyter_display(tables) -> None:
    html = _report(tables)._repr_html_()
    assert "<" in html and "Diagnosis" in html


def test_every_output_format_renders(tables) -> None:
    report = _report(tables)
    for fmt in OutputFormat:
        assert render(report, fmt).strip()


def test_real_h100_host_is_ready_and_spelled_as_nvidia_does(tables) -> None:
    """Facts recorded on a real, healthy H100 machine (driver 580.159.04, torch 2.11.0+cu130, CUDA
    13.0 toolkit and a pip cuDNN beside a system one): ready, no errors or warnings, and the driver
    version printed as nvidia-smi prints it (not packaging's 580.159.4)."""
    report = _report(tables, "real_h100_device")
    assert report.verdict == "ready", [(f.code, f.severity.value, f.message) for f in report.findings]
    assert {f.severity.value for f in report.findings} <= {"info"}
    assert {f.name for f in report.findings} == {"multiple-cuda-runtimes"}  # system + pip cuDNN/cudart copies
    text = render(report, OutputFormat.TERMINAL, width=120)
    assert "driver 580.159.04 (supports CUDA up to 13.0)" in text
    assert "580.159.4 " not in text


def test_wrapped_lines_keep_their_indent_and_commands_stay_copyable(tables) -> None:
    """Plain text at a narrow width (stdout not a terminal): no wrapped line falls back to column 0,
    each fix command is on lines of its own that rejoin to the exact command, remarks are # lines."""
    import shlex

    report = _report(tables, "lib_h100_syscuda", **{
        "torch.loaded_libraries[0].path": "/usr/local/cuda-12.1/targets/x86_64-linux/lib/libcudart.so.12.1.105"})
    report_cpu = _report(tables)
    for rep in (report, report_cpu):
        text = render(rep, OutputFormat.TERMINAL, width=64)
        diagnosis = text.split("Diagnosis", 1)[1].splitlines()[1:]
        for line in diagnosis:
            assert not line or line[0] in " ✖⚠ℹ", f"a wrapped line lost its indent: {line!r}"
        for f in rep.findings:
            if f.fix.startswith(("unset ", "export ", "/")):
                command = f.fix.split("   (", 1)[0].split("; ", 1)[0]
                block = text.split(f"{f.code} {f.name}", 1)[1].split("Fix:", 1)[1].split("See: cudadoctor explain", 1)[0]
                lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
                cmd_lines = []
                for ln in lines:
                    cmd_lines.append(ln)
                    if not ln.endswith("\\"):
                        break
                assert shlex.split("\n".join(cmd_lines).replace("\\\n", " ")) == shlex.split(command)
                if "   (" in f.fix:
                    assert any(ln.startswith("# ") for ln in lines), lines
    assert "LIB002" in {f.code for f in report.findings}


def test_toolkit_line_says_where_torchs_cuda_home_guess_differs(tables) -> None:
    """/usr/local/bin/nvcc wraps /usr/local/cuda-13.0/bin/nvcc: the Toolkit line names both."""
    report = _report(tables, "no_driver", **{
        "toolkit.cuda_home": "/usr/local", "toolkit.cuda_home_source": "nvcc-on-path",
        "toolkit.nvcc_path": "/usr/local/bin/nvcc", "toolkit.nvcc_real_path": "/usr/local/cuda-13.0/bin/nvcc",
        "toolkit.real_toolkit": "/usr/local/cuda-13.0"})
    text = " ".join(render(report, OutputFormat.TERMINAL, width=200).split())
    assert "nvcc 13.0 (/usr/local/bin/nvcc) -> /usr/local/cuda-13.0/bin/nvcc" in text
    assert "real toolkit: /usr/local/cuda-13.0 (torch's CUDA_HOME guess is /usr/local)" in text
    plain = " ".join(render(_report(tables, "no_driver"), OutputFormat.TERMINAL, width=200).split())
    assert "real toolkit" not in plain and " -> " not in plain.split("Toolkit:", 1)[1].split("gcc", 1)[0]
