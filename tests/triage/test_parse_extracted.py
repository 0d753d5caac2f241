"""parse_text folds facts from free text into partial Facts; tool output wins; `triage -v` shows them."""

from __future__ import annotations

from packaging.version import Version

from cudadoctor.commands.triage import TriageOptions, run
from cudadoctor.facts import PYTHON_UNKNOWN, DriverFacts, EnvFacts, ToolkitFacts, TorchFacts, Unavailable
from cudadoctor.tables import load_tables
from cudadoctor.triage.parse import parse_text

TABLES = load_tables()

PROSE = """\
RuntimeError: CUDA error: no kernel image is available for execution on the device

I use the RTX 3090 with pytorch 1.7 installed by
`pip install torch==1.7.0 -f https://download.pytorch.org/whl/torch_stable.html`
and os.environ["CUDA_VISIBLE_DEVICES"] = "1"
"""


def test_prose_becomes_partial_facts_with_provenance() -> None:
    p = parse_text(PROSE, tables=TABLES)
    d, t, e = p.facts.driver, p.facts.torch, p.facts.env
    assert isinstance(d, DriverFacts) and isinstance(t, TorchFacts) and isinstance(e, EnvFacts)
    assert [g.name for g in d.gpus] == ["GeForce RTX 3090"]
    assert d.gpus[0].compute_capability == Version("8.6")
    assert d.gpus_listed is False  # GPUs named in prose are not NVML's list
    assert isinstance(d.driver_version, Unavailable)
    assert t.version == Version("1.7.0")  # the install command beats prose
    assert t.python_version == PYTHON_UNKNOWN
    assert isinstance(t.cuda_version, Unavailable)  # torch_stable.html names no variant
    assert e.variables == {"CUDA_VISIBLE_DEVICES": "1"}
    assert p.provenance["gpus.0.name"].line == 3
    assert p.provenance["torch.version"].line == 4 and not p.provenance["torch.version"].stated
    assert p.provenance["env.CUDA_VISIBLE_DEVICES"].line == 5
    assert "no kernel image is available" in p.normalised


def test_collect_env_wins_over_prose() -> None:
    text = (
        "PyTorch version: 2.1.0+cu121\nCUDA used to build PyTorch: 12.1\nIs CUDA available: True\n"
        "GPU models and configuration: GPU 0: NVIDIA A100-SXM4-80GB\nNvidia driver version: 535.104.05\n\n"
        "I have an RTX 3090 at home where pytorch 1.7 works\n"
    )
    p = parse_text(text, tables=TABLES)
    d, t = p.facts.driver, p.facts.torch
    assert isinstance(d, DriverFacts) and isinstance(t, TorchFacts)
    assert [g.name for g in d.gpus] == ["NVIDIA A100-SXM4-80GB"] and d.gpus_listed
    assert t.version == Version("2.1.0+cu121")
    assert p.provenance["torch.version"].line == 1
    assert p.provenance["driver.version"].line == 5
    assert p.provenance["gpus.0.name"].line == 4


def test_builder_message_gives_nvcc_and_torch_cuda() -> None:
    text = "The detected CUDA version (11.8) mismatches the version that was used to compile\nPyTorch (12.4). Please make sure"
    p = parse_text(text, tables=TABLES)
    k, t = p.facts.toolkit, p.facts.torch
    assert isinstance(k, ToolkitFacts) and k.nvcc_version == Version("11.8")
    assert isinstance(t, TorchFacts) and t.cuda_version == Version("12.4") and t.build == "cuda"


def test_collect_env_without_torch_is_not_filled_from_prose() -> None:
    text = "PyTorch version: N/A\nIs CUDA available: N/A\n\nI installed pytorch 2.1 yesterday\n"
    t = parse_text(text, tables=TABLES).facts.torch
    assert isinstance(t, TorchFacts) and t.status == "not-installed" and isinstance(t.version, Unavailable)


def test_nvidia_smi_gpus_are_not_extended_by_prose() -> None:
    text = (
        "| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2     |\n"
        "|   0  NVIDIA A100-SXM4-80GB          On  | 00000000:07:00.0 Off |                    0 |\n"
        "| N/A   31C    P0    43W / 400W |      0MiB / 81920MiB |      0%      Default |\n"
        "\nat home my RTX 3090 works\n"
    )
    d = parse_text(text, tables=TABLES).facts.driver
    assert isinstance(d, DriverFacts) and [g.name for g in d.gpus] == ["NVIDIA A100-SXM4-80GB"]


def test_verbose_prints_the_facts_table(capsys) -> None:  # type: ignore[no-untyped-def]
    run(TriageOptions(text=PROSE, verbose=True))
    out = capsys.readouterr().out
    assert "Facts read from the text:" in out
    out = out.split("Facts read from the text:", 1)[1]
    row = next(line for line in out.splitlines() if line.strip().startswith("gpus.0.name"))
    assert "GeForce RTX 3090" in row and "line 3" in row and "stated" in row
    row = next(line for line in out.splitlines() if line.strip().startswith("torch.version"))
    assert "line 4" in row and "inferred" in row and "pip install" in row


def test_not_verbose_prints_no_facts_table(capsys) -> None:  # type: ignore[no-untyped-def]
    run(TriageOptions(text=PROSE))
    assert "Facts read from the text:" not in capsys.readouterr().out
