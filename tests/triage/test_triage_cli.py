"""`cudadoctor triage` end to end: inputs (file, stdin, --text), bad input, huge input, formats, --probe."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cudadoctor.cli import main
from cudadoctor.render import OutputFormat

CORPUS = Path(__file__).parents[1] / "fixtures" / "triage"
DRIVER_OLD = CORPUS / "driver_too_old_found_version.txt"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("cudadoctor: error: ") and "Traceback" not in err
    return lines[0]


def test_file_json_has_text_findings_and_triage_extras(capsys) -> None:
    code, out, _ = run_cli(["triage", str(DRIVER_OLD), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "not-ready"
    text = [f for f in data["findings"] if f["source"] == "text"]
    assert [f["name"] for f in text] == ["driver-too-old-for-torch"]
    assert text[0]["code"] == "DRV005" and "11.4" in text[0]["message"] and text[0]["fix"]
    assert text[0]["evidence"]["text.found_version"] == "11040"
    tri = data["triage"]
    assert tri["hypotheses"][0]["name"] == "driver-too-old-for-torch"
    assert tri["hypotheses"][0]["status"] == "not-probed" and tri["probed"] is False
    assert tri["hypotheses"][0]["lines"][0]["line"] == 2
    assert data["facts_source"] == "triage"


def test_terminal_format_default(capsys) -> None:
    code, out, _ = run_cli(["triage", str(CORPUS / "nvml_mismatch.txt")], capsys)
    assert code == 1
    assert "DRV002 driver-library-mismatch" in out and "rmmod" in out


def test_stdin(capsys, monkeypatch) -> None:
    data = (CORPUS / "torch_not_compiled_cuda.txt").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run_cli(["triage", "-", "--format", "json"], capsys)
    assert code == 1
    assert "torch-cpu-only-build" in {f["name"] for f in json.loads(out)["findings"]}


def test_text_option(capsys) -> None:
    code, out, _ = run_cli(["triage", "--text", "RuntimeError: No CUDA GPUs are available", "-f", "json"], capsys)
    assert code == 1
    assert [f["name"] for f in json.loads(out)["findings"] if f["source"] == "text"] == ["no-gpu-visible"]


def test_healthy_text_exits_0(capsys) -> None:
    code, out, _ = run_cli(["triage", str(CORPUS / "ok_healthy_training_log.txt"), "-f", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["triage"]["hypotheses"] == []
    assert not [f for f in data["findings"] if f["source"] == "text"]


def test_fail_on_warning(capsys) -> None:
    path = str(CORPUS / "cuda_oom_old.txt")  # cuda-out-of-memory is a warning
    assert run_cli(["triage", path], capsys)[0] == 0
    assert run_cli(["triage", path, "--fail-on", "warning"], capsys)[0] == 1


def test_select_ignore(capsys) -> None:
    path = str(CORPUS / "nccl_shm.txt")
    code, out, _ = run_cli(["triage", path, "-f", "json", "--select", "shm-too-small"], capsys)
    assert {f["name"] for f in json.loads(out)["findings"]} == {"shm-too-small"}
    code, out, _ = run_cli(["triage", path, "-f", "json", "--ignore", "nccl-error,CTR"], capsys)
    assert not {f["name"] for f in json.loads(out)["findings"]} & {"shm-too-small", "nccl-error"}
    code, _, err = run_cli(["triage", path, "--select", "no-such-thing"], capsys)
    assert code == 2 and "no-such-thing" in one_line_error(err)


def test_output_file(capsys, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, _ = run_cli(["triage", str(DRIVER_OLD), "-f", "json", "-o", str(target)], capsys)
    assert code == 1 and out == ""
    assert json.loads(target.read_text())["triage"]["hypotheses"]


@pytest.mark.skipif(not hasattr(OutputFormat, "MARKDOWN"), reason="markdown renderer not present")
def test_markdown_format_passes_through(capsys) -> None:
    code, out, _ = run_cli(["triage", str(DRIVER_OLD), "--format", "markdown"], capsys)
    assert code == 1 and "driver-too-old-for-torch" in out


# --------------------------------------------------------------------------------------------
# unusable input: one line on stderr, exit 2, never a traceback


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"])
def test_empty_input(capsys, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    code, out, err = run_cli(["triage", str(path)], capsys)
    assert code == 2 and out == ""
    assert "empty" in one_line_error(err)


def test_empty_text_option(capsys) -> None:
    code, _, err = run_cli(["triage", "--text", ""], capsys)
    assert code == 2 and "empty" in one_line_error(err)


def test_binary_with_nul_bytes(capsys, tmp_path: Path) -> None:
    path = tmp_path / "core"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64)
    code, _, err = run_cli(["triage", str(path)], capsys)
    assert code == 2 and "binary" in one_line_error(err)


def test_undecodable_bytes(capsys, tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(b | 0x80 for b in os.urandom(4096)))
    code, _, err = run_cli(["triage", str(path)], capsys)
    assert code == 2 and "UTF-8" in one_line_error(err)


def test_utf16_with_bom_is_text(capsys, tmp_path: Path) -> None:
    # NOTE: what PowerShell's `>` writes
    path = tmp_path / "ps.txt"
    path.write_bytes("RuntimeError: No CUDA GPUs are available\r\n".encode("utf-16"))
    code, out, _ = run_cli(["triage", str(path), "-f", "json"], capsys)
    assert code == 1 and "no-gpu-visible" in out


def test_ansi_colours_and_carriage_returns_are_handled(capsys) -> None:
    text = "\x1b[31mRuntimeError: No CUDA GPUs are available\x1b[0m\r 10%|#  \r 20%|##"
    code, out, _ = run_cli(["triage", "--text", text, "-f", "json"], capsys)
    f = [f for f in json.loads(out)["findings"] if f["source"] == "text"][0]
    assert f["evidence"]["text.lines"] == "line 1: RuntimeError: No CUDA GPUs are available"


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_file(capsys, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.txt" if kind == "missing" else tmp_path
    code, _, err = run_cli(["triage", str(path)], capsys)
    assert code == 2
    assert f"cannot read {path}" in one_line_error(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(capsys, tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("x")
    path.chmod(0)
    code, _, err = run_cli(["triage", str(path)], capsys)
    assert code == 2 and "Permission denied" in one_line_error(err)


@pytest.mark.parametrize("args", [[], ["x.txt", "--text", "y"]])
def test_no_input_or_two_inputs(capsys, args: list[str]) -> None:
    code, _, err = run_cli(["triage", *args], capsys)
    assert code == 2
    one_line_error(err)


# --------------------------------------------------------------------------------------------
# huge input: bounded time and memory (first and last 4 MiB)


def _write_huge(path: Path, size: int) -> None:
    head = (CORPUS / "nvml_mismatch.txt").read_bytes()
    tail = (CORPUS / "driver_too_old_assert.txt").read_bytes()
    middle = (CORPUS / "dataloader_bus_error.txt").read_bytes()  # in the skipped middle: not seen
    filler = b"Epoch 1/3: 100%|##########| 1563/1563 [04:12<00:00,  6.19it/s, loss=0.512]\n" * 4096
    with path.open("wb") as f:
        f.write(head)
        written = len(head)
        while written < size - len(tail):
            if written > size // 2 and middle:
                f.write(middle)
                written += len(middle)
                middle = b""
            f.write(filler)
            written += len(filler)
        f.write(tail)


@pytest.mark.timeout(300)
def test_huge_file_100mb_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    _write_huge(path, 100 * 2**20)
    assert path.stat().st_size >= 100 * 2**20
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "cudadoctor", "triage", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=240,
    )
    elapsed = time.monotonic() - start
    print(f"triage of a {path.stat().st_size / 2**20:.0f} MiB file took {elapsed:.2f} s")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    names = {f["name"] for f in data["findings"] if f["source"] == "text"}
    assert {"driver-library-mismatch", "driver-too-old-for-torch"} <= names  # first and last MiBs
    assert "shm-too-small" not in names  # the middle was skipped, and says so
    assert "triaged the first and last 4.0 MiB" in proc.stderr
    assert any("first and last" in n for n in data["triage"]["notes"])
    assert elapsed < 120, f"took {elapsed:.1f}s"


@pytest.mark.timeout(300)
def test_huge_stdin_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    _write_huge(path, 100 * 2**20)
    start = time.monotonic()
    with path.open("rb") as f:
        proc = subprocess.run(
            [sys.executable, "-m", "cudadoctor", "triage", "-", "--format", "json"],
            stdin=f, capture_output=True, text=True, timeout=240,
        )
    elapsed = time.monotonic() - start
    print(f"triage of a 100 MiB stdin took {elapsed:.2f} s")
    assert proc.returncode == 1, proc.stderr
    names = {f["name"] for f in json.loads(proc.stdout)["findings"] if f["source"] == "text"}
    assert {"driver-library-mismatch", "driver-too-old-for-torch"} <= names
    assert elapsed < 120


def test_read_stream_keeps_memory_bounded() -> None:
    from cudadoctor.commands.triage import _read_stream

    data, total = _read_stream(io.BytesIO(b"a" * 5000 + b"b" * 5000), 1000)
    assert total == 10000 and data == b"a" * 500 + b"\n" + b"b" * 500
    data, total = _read_stream(io.BytesIO(b"short"), 1000)
    assert (data, total) == (b"short", 5)


# --------------------------------------------------------------------------------------------
# --probe on this machine (CI: no GPU, no driver, CPU torch)


@pytest.mark.timeout(180)
def test_probe_on_this_machine(capsys) -> None:
    text = (
        "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU\n"
        "UserWarning: The NVIDIA driver on your system is too old (found version 11040).\n"
    )
    code, out, _ = run_cli(["triage", "--text", text, "--probe", "-f", "json", "--timeout", "90"], capsys)
    data = json.loads(out)
    assert data["facts_source"] == "probe" and data["triage"]["probed"] is True
    status = {h["name"]: h for h in data["triage"]["hypotheses"]}
    probe_names = {f["name"] for f in data["findings"] if f["source"] == "probe"}
    if "no-nvidia-driver" in probe_names:
        # this machine has no driver: the text's no-driver is confirmed, the driver-version one cannot be judged
        assert status["no-nvidia-driver"]["status"] == "confirmed"
        assert status["driver-too-old-for-torch"]["status"] == "unverified"
        assert "no NVIDIA driver" in status["driver-too-old-for-torch"]["status_reason"]
        assert code == 1
    else:  # a machine with a working driver: the text's problems may be refuted (exit 0)
        assert status["no-nvidia-driver"]["status"] == "refuted"
        assert status["driver-too-old-for-torch"]["status"] in ("refuted", "unverified", "confirmed")
        assert code in (0, 1)
    text_f = {f["name"]: f for f in data["findings"] if f["source"] == "text"}
    assert "found version 11040" in text_f["driver-too-old-for-torch"]["message"]


def test_help(capsys) -> None:
    code, out, _ = run_cli(["triage", "--help"], capsys)
    assert code == 0 and "--probe" in out and "--text" in out


def test_bad_python_and_timeout_are_usage_errors(capsys, tmp_path: Path) -> None:
    code, _, err = run_cli(["triage", str(DRIVER_OLD), "--probe", "--python", str(tmp_path / "nope")], capsys)
    assert code == 2 and "--python" in one_line_error(err)
    code, _, err = run_cli(["triage", str(DRIVER_OLD), "--probe", "--timeout", "0"], capsys)
    assert code == 2 and "--timeout" in one_line_error(err)
