"""Symptoms whose cause the rest of the text names (MIG, CUDA_VISIBLE_DEVICES), and pip's "no torch wheel".

Written from how each failure works, not from any report's wording: a symptom alone names
nothing; the fact beside it that causes it does.
"""

from __future__ import annotations

from packaging.version import Version

from cudadoctor.triage import engine
from cudadoctor.triage.signatures import names_in, scan, text_context

_MIG_SMI = """\
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA A100 80GB PCIe          Off |   00000000:31:00.0 Off |                   On |
| N/A   34C    P0             43W /  300W |      53MiB /  81920MiB |     N/A      Default |
|                                         |                        |              {mig} |
+-----------------------------------------+------------------------+----------------------+
"""
_ASSERT = 'RuntimeError: device >= 0 && device < num_gpus INTERNAL ASSERT FAILED at "CUDAContext.cpp":49\n'


def _lead(text: str, tables) -> str:
    hyps = engine.triage(text, tables).triage.hypotheses
    return hyps[0]["name"] if hyps else ""


def test_nvidia_smi_mig_column_enabled_is_mig_mode() -> None:
    assert text_context(_MIG_SMI.format(mig=" Enabled")).mig_enabled
    assert not text_context(_MIG_SMI.format(mig="Disabled")).mig_enabled
    assert text_context("2 GPU NVIDIA-A100-SXM4-80GB-MIG-3g.40gb").mig_enabled


def test_device_count_assert_is_mig_only_when_mig_is_on(tables) -> None:
    assert _lead(_ASSERT + _MIG_SMI.format(mig=" Enabled"), tables) == "mig-instance-not-selected"
    # NOTE: without MIG the assert names no cause (forked CUDA state, a device count changed after init).
    assert names_in(scan(_ASSERT + _MIG_SMI.format(mig="Disabled"))) == []


def test_one_device_on_a_mig_gpu(tables) -> None:
    assert _lead("On our MIG A100, torch.cuda.device_count() shows only one GPU.", tables) == "mig-instance-not-selected"
    assert names_in(scan("torch.cuda.device_count() shows only one GPU on my laptop.")) == []


def test_visible_devices_set_from_python_explains_no_gpus(tables) -> None:
    text = "os.environ[\"CUDA_VISIBLE_DEVICES\"] = '3'\nRuntimeError: No CUDA GPUs are available\n"
    assert text_context(text).visible_devices == "3"
    assert _lead(text, tables) == "cuda-visible-devices-invalid"
    assert text_context("os.environ.setdefault('CUDA_VISIBLE_DEVICES', '2')").visible_devices == "2"


def test_is_available_false_needs_a_cause_in_the_text(tables) -> None:
    assert names_in(scan(">>> torch.cuda.is_available()\nFalse\n")) == []
    text = "export CUDA_VISIBLE_DEVICES=1\ntorch.cuda.is_available() returns False\n"
    assert _lead(text, tables) == "cuda-visible-devices-invalid"


def test_an_error_a_sentence_says_something_caused_is_the_error() -> None:
    text = 'run.sh sets CUDA_VISIBLE_DEVICES=7, causing "No CUDA GPUs are available" on small machines'
    assert "no-gpu-visible" in names_in(scan(text)) or "cuda-visible-devices-invalid" in names_in(scan(text))


def test_pip_finds_no_wheel_of_a_pinned_release(tables) -> None:
    text = ("ERROR: Could not find a version that satisfies the requirement torch==1.13.1 (from versions: 2.2.0, 2.3.0)\n"
            "ERROR: No matching distribution found for torch==1.13.1\n")
    report = engine.triage(text, tables)
    assert report.triage.hypotheses[0]["name"] == "python-unsupported-by-torch"
    f = next(f for f in report.findings if f.name == "python-unsupported-by-torch")
    rel = tables.torch.release(Version("1.13.1"))  # the range comes from rules/torch.toml
    assert f"{rel.python_min}–{rel.python_max}" in f.fix


def test_pip_no_wheel_is_not_the_python_when_the_python_fits(tables) -> None:
    text = ("Python 3.10.9\n"
            "ERROR: Could not find a version that satisfies the requirement torch==1.13.1 (from versions: none)\n")
    assert _lead(text, tables) == ""


def test_pip_no_wheel_is_not_the_python_when_an_index_lacks_it(tables) -> None:
    text = ("Looking in indexes: https://download.pytorch.org/whl/cu131\n"
            "ERROR: Could not find a version that satisfies the requirement torch==2.10.0 (from versions: none)\n")
    assert _lead(text, tables) == ""


def test_pip_no_wheel_of_a_companion_is_not_torch() -> None:
    text = "ERROR: Could not find a version that satisfies the requirement torchvision==0.99 (from versions: none)\n"
    assert names_in(scan(text)) == []


def test_launcher_variables_stated_in_the_environment(tables) -> None:
    from cudadoctor.triage.extract import env
    from cudadoctor.triage.normalise import normalise_text

    found = {f.path: f.value for f in env.extract(normalise_text("Some stats:\n* NODE_RANK=0\n* WORLD_SIZE=8\n"))}
    assert found == {"env.NODE_RANK": "0", "env.WORLD_SIZE": "8"}
    # NOTE: a bullet that holds more than the assignment is prose, not the environment
    assert env.extract(normalise_text("* I tried NODE_RANK=0 and it hung\n")) == []
    assert _lead("init_process_group hangs if RANK or WORLD_SIZE is set in the environment\n", tables) == (
        "distributed-env-stray")
    assert names_in(scan("the RANK is set by the launcher\n")) == []


def test_is_available_false_beside_device_zero_is_not_the_variable() -> None:
    assert names_in(scan("export CUDA_VISIBLE_DEVICES=0\ntorch.cuda.is_available() returns False\n")) == []


def test_one_device_with_mig_off_is_not_mig() -> None:
    assert names_in(scan("MIG mode is disabled and device_count() shows only one GPU\n")) == []
