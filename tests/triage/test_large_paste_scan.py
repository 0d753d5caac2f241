"""A paste over the pasted-scan limit is scanned in its normalised form only: same names, pasted line numbers."""

from __future__ import annotations

from cudadoctor.triage import engine

ERROR = ("UserWarning: CUDA initialization: The NVIDIA driver on your system is too old "
         "(found version 11040). Please update your GPU driver.")


def _names_and_lines(text: str, tables) -> dict[str, list[int]]:
    hits = engine._scan(text, engine.parse(text, tables))
    out: dict[str, list[int]] = {}
    for h in hits:
        out.setdefault(h.name, []).append(h.line_no)
    return out


def test_large_paste_finds_what_a_small_one_does_at_the_pasted_line(tables) -> None:
    # NOTE: prompts make the normalised text differ from the pasted one, so the large-paste path runs.
    small = "$ python train.py\n" + ERROR + "\n"
    # a sentence wrapped over two lines: rejoined, so normalised line numbers fall behind the pasted ones
    wrapped = ("I am running the training script on my own workstation and it keeps failing with\n"
               "the warning below as soon as it starts up\n\n")
    filler = wrapped + "".join(f"$ echo step {i}\nstep {i}\n" for i in range(engine.PASTED_SCAN_LIMIT // 20))
    large = filler + small
    assert len(large) > engine.PASTED_SCAN_LIMIT
    want = _names_and_lines(small, tables)
    got = _names_and_lines(large, tables)
    assert "driver-too-old-for-torch" in want
    assert set(got) == set(want)
    offset = filler.count("\n")
    assert got["driver-too-old-for-torch"] == [n + offset for n in want["driver-too-old-for-torch"]]
