"""triage.extract: facts stated in free text, each with its pasted line; and what must never match."""

from __future__ import annotations

import pytest

from cudadoctor.tables import load_tables
from cudadoctor.triage.extract import extract
from cudadoctor.causes import decode_cuda_int
from cudadoctor.triage.normalise import normalise_text

TABLES = load_tables()


def found(text: str) -> dict[str, str]:
    return {k: f.value for k, f in extract(normalise_text(text), TABLES).items()}


def gpus(text: str) -> list[str]:
    got = found(text)
    return [got[f"gpus.{i}.name"] for i in range(len(got)) if f"gpus.{i}.name" in got]


GPU_CASES = [
    ("I use the RTX 3090 to run the code", ["GeForce RTX 3090"]),
    ("When I use rtx3090 for training", ["GeForce RTX 3090"]),
    ("Keine Unterstützung mehr für GTX780.", ["GeForce GTX 780"]),
    ("I am using a Tesla K40m, installed pytorch 1.3", ["Tesla K40m"]),
    ("我的RTX3090显卡跑不起来", ["GeForce RTX 3090"]),
    ("两张3090训练报错", ["GeForce RTX 3090"]),
    ("it fails on a 3090 GPU", ["GeForce RTX 3090"]),
    ("Nvidia GeForce RTX 3050 laptop GPU", ["GeForce RTX 3050 Laptop GPU"]),
    ("NVIDIA-A100-SXM4-80GB-MIG-3g.40gb", ["NVIDIA A100-SXM4-80GB"]),
    ("an H100 80GB HBM3 node", ["NVIDIA H100 80GB HBM3"]),
    ("on V100 it works", ["Tesla V100"]),
    ("Colab gives me a Tesla T4", ["Tesla T4"]),
    ("my RTX 5090D", ["GeForce RTX 5090 D"]),
    ("an RTX A6000 and a GeForce 210", ["NVIDIA RTX A6000", "GeForce 210"]),
    ("特斯拉p40的显卡", []),  # lower-case p40 in Chinese prose: not a model name we can trust
    ("the Tesla P40 card", ["Tesla P40"]),
    ("Jetson Nano with JetPack 4.6", ["Tegra X1"]),
    # never a GPU
    ("resized 3090 images to 224", []),
    ("the server listens on port 3090", []),
    ("T4 alone is a cell reference", []),
    ("step A10 of the recipe", []),
    ("version 2080.1 of the tool", []),
    ("RTX 4000 Ada is fine", ["NVIDIA RTX 4000 Ada Generation"]),
    ("a node with 8 H100s", ["NVIDIA H100"]),
    ("two RTX 3090s in one box", ["GeForce RTX 3090"]),
    ("a Quadro RTX 4000", ["Quadro RTX 4000"]),
]


@pytest.mark.parametrize(("text", "want"), GPU_CASES)
def test_gpu_mentions(text: str, want: list[str]) -> None:
    assert gpus(text) == want


def test_same_model_named_twice_is_one_gpu() -> None:
    assert gpus("RTX 3090 here; the 3090 GPU fails, a GeForce RTX 3090") == ["GeForce RTX 3090"]


TORCH_CASES = [
    (">>> torch.__version__\n'1.13.1+cu117'", {"torch.version": "1.13.1+cu117", "torch.cuda_version": "11.7", "torch.build": "cuda"}),
    ("print(torch.__version__)\n2.0.1+cpu", {"torch.version": "2.0.1+cpu", "torch.build": "cpu"}),
    ("torch.__version__  =  1.1.0", {"torch.version": "1.1.0"}),
    ("pip install torch===1.3.0 -f https://download.pytorch.org/whl/torch_stable.html", {"torch.version": "1.3.0"}),
    ("pip3 install torch==2.0.1 --index-url https://download.pytorch.org/whl/cu118",
     {"torch.version": "2.0.1", "torch.cuda_version": "11.8", "torch.build": "cuda"}),
    ("pip install torch --index-url https://download.pytorch.org/whl/cpu", {"torch.build": "cpu"}),
    ("Downloading https://download.pytorch.org/whl/cu121/torch-2.1.0%2Bcu121-cp310-cp310-linux_x86_64.whl",
     {"torch.version": "2.1.0+cu121", "torch.cuda_version": "12.1"}),
    ("pytorch-1.9.0-py3.8_cuda11.1_cudnn8.0.5_0.tar.bz2", {"torch.version": "1.9.0", "torch.cuda_version": "11.1"}),
    ("conda install pytorch-cuda=11.8 pytorch==2.0.1 -c pytorch -c nvidia",
     {"torch.version": "2.0.1", "torch.cuda_version": "11.8"}),
    ("I use pytorch 1.7 on ubuntu", {"torch.version": "1.7"}),
    ("PyTorch version: 2.2.0 (from the docs)", {"torch.version": "2.2.0"}),
    (">>> torch.version.cuda\n'11.3'", {"torch.cuda_version": "11.3", "torch.build": "cuda"}),
]


@pytest.mark.parametrize(("text", "want"), TORCH_CASES)
def test_torch_facts(text: str, want: dict[str, str]) -> None:
    got = found(text)
    for k, v in want.items():
        assert got.get(k) == v, (k, got)


def test_conda_cudatoolkit_is_a_request_not_torch_cuda() -> None:
    # NOTE: conda may still solve to a CPU build of pytorch (issue 11): no torch.cuda_version from it.
    got = found("conda install pytorch=1.9.0 torchvision cudatoolkit=11.3 -c pytorch")
    assert got["install.cudatoolkit"] == "11.3"
    assert got["torch.version"] == "1.9.0"
    assert "torch.cuda_version" not in got and "torch.build" not in got


@pytest.mark.parametrize("text", ["libtorch 1.7 binaries", "torchvision 0.8.1", "/opt/pytorch 1.7", "torch 2 GB of memory"])
def test_not_a_torch_version(text: str) -> None:
    assert "torch.version" not in found(text)


def test_output_beats_command_and_prose() -> None:
    text = "pytorch 1.7\npip install torch==1.8.0\n>>> torch.__version__\n'1.9.0+cu111'"
    assert found(text)["torch.version"] == "1.9.0+cu111"


def test_last_install_command_wins() -> None:
    assert found("pip install torch==2.0.0\nthen I tried\npip install torch==1.13.1")["torch.version"] == "1.13.1"


@pytest.mark.parametrize(("code", "cuda"), [(12040, "12.4"), (6050, "6.5"), (9010, "9.1"), (11040, "11.4"), (10020, "10.2")])
def test_decode_cuda_version(code: int, cuda: str) -> None:
    assert decode_cuda_int(str(code)) == cuda


DRIVER_CASES = [
    ("The NVIDIA driver on your system is too old (found version 12040).", {"driver.cuda_version": "12.4"}),
    ("| NVIDIA-SMI 470.86       Driver Version: 470.86       CUDA Version: 11.4",
     {"driver.version": "470.86", "driver.cuda_version": "11.4"}),
    ("Driver Version: 535.104.05   CUDA Version: 12.2", {"driver.version": "535.104.05", "driver.cuda_version": "12.2"}),
    ("my nvidia driver version is 525.60.13", {"driver.version": "525.60.13"}),
]


@pytest.mark.parametrize(("text", "want"), DRIVER_CASES)
def test_driver_facts(text: str, want: dict[str, str]) -> None:
    got = found(text)
    for k, v in want.items():
        assert got.get(k) == v, (k, got)


def test_cuda_version_in_prose_is_not_the_driver() -> None:
    # "CUDA Version: 11.3" without nvidia-smi's Driver Version beside it may be the toolkit.
    assert "driver.cuda_version" not in found("CUDA Version: 11.3 installed from the runfile")


TOOLKIT_CASES = [
    ("Cuda compilation tools, release 11.7, V11.7.64", {"toolkit.nvcc_version": "11.7"}),
    ("The detected CUDA version (11.8) mismatches the version that was used to compile\nPyTorch (12.4). Please make sure",
     {"toolkit.nvcc_version": "11.8", "torch.cuda_version": "12.4"}),
    ("The detected CUDA version (12.1) has a minor version mismatch with the version that was used to compile PyTorch (12.4).",
     {"toolkit.nvcc_version": "12.1", "torch.cuda_version": "12.4"}),
    ("DeepSpeed Op Builder: Installed CUDA version 11.7 does not match the version torch was compiled with 12.1, unable",
     {"toolkit.nvcc_version": "11.7", "torch.cuda_version": "12.1"}),
    ("Cuda extensions are being compiled with a version of Cuda that does not match the version used to compile "
     "Pytorch binaries.  Pytorch binaries were compiled with Cuda 10.2.", {"torch.cuda_version": "10.2"}),
    ("cudatoolkit               11.3.1               h2bc3f7f_2", {"conda.cudatoolkit": "11.3.1"}),
]


@pytest.mark.parametrize(("text", "want"), TOOLKIT_CASES)
def test_toolkit_facts(text: str, want: dict[str, str]) -> None:
    got = found(text)
    for k, v in want.items():
        assert got.get(k) == v, (k, got)


ENV_CASES = [
    ("os.environ['CUDA_VISIBLE_DEVICES'] = '7'", {"CUDA_VISIBLE_DEVICES": "7"}),
    ('os.environ.setdefault("NCCL_P2P_DISABLE", "1")', {"NCCL_P2P_DISABLE": "1"}),
    ("export CUDA_VISIBLE_DEVICES=0,1", {"CUDA_VISIBLE_DEVICES": "0,1"}),
    ("CUDA_VISIBLE_DEVICES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 python train.py",
     {"CUDA_VISIBLE_DEVICES": "2", "NODE_RANK": "0", "MASTER_ADDR": "10.0.0.1"}),
    ("set CUDA_VISIBLE_DEVICES=1", {"CUDA_VISIBLE_DEVICES": "1"}),
    ('$env:CUDA_VISIBLE_DEVICES = "0"', {"CUDA_VISIBLE_DEVICES": "0"}),
    ("ENV NVIDIA_VISIBLE_DEVICES=all", {"NVIDIA_VISIBLE_DEVICES": "all"}),
    ("docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility image", {"NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}),
    ("export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH", {"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"}),
    ("$ echo $LD_LIBRARY_PATH\n/opt/cudnn7/lib64:/usr/local/cuda/lib64", {"LD_LIBRARY_PATH": "/opt/cudnn7/lib64:/usr/local/cuda/lib64"}),
    ("export CUDA_VISIBLE_DEVICES=0\nexport CUDA_VISIBLE_DEVICES=3", {"CUDA_VISIBLE_DEVICES": "3"}),
]


@pytest.mark.parametrize(("text", "want"), ENV_CASES)
def test_env_facts(text: str, want: dict[str, str]) -> None:
    got = found(text)
    for k, v in want.items():
        assert got.get(f"env.{k}") == v, (k, got)


@pytest.mark.parametrize("text", [
    "export HF_TOKEN=hf_abcdef", "os.environ['WANDB_API_KEY'] = 'x'", "export MY_SECRET_THING=1", "export HOME=/root",
])
def test_secrets_and_unlisted_names_never_kept(text: str) -> None:
    assert not [k for k in found(text) if k.startswith("env.")]


def test_provenance_names_the_pasted_line() -> None:
    text = "```\n$ nvidia-smi\n```\nmy card: RTX 3090\n\n> os.environ['CUDA_VISIBLE_DEVICES'] = '7'\n"
    kept = extract(normalise_text(text), TABLES)
    assert kept["gpus.0.name"].line == 4
    assert kept["env.CUDA_VISIBLE_DEVICES"].line == 6
    assert kept["env.CUDA_VISIBLE_DEVICES"].stated


def test_inferred_values_say_how() -> None:
    kept = extract(normalise_text("too old (found version 11040)"), TABLES)
    f = kept["driver.cuda_version"]
    assert not f.stated and "11040" in f.how


def test_pin_pip_could_not_install_is_not_torch_version() -> None:
    text = ("pip install torch==1.13.1\n"
            "ERROR: Could not find a version that satisfies the requirement torch==1.13.1 (from versions: 2.2.0, 2.2.1)\n"
            "ERROR: No matching distribution found for torch==1.13.1\n")
    assert "torch.version" not in found(text)


def test_conda_spec_with_build_string() -> None:
    got = found("the solver installed pytorch=1.9.0=py3.8_cpu_0 instead")
    assert got["torch.version"] == "1.9.0" and got["torch.build"] == "cpu"


@pytest.mark.parametrize(("text", "want"), [
    ("$ python3\nPython 3.7.5 (default, Oct 25 2019, 15:51:11)\n[GCC 7.3.0] :: Anaconda, Inc. on linux", "3.7.5"),
    ("conda create -n py14 python=3.7", "3.7"),
    ("torch-2.1.0+cu121-cp310-cp310-linux_x86_64.whl", "3.10"),
    ("My Python version is 3.10.11 and CUDA 12.0", "3.10.11"),
])
def test_python_version(text: str, want: str) -> None:
    assert found(text)["torch.python_version"] == want


@pytest.mark.parametrize("text", ["python3.8/site-packages/torch", "IronPython 3.4", "python 2.7", "pythonw 3.8x"])
def test_not_a_python_version(text: str) -> None:
    assert "torch.python_version" not in found(text)


@pytest.mark.parametrize(("text", "name", "want"), [
    ("torch 1.4.0+cu92\ntorchvision 0.5.0", "torchvision", "0.5.0"),
    ("pip install torch==2.1.0 torchvision==0.16.0", "torchvision", "0.16.0"),
    (">>> torchvision.__version__\n'0.15.2+cu118'", "torchvision", "0.15.2+cu118"),
    ("torchaudio: 2.1.0", "torchaudio", "2.1.0"),
])
def test_companion_versions(text: str, name: str, want: str) -> None:
    assert found(text)[f"dist.{name}"] == want


def test_companion_from_text_becomes_a_distribution() -> None:
    from cudadoctor.facts import TorchFacts
    from cudadoctor.triage.parse import parse_text

    t = parse_text("torch 1.4.0+cu92\ntorchvision 0.5.0\n", tables=TABLES).facts.torch
    assert isinstance(t, TorchFacts)
    assert [(d.name, d.version) for d in t.distributions] == [("torchvision", "0.5.0")]


def test_large_paste_reads_repeated_lines_once_and_keeps_facts() -> None:
    from cudadoctor.triage.extract import DEDUP_OVER

    block = "epoch 1 loss 0.5 on the RTX 3090\n$ echo $CUDA_VISIBLE_DEVICES\n7\nsome repeated progress line here\n"
    text = block * (DEDUP_OVER // len(block) + 10) + "export CUDA_VISIBLE_DEVICES=3\n"
    kept = extract(normalise_text(text), TABLES)
    assert kept["gpus.0.name"].value == "GeForce RTX 3090" and kept["gpus.0.name"].line == 1
    assert kept["env.CUDA_VISIBLE_DEVICES"].value == "7"  # the echoed output (tool output ranks above a command)


def test_built_with_cuda_and_bare_labelled_version() -> None:
    assert found("PyTorch built with CUDA:         False")["torch.build"] == "cpu"
    got = found('in the "System Info" section it says "2.0.0+cpu Autocast half"')
    assert got["torch.version"] == "2.0.0+cpu" and got["torch.build"] == "cpu"
    assert "torch.version" not in found("torchvision 0.15.2+cu118")


def test_index_that_does_not_exist_says_nothing() -> None:
    # NOTE: there is no cu114 index: pip falls back to PyPI's build (CPU-only on Windows).
    got = found("pip3 install torch torchvision --extra-index-url https://download.pytorch.org/whl/cu114")
    assert "torch.cuda_version" not in got and "torch.build" not in got


@pytest.mark.parametrize(("text", "want"), [
    ("NCCL version 2.4.8+cuda10.2", "2.4.8"),
    ("node01:1297:1297 [0] NCCL INFO NCCL version 2.14.3+cuda11.8", "2.14.3"),
    (">>> torch.cuda.nccl.version()\n2708", "2.7.8"),
    (">>> torch.cuda.nccl.version()\n(2, 18, 1)", "2.18.1"),
    ("print(torch.cuda.nccl.version()) 21403", "2.14.3"),
])
def test_nccl_version(text: str, want: str) -> None:
    assert found(text)["torch.nccl_version"] == want


def test_nccl_in_prose_is_not_taken() -> None:
    # two versions in one sentence: which one failed is the reader's call, not a regex's
    assert "torch.nccl_version" not in found("uses NCCL 2.18.5+cuda11.8 as opposed to 2.14.3 in the container")


def test_gtx_3090_means_the_rtx_card() -> None:
    assert gpus("two RTX 3090s ... both GeForce GTX 3090") == ["GeForce RTX 3090"]
