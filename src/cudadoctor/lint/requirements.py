"""Parse a pip requirements file into the RequirementsModel the lint judges (pure)."""

from __future__ import annotations

import shlex
from pathlib import Path

from cudadoctor.lint.dockerfile import JUDGED
from cudadoctor.lint.model import PipRequirement, RequirementsModel, Where
from cudadoctor.lint.pipargs import parse_install_args, requirement_name


def parse_requirements(path: Path, text: str) -> RequirementsModel:
    """torch / torchvision / torchaudio lines, each with the --index-url options the file sets.

    NOTE: pip applies a file's --index-url / --extra-index-url to the whole file, wherever the
    line is (https://pip.pypa.io/en/stable/reference/requirements-file-format/).
    """
    label = str(path)
    index: str | None = None
    extra: list[str] = []
    found: list[tuple[str, str, int]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1] + " " + lines[i]
        i += 1
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            try:
                opts = parse_install_args(shlex.split(line))
            except ValueError:
                continue
            index = opts.index_url or index
            extra += opts.extra_index_urls
            continue
        text_req = line.split(";", 1)[0].strip() if " --" not in line else line.split(" --", 1)[0].strip()
        parsed = requirement_name(text_req)
        if parsed and parsed[0] in JUDGED:
            found.append((text_req, parsed[0], start + 1))
    reqs = tuple(PipRequirement(t, n, Where(label, ln), index, tuple(extra)) for t, n, ln in found)
    return RequirementsModel(path=label, requirements=reqs)
