"""triage.normalise: what copy-paste adds is removed, wrapped lines are rejoined, line numbers stay true."""

from __future__ import annotations

import pytest

from cudadoctor.triage.normalise import MAX_CHARS, clean_line, normalise_text

CLEAN_CASES = [
    ("$ nvidia-smi", "nvidia-smi"),
    ("(venv) user@host:~/proj$ pip install torch==2.1.0", "pip install torch==2.1.0"),
    ("[user@host build]$ nvcc --version", "nvcc --version"),
    ("(base) $ conda list", "conda list"),
    ("# pip list | grep torch", "pip list | grep torch"),
    ("# Name                    Version                   Build  Channel", "# Name                    Version                   Build  Channel"),
    ("# a comment in a script", "# a comment in a script"),
    ("PS C:\\Users\\me> python train.py", "python train.py"),
    ("C:\\Users\\me>python -c \"import torch\"", "python -c \"import torch\""),
    (">>> import torch", "import torch"),
    ("... print(x)", "print(x)"),
    ("In [3]: torch.cuda.is_available()", "torch.cuda.is_available()"),
    ("> PyTorch version: 2.1.0", "PyTorch version: 2.1.0"),
    ("> > quoted twice", "quoted twice"),
    ("```python", ""),
    ("~~~", ""),
    ("I run `torch.cuda.is_available()` and get `False`", "I run torch.cuda.is_available() and get False"),
    ("\x1b[1;31mRuntimeError\x1b[0m: CUDA error", "RuntimeError: CUDA error"),
    ("^[[1;36mcolour in caret form^[[0m", "colour in caret form"),
    ("trailing spaces   ", "trailing spaces"),
]


@pytest.mark.parametrize(("raw", "want"), CLEAN_CASES)
def test_clean_line(raw: str, want: str) -> None:
    assert clean_line(raw) == want


def test_crlf_and_line_map() -> None:
    norm = normalise_text("one\r\ntwo\r\n```\r\nthree")
    assert norm.lines == ["one", "two", "", "three"]
    assert norm.origin == [1, 2, 3, 4]


WRAPPED = (
    "RuntimeError: The NVIDIA driver on your system is too old (found version\n"
    "12040). Please update your GPU driver by downloading and installing a new\n"
    "version from the URL: http://www.nvidia.com/Download/index.aspx\n"
)


def test_wrapped_message_rejoined_and_located() -> None:
    norm = normalise_text(WRAPPED)
    assert "(found version 12040)" in norm.joined[0].text
    at = norm.text.index("12040")
    assert norm.locate(at) == 2  # the piece that holds it is pasted line 2
    assert norm.locate(0) == 1


def test_indented_builder_message_rejoined() -> None:
    text = (
        "      The detected CUDA version (11.8) mismatches the version that was used to compile\n"
        "      PyTorch (12.4). Please make sure to use the same CUDA versions.\n"
    )
    assert "compile PyTorch (12.4)" in normalise_text(text).text


@pytest.mark.parametrize("text", [
    # columns (pip list) are not prose
    "torch                       2.1.0+cu118 some long description here\nnumpy                       1.26.0",
    # a traceback frame and its code line stay apart
    '  File "/usr/lib/python3.10/site-packages/torch/cuda/__init__.py", line 314, in _lazy_init\n    torch._C._cuda_init()',
    # an error line starts anew even after a long line
    "the training crashes right at the start when the model is moved to the GPU and\nRuntimeError: CUDA error",
    # a command starts anew
    "I installed everything following the instructions of the readme file and then\npip install torch==2.1.0",
    # short lines are not wrapped lines
    "torch==2.1.0\nnumpy==1.26.0",
    # nvidia-smi rows
    "|   0  NVIDIA A100-SXM4-80GB          On  | 00000000:07:00.0 Off |  0 |\n|   1  NVIDIA A100-SXM4-80GB          On  |",
])
def test_structure_not_joined(text: str) -> None:
    norm = normalise_text(text)
    assert len(norm.joined) == 2


def test_long_paste_is_cut_and_keeps_true_line_numbers() -> None:
    head = "line\n" * 10
    filler = "x" * 99 + "\n"
    n_filler = (MAX_CHARS // len(filler)) + 10
    text = head + filler * n_filler + "RuntimeError: the end\n"
    norm = normalise_text(text)
    assert norm.cut
    last = max(i for i, line in enumerate(norm.lines) if line.startswith("RuntimeError"))
    assert norm.origin[last] == 10 + n_filler + 1
    assert norm.pasted(norm.origin[last]) == "RuntimeError: the end"


def test_empty_and_odd_input_never_raise() -> None:
    for text in ("", "\n\n", "\x00\x00", "`" * 5000, ">" * 100, "$ " * 3000):
        normalise_text(text)


@pytest.mark.parametrize("text", [
    # an error message ends at its line: the next sentence is another message
    "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    "CUDA kernel errors might be asynchronously reported at some other API call",
    "RuntimeError: CUDA error: an illegal memory access was encountered here now\n"
    "terminate called after throwing an instance of 'c10::Error'",
    # a log line that starts with a timestamp
    "starting the training loop with the configuration given on the command line\n"
    "2024-01-01 12:00:00 INFO epoch 1",
    "some long line of output that does not end in punctuation at all really\n"
    "Segmentation fault (core dumped)",
])
def test_separate_messages_not_joined(text: str) -> None:
    assert len(normalise_text(text).joined) == 2


def test_short_line_before_capital_not_joined() -> None:
    assert len(normalise_text("I installed the driver and cuda toolkit\nThen it failed").joined) == 2
