"""torch's version and CUDA variant from what a paste shows: __version__ output, wheel and conda
package file names, pip/conda install commands, index URLs and prose ("pytorch 1.7")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cudadoctor.triage.extract.record import (
    RANK_COMMAND,
    RANK_FILE,
    RANK_OUTPUT,
    RANK_PROSE,
    Found,
    cuda_of_tag,
    version_text,
)

if TYPE_CHECKING:
    from cudadoctor.triage.normalise import Normalised

_V = (r"\d{1,2}\.\d{1,2}(?:\.\d{1,3})?(?:(?:a|b|rc|\.dev|\.post)\d{0,12})?"
      r"(?:(?:\+|%2B)(?:cu\d{2,3}|cpu|rocm\d[\d.]{0,8}|xpu|git[0-9a-f]{4,12}))?(?![A-Za-z])")
# torch.__version__ printed: on the same line (apex's "torch.__version__  =  1.1.0", an f-string),
# or on the next line after a >>> / print() that asked for it.
_DUNDER_SAME = re.compile(r"torch\.__version__['\")]{0,2}[ \t]{0,4}(?:=|:|->|is)?[ \t]{0,4}['\"]?(" + _V + r")['\"]?(?![\w.])")
_DUNDER_NEXT = re.compile(r"torch\.__version__\)?\s{0,4}\n\s{0,4}['\"]?(" + _V + r")['\"]?\s{0,4}(?:\n|$)")
_CUDA_DUNDER = re.compile(r"torch\.version\.cuda\)?\s{0,4}(?:=|:|->|is)?\s{0,4}(?:\n\s{0,4})?['\"]?(\d{1,2}\.\d{1,2})['\"]?(?![\w.])")
# torch-2.0.1+cu118-cp310-cp310-linux_x86_64.whl (also URL-encoded %2B), pytorch-1.9.0-py3.8_cuda11.1_cudnn8.0.5_0.tar.bz2
_WHEEL = re.compile(r"torch-(?<![\w-]torch-)(" + _V + r")-cp\d{2,3}-")
_CONDA_FILE = re.compile(
    r"pytorch(?<![\w-]pytorch)[-=](\d{1,2}\.\d{1,2}\.\d{1,3})[-=](py\d\.\d{1,2}_(?:cuda\d{1,2}\.\d_\S{0,60}?|cpu\S{0,40}?))"
    r"(?:\.tar\.bz2|\.conda|(?=[\s'\"`,;)]|$))"
)
# pip's own words when a pinned version could not be installed: that version is not what is installed.
_PIP_FAILED = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the requirement)\s{1,3}torch\s{0,2}===?\s{0,2}(" + _V + r")"
)
# pip install ... torch==1.3.0 / torch===1.3.0+cu92 ; conda install pytorch=1.9.0 / pytorch==1.9.0
_PIP = re.compile(r"(?:pip3?|python[\d.]{0,4}\s-m\spip|uv\spip)(?<![\w.]pip)(?<![\w.]pip3)\s(?:[^\n]{0,400}?\s)?install\s([^\n]{1,600})")
_CONDA = re.compile(r"(?:conda|mamba)\s(?:install|create)\s([^\n]{1,600})")
_PIP_TORCH = re.compile(r"(?<![\w-])torch\s{0,2}===?\s{0,2}(" + _V + r")(?![\w.])")
_CONDA_TORCH = re.compile(r"(?<![\w-])pytorch\s{0,2}==?\s{0,2}(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)(?![\w.])")
_CONDA_CUDA = re.compile(r"(?<![\w-])pytorch-cuda\s{0,2}==?\s{0,2}(\d{1,2}\.\d)(?![\w.])")
_TOOLKIT = re.compile(r"(?<![\w-])cudatoolkit\s{0,2}==?\s{0,2}(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)(?![\w.])")
# NOTE: errors only a CUDA build of torch raises (a CPU build says "Torch not compiled with CUDA
# enabled" instead): c10's CUDA error check, the caching allocator, and the driver checks in
# torch/cuda/__init__.py.
_CUDA_BUILD_ONLY = re.compile(
    r"The NVIDIA driver on your system is too old|Found no NVIDIA driver on your system|RuntimeError: CUDA error: "
    r"|CUDA out of memory\. Tried to allocate|torch\.cuda\.OutOfMemoryError"
)
# torchvision / torchaudio beside torch: "torchvision 0.5.0", "torchvision==0.5.0", torchvision.__version__ output
_COMPANION = re.compile(
    r"(?<![\w./-])(torchvision|torchaudio)(?:\.__version__\)?\s{0,4}\n?\s{0,4}['\"]?|\s{0,3}===?\s{0,2}|:\s{0,2}|\s{1,30}(?:version\s{1,3})?v?)(" + _V + r")(?![\w.])"
)
# A script's print of torch.backends.cuda.is_built() ("PyTorch built with CUDA:         False").
_BUILT_WITH = re.compile(r"(?:PyTorch|torch) built with CUDA:?\s{1,40}(True|False)\b")
# A torch-style labelled version on its own ("2.0.0+cpu Autocast half" in a UI's system info).
_LABELLED = re.compile(r"(?<![\w.+/-])([12]\.\d{1,2}\.\d{1,2}\+(?:cpu|cu\d{2,3}))(?![\w.])")
_INDEX = re.compile(r"download\.pytorch\.org/whl/(?:nightly/)?(cu\d{2,3}|cpu|rocm\d[\d.]{0,6})(?![\w.])")
# Prose: "pytorch 1.7", "PyTorch version 1.13.1", "torch version: 2.0", "torch v1.8", "Pytorch==1.9"
_PROSE = re.compile(
    r"(?:py)?torch(?:\s{1,3}version)?(?:\s{1,3}(?:is|=|:)|\s{0,3}==?|:)?\s{0,3}v?(" + _V + r")(?![\w.]|\s?(?:GB|MB|GiB|%|ms|s\b))",
    re.IGNORECASE,
)


def extract(norm: Normalised, variants: frozenset[str] = frozenset()) -> list[Found]:
    """torch.version, torch.cuda_version / torch.build and install.* requests found in *norm*.

    *variants*: the CUDA variant names rules/torch.toml knows ("cu118", ...); an index URL naming
    another one (".../whl/cu114", which does not exist) says nothing about what pip installed.
    """
    text = norm.text
    out: list[Found] = []
    for m in (_BUILT_WITH.finditer(text) if "built with CUDA" in text else ()):
        out.append(Found("torch.build", "cuda" if m.group(1) == "True" else "cpu", norm.locate(m.start(1)), RANK_OUTPUT,
                         stated=True, how="torch.backends.cuda.is_built() as a script printed it"))
    for m in (_LABELLED.finditer(text) if "+c" in text else ()):
        before = text[max(0, m.start() - 40): m.start()].lower()
        if "torchvision" in before or "torchaudio" in before or "==" in before[-3:]:
            continue
        _version(out, norm, m, RANK_PROSE, stated=True, how="")
    for m in _DUNDER_SAME.finditer(text):
        _version(out, norm, m, RANK_OUTPUT, stated=True, how="")
    for m in _DUNDER_NEXT.finditer(text):
        _version(out, norm, m, RANK_OUTPUT, stated=True, how="")
    for m in _CUDA_DUNDER.finditer(text):
        out.append(Found("torch.cuda_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
        out.append(Found("torch.build", "cuda", norm.locate(m.start(1)), RANK_OUTPUT, stated=False,
                         how="torch.version.cuda names a CUDA version"))
    if (b := _CUDA_BUILD_ONLY.search(text)) is not None:
        out.append(Found("torch.build", "cuda", norm.locate(b.start()), RANK_FILE - 5, stated=False,
                         how="torch raised an error only its CUDA builds raise"))
    for m in (_WHEEL.finditer(text) if "torch-" in text else ()):
        _version(out, norm, m, RANK_FILE, stated=True, how="")
    for m in (_CONDA_FILE.finditer(text) if "pytorch-" in text or "pytorch=" in text else ()):
        line = norm.locate(m.start())
        out.append(Found("torch.version", m.group(1), line, RANK_FILE))
        cuda = re.match(r"py\d\.\d{1,2}_cuda(\d{1,2}\.\d)", m.group(2))
        how = f"from the conda build string {m.group(2)[:60]}"
        if cuda:
            out.append(Found("torch.cuda_version", cuda.group(1), line, RANK_FILE, stated=False, how=how))
            out.append(Found("torch.build", "cuda", line, RANK_FILE, stated=False, how=how))
        else:
            out.append(Found("torch.build", "cpu", line, RANK_FILE, stated=False, how=how))
    failed = {f.group(1) for f in _PIP_FAILED.finditer(text)} if "torch" in text else set()
    for m in (_PIP.finditer(text) if "install" in text else ()):
        args, start = m.group(1), m.start(1)
        for t in _PIP_TORCH.finditer(args):
            if t.group(1) in failed:
                continue  # pip said it found no such distribution
            _version(out, norm, t, RANK_COMMAND, stated=False, how="pinned in a pip install command", base=start)
        for u in _INDEX.finditer(args):
            if variants and u.group(1).startswith("cu") and u.group(1) not in variants:
                continue  # no such index: pip fell back to PyPI's default build (CPU-only on Windows)
            _index(out, norm.locate(start + u.start()), u.group(1))
    for m in (_CONDA.finditer(text) if "conda" in text or "mamba" in text else ()):
        args, start = m.group(1), m.start(1)
        line = norm.locate(start)
        for t in _CONDA_TORCH.finditer(args):
            out.append(Found("torch.version", t.group(1), line, RANK_COMMAND, stated=False,
                             how="pinned in a conda install command", last_wins=True))
        for t in _CONDA_CUDA.finditer(args):
            # NOTE: the pytorch-cuda metapackage is what makes conda pick the CUDA build of pytorch.
            how = f"pytorch-cuda={t.group(1)} in a conda install command"
            out.append(Found("torch.cuda_version", t.group(1), line, RANK_COMMAND, stated=False, how=how, last_wins=True))
            out.append(Found("torch.build", "cuda", line, RANK_COMMAND, stated=False, how=how, last_wins=True))
        for t in _TOOLKIT.finditer(args):
            # NOTE: cudatoolkit=X only asks for a toolkit package; the solver may still pick a CPU
            # build of pytorch (issue 11), so it is recorded as a request, not as torch's CUDA.
            out.append(Found("install.cudatoolkit", t.group(1), line, RANK_COMMAND, how="requested in a conda install command",
                             last_wins=True))
    for m in _PROSE.finditer(text):
        at = m.start()
        if at and text[at - 1].isascii() and (text[at - 1].isalnum() or text[at - 1] in "_./-"):
            continue  # "libtorch 1.7", "/pytorch 1.7": not a torch version
        _version(out, norm, m, RANK_PROSE, stated=True, how="")
    for m in (_COMPANION.finditer(text) if "torchvision" in text or "torchaudio" in text else ()):
        v = version_text(m.group(2))
        if v:
            command = text.rfind("install", max(0, m.start() - 300), m.start()) >= 0 and "\n" not in text[
                text.rfind("install", max(0, m.start() - 300), m.start()): m.start()]
            out.append(Found(f"dist.{m.group(1)}", v, norm.locate(m.start(2)), RANK_COMMAND if command else RANK_PROSE,
                             stated=not command, how="pinned in an install command" if command else ""))
    if failed:
        # NOTE: a pin pip could not install (named in commands and prose alike) is not what is installed.
        bad = {f.line for f in out if f.path == "torch.version" and f.value in failed and f.rank <= RANK_COMMAND}
        out = [f for f in out if not (f.rank <= RANK_COMMAND and f.line in bad and f.path.startswith("torch."))]
    return out


def _version(out: list[Found], norm: Normalised, m: re.Match[str], rank: int, *, stated: bool, how: str, base: int = 0) -> None:
    v = version_text(m.group(1))
    if not v:
        return
    line = norm.locate(base + m.start(1))
    last = rank == RANK_COMMAND
    out.append(Found("torch.version", v, line, rank, stated=stated, how=how, last_wins=last))
    local = v.partition("+")[2]
    if not local:
        return
    tag_how = f"from the local version label +{local}"
    if cuda := cuda_of_tag(local):
        out.append(Found("torch.cuda_version", cuda, line, rank, stated=False, how=tag_how, last_wins=last))
        out.append(Found("torch.build", "cuda", line, rank, stated=False, how=tag_how, last_wins=last))
    elif local == "cpu":
        out.append(Found("torch.build", "cpu", line, rank, stated=False, how=tag_how, last_wins=last))
    elif local.startswith("rocm"):
        out.append(Found("torch.build", "rocm", line, rank, stated=False, how=tag_how, last_wins=last))


def _index(out: list[Found], line: int, tag: str) -> None:
    rank = RANK_COMMAND
    how = f"installed from download.pytorch.org/whl/{tag}"
    if cuda := cuda_of_tag(tag):
        out.append(Found("torch.cuda_version", cuda, line, rank, stated=False, how=how, last_wins=True))
        out.append(Found("torch.build", "cuda", line, rank, stated=False, how=how, last_wins=True))
    elif tag == "cpu":
        out.append(Found("torch.build", "cpu", line, rank, stated=False, how=how, last_wins=True))
