"""Score `cudadoctor triage` on the real-report corpus (tests/fixtures/triage_reports/) and print the table.

The same scoring as tests/triage/test_real_reports.py (imported from there, one copy of the rules):
a hit is the manifest's lead named first (for "unexplained" texts: no error-level finding); a false
alarm is a warning/error finding the manifest lists under `never` (or any error on an
"unexplained" text); "ready" counts erroring texts that were judged ready.

    python benchmarks/triage_corpus.py                 # per-kind and per-language table
    python benchmarks/triage_corpus.py --misses 50     # ... and the first 50 wrong texts
    python benchmarks/triage_corpus.py --json          # machine-readable, one object per text
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

# NOTE: the scoring lives with the corpus test; a script run from benchmarks/ needs the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cudadoctor.tables import load_tables  # noqa: E402
from tests.triage.test_real_reports import format_table, score_corpus  # noqa: E402


def main() -> int:
    """Score the corpus and print the table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", type=int, default=0, help="also list up to N wrongly judged texts")
    ap.add_argument("--json", action="store_true", help="print one JSON object per scored text")
    args = ap.parse_args()
    started = time.perf_counter()
    score = score_corpus(load_tables())
    elapsed = time.perf_counter() - started
    if args.json:
        for s in score.scored:
            print(json.dumps(asdict(s), ensure_ascii=False))
        return 0
    print(format_table(score, misses=args.misses))
    print(f"\n{len(score.scored)} texts triaged in {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
