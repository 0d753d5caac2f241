"""Fix texts split into prose, commands and comments, and commands broken only where a shell allows."""

from __future__ import annotations

import shlex

from cudadoctor.render.fixtext import Piece, command_lines, split_fix


def test_plain_command_with_its_remark() -> None:
    fix = "unset LD_LIBRARY_PATH   (drops /usr/lib/x86_64-linux-gnu; also remove it where LD_LIBRARY_PATH is set)"
    assert split_fix(fix) == [
        Piece("command", "unset LD_LIBRARY_PATH"),
        Piece("comment", "drops /usr/lib/x86_64-linux-gnu; also remove it where LD_LIBRARY_PATH is set"),
    ]


def test_alternatives_each_get_their_command() -> None:
    fix = ("/opt/venv/bin/python -m pip install torch==2.11.0 --index-url https://download.pytorch.org/whl/cu128; "
           "or: /opt/venv/bin/python -m pip install -U 'nvidia-nccl-cu12>=2.27.3'   (NCCL 2.x keeps its ABI)")
    assert split_fix(fix) == [
        Piece("command", "/opt/venv/bin/python -m pip install torch==2.11.0 --index-url https://download.pytorch.org/whl/cu128"),
        Piece("prose", "or:"),
        Piece("command", "/opt/venv/bin/python -m pip install -U 'nvidia-nccl-cu12>=2.27.3'"),
        Piece("comment", "NCCL 2.x keeps its ABI"),
    ]


def test_prose_clauses_keep_their_semicolon() -> None:
    fix = "nothing to do on this machine (no NVIDIA GPU); to use it on a GPU machine: pip install torch"
    assert split_fix(fix) == [
        Piece("prose", "nothing to do on this machine (no NVIDIA GPU); to use it on a GPU machine:"),
        Piece("command", "pip install torch"),
    ]


def test_backtick_commands_stand_alone_fragments_stay_inline() -> None:
    fix = "Recreate the container with `--shm-size=16g` (e.g. `docker run --gpus all --shm-size=16g ...`), or `--ipc=host`."
    assert split_fix(fix) == [
        Piece("prose", "Recreate the container with `--shm-size=16g` (e.g."),
        Piece("command", "docker run --gpus all --shm-size=16g ..."),
        Piece("prose", "), or `--ipc=host`."),
    ]


def test_prose_without_commands_is_one_piece() -> None:
    fix = "use an OS with a newer glibc (torch >= 2.7 wheels are manylinux_2_28), or an older torch"
    assert split_fix(fix) == [Piece("prose", fix)]
    assert split_fix("Informational: torch loads /x/libcudart.so.12.") == [
        Piece("prose", "Informational: torch loads /x/libcudart.so.12.")]


def test_quoted_semicolons_and_parentheses_are_not_split() -> None:
    fix = "python -c 'import torch; print(torch.cuda.is_available())'   (prints True on a working host)"
    assert split_fix(fix) == [
        Piece("command", "python -c 'import torch; print(torch.cuda.is_available())'"),
        Piece("comment", "prints True on a working host"),
    ]


def test_command_lines_rejoin_to_the_same_words() -> None:
    cmd = ("/usr/local/bin/python3 -m pip install torch==2.15.0 'torchvision==0.29.*' 'torch audio==2.15.*' "
           "--index-url https://download.pytorch.org/whl/cu132")
    lines = command_lines(cmd, 40)
    assert len(lines) > 1
    assert all(line.endswith(" \\") for line in lines[:-1]) and not lines[-1].endswith("\\")
    assert all(len(line) <= 40 for line in lines if " " in line.rstrip(" \\"))
    # a shell reading the lines (backslash-newline = continuation) sees the same words
    assert shlex.split("\n".join(lines).replace("\\\n", " ")) == shlex.split(cmd)
    assert "'torch audio==2.15.*'" in "\n".join(lines)  # never broken inside quotes


def test_short_command_is_one_line() -> None:
    assert command_lines("sudo ldconfig", 80) == ["sudo ldconfig"]
