"""`cudadoctor rules`: which rule tables are in use, their versions, dates and sources."""

from __future__ import annotations

import json
from pathlib import Path

from cudadoctor.tables import load_tables


def run(rules_dir: Path | None, *, as_json: bool) -> int:
    """List the loaded tables."""
    tables = load_tables(rules_dir)
    rows = [
        {"table": m.name, "schema": m.schema, "updated": m.updated, "path": m.path, "sources": list(m.sources)}
        for m in tables.meta.values()
    ]
    if as_json:
        print(json.dumps({"rules_dir": tables.directory, "tables": rows}, indent=2))
        return 0
    print(f"rules directory: {tables.directory}")
    for r in rows:
        print(f"\n{r['table']}  (schema {r['schema']}, updated {r['updated']})")
        for s in r["sources"]:
            print(f"  - {s}")
    return 0
