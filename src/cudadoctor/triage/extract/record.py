"""The one record every extractor returns: a fact path, its value as text, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: How strongly a source pins a value; the highest rank wins, ties go to the first seen.
#: A tool's own output (collect_env, pip list, nvidia-smi, __version__) beats a file name, which
#: beats a command the user ran (it may have failed or been replaced), which beats prose.
RANK_OUTPUT = 40
RANK_FILE = 30
RANK_COMMAND = 20
RANK_PROSE = 10


@dataclass(frozen=True, slots=True)
class Found:
    """One fact the text states (or from which it is safely inferred)."""

    path: str  #: dotted fact path, e.g. "torch.version", "gpus.0.name", "env.CUDA_VISIBLE_DEVICES"
    value: str  #: the value as text ("1.13.1+cu117", "12.4", "7")
    line: int  #: 1-based pasted line number
    rank: int = RANK_PROSE
    stated: bool = True  #: False when derived (e.g. from a wheel tag or an encoded number)
    how: str = ""  #: for derived values, one clause saying how
    last_wins: bool = False  #: for settings (an environment variable set twice: the later one holds)


@lru_cache(maxsize=4096)
def version_text(text: str) -> str:
    """*text* as a version string packaging accepts, or "" ("1.13.1+cu117" stays, "1.7" stays)."""
    from packaging.version import InvalidVersion, Version

    text = text.strip().strip("'\"").replace("%2B", "+").replace("%2b", "+")
    try:
        Version(text)
    except InvalidVersion:
        return ""
    return text


def cuda_of_tag(tag: str) -> str:
    """"cu118" -> "11.8", "cu92" -> "9.2", "cu121" -> "12.1" ("" for anything else)."""
    import re

    m = re.fullmatch(r"cu(\d{1,2}?)(\d)", tag.strip().lower())
    if not m or not m.group(1):
        return ""
    return f"{int(m.group(1))}.{m.group(2)}"
