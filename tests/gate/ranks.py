"""Build the ``ranks`` fact area from rank summaries in their wire form (as test cases write them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from cudadoctor.facts import Facts
from cudadoctor.facts_ranks import RanksFacts, rank_from_wire


def ranks_facts(ranks: Sequence[Mapping[str, Any]], **changes: Any) -> RanksFacts:
    """RanksFacts of a completed gather of *ranks* (wire-form dicts)."""
    decoded = tuple(rank_from_wire(r) for r in ranks)
    base = RanksFacts(world_size=len(decoded), backend="nccl", error="", ranks=decoded, missing=(),
                      master_addr="10.0.0.1", master_port="29500")
    return dataclasses.replace(base, **changes)


def with_ranks(facts: Facts, ranks: Sequence[Mapping[str, Any]]) -> Facts:
    """*facts* with *ranks* gathered, as rank 0 of gate --distributed holds them."""
    return dataclasses.replace(facts, ranks=ranks_facts(ranks))
