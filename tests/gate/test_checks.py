"""The distributed checks and the pure parts of the distributed gate: version agreement, wrong all-reduce
results, whom to blame for a timeout, the job's reasons, rank 0's table, the launcher variables."""

from __future__ import annotations

import pytest

from cudadoctor.checks.base import Severity, SkipCheck, Status
from cudadoctor.errors import UsageError
from cudadoctor.gating.checks import AllreduceWrongResult, DistributedVersionMismatch, rank_ranges
from cudadoctor.gating.distributed import (
    RankEnv,
    group_outcomes,
    group_reasons,
    launched,
    rank_env,
    silent_ranks,
    table_text,
)
from cudadoctor.facts_ranks import rank_from_wire
from cudadoctor.policy import load_policy
from tests.conftest import env_facts
from tests.gate.ranks import with_ranks

VERSIONS = {"torch": "2.5.1+cu124", "cuda": "12.4", "cudnn": "9.1.0", "nccl": "2.21.5", "driver": "550.54.15"}


def _rank(rank: int, host: str = "", **versions: str) -> dict:
    return {"rank": rank, "host": host or f"node{rank // 8}", "gpu": "NVIDIA H100 80GB HBM3", "verdict": "go",
            "reasons": [], "versions": {**VERSIONS, **versions},
            "allreduce": {"sizes": [{"mib": 256.0, "correct": True, "busbw_gbs": 180.0}], "busbw_gbs": 180.0}}


def _findings(check, ranks, tables):
    """What *check* finds in *ranks* (wire-form summaries; None: no distributed gate ran)."""
    facts = env_facts("healthy_h100_cu128")
    return list(check().evaluate(with_ranks(facts, ranks) if ranks is not None else facts, tables))


def test_rank_ranges() -> None:
    assert rank_ranges([0, 1, 2, 3, 5, 7, 8]) == "0-3, 5, 7-8"
    assert rank_ranges([]) == ""


def test_identical_versions_are_quiet(tables) -> None:
    assert _findings(DistributedVersionMismatch, [_rank(r) for r in range(16)], tables) == []


def test_torch_mismatch_is_an_error_naming_the_odd_host(tables) -> None:
    ranks = [_rank(r) for r in range(15)] + [_rank(15, torch="2.4.0+cu121", cuda="12.1")]
    found = _findings(DistributedVersionMismatch, ranks, tables)
    by = {f.message.split(" differs")[0]: f for f in found}
    torch = by["torch"]
    assert torch.severity is Severity.ERROR and torch.name == "distributed-version-mismatch"
    assert "2.5.1+cu124 on ranks 0-14" in torch.message and "2.4.0+cu121 on rank 15 (host node1)" in torch.message
    assert "pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124" in torch.fix
    assert "on node1" in torch.fix
    assert by["torch's CUDA"].severity is Severity.ERROR


def test_driver_only_mismatch_is_a_warning(tables) -> None:
    ranks = [_rank(r) for r in range(8)] + [_rank(r, driver="535.183.01") for r in range(8, 16)]
    (found,) = _findings(DistributedVersionMismatch, ranks, tables)
    assert found.severity is Severity.WARNING
    assert "NVIDIA driver differs" in found.message and "535.183.01" in found.message


def test_nccl_mismatch_is_an_error_and_unknown_values_are_not_a_mismatch(tables) -> None:
    ranks = [_rank(0), _rank(1, nccl="2.18.1"), _rank(2, cudnn="")]
    found = _findings(DistributedVersionMismatch, ranks, tables)
    assert [f.severity for f in found] == [Severity.ERROR]
    assert "NCCL differs" in found[0].message


def test_bare_and_single_rank_skip(tables) -> None:
    with pytest.raises(SkipCheck, match="not run"):
        _findings(DistributedVersionMismatch, None, tables)
    with pytest.raises(SkipCheck, match="only 1 rank"):
        _findings(DistributedVersionMismatch, [_rank(0)], tables)
    with pytest.raises(SkipCheck, match="not run"):
        _findings(AllreduceWrongResult, None, tables)


def test_wrong_allreduce_result_names_the_rank(tables) -> None:
    bad = _rank(3, host="gpu-17")
    bad["allreduce"]["sizes"] = [{"mib": 32.0, "correct": False, "wrong_elements": 12, "max_error": 4.0}]
    (found,) = _findings(AllreduceWrongResult, [_rank(0), bad], tables)
    assert found.severity is Severity.ERROR and found.name == "allreduce-wrong-result"
    assert "rank 3 (host gpu-17" in found.message and "12 wrong element(s)" in found.message
    assert "gpu-17" in found.fix and "NCCL_P2P_DISABLE=1" in found.fix
    assert _findings(AllreduceWrongResult, [_rank(0), _rank(1)], tables) == []


def test_group_outcomes_and_reasons(tables) -> None:
    from cudadoctor import engine

    failing = _rank(1)
    failing["reasons"] = [{"name": "gpu-ecc-errors", "code": "GPU001", "severity": "error", "message": "GPU 0 has 3 errors"}]
    wire = [_rank(0), failing, _rank(2, driver="535.183.01")]
    report = engine.evaluate(with_ranks(env_facts("healthy_h100_cu128"), wire), tables)
    ranks = report.facts.ranks.ranks
    outcomes = group_outcomes(report)
    assert {o.code: o.status for o in outcomes} == {"DST001": Status.FOUND, "DST002": Status.PASSED}
    policy = load_policy(None)
    reasons = group_reasons(ranks, {3: "never reached the rendezvous before the timeout"}, outcomes, policy, 200.0)
    names = [r.name for r in reasons]
    assert "gpu-ecc-errors" in names and "gate-rank-silent" in names
    assert "distributed-version-mismatch" not in names  # driver-only: a warning, below fail_on
    assert names.count("gate-allreduce-slow") == 3  # 180 GB/s < 200 on every rank
    assert any("rank 1 (node0): GPU 0 has 3 errors" == r.message for r in reasons)


def test_silent_ranks_blames_the_ranks_behind() -> None:
    where = RankEnv(0, 4, 0, "h", "1")
    stages = {1: "gather summaries", 2: "init_process_group"}
    assert set(silent_ranks(where, "gather summaries", stages)) == {2, 3}
    assert "never reached" in silent_ranks(where, "gather summaries", stages)[3]
    # nobody behind: every other rank is listed
    all_same = {1: "gather summaries", 2: "gather summaries", 3: "gather summaries"}
    assert set(silent_ranks(where, "gather summaries", all_same)) == {1, 2, 3}


def test_table_lists_every_rank_and_names_the_bad_one() -> None:
    from cudadoctor.policy import Reason

    bad = _rank(1)
    bad["reasons"] = [{"name": "bench-slow", "severity": "warning", "message": "slow"}]
    text = table_text([rank_from_wire(_rank(0)), rank_from_wire(bad)], 3, {2: "never reached the rendezvous [x]"}, verdict="stop",
                      reasons=[Reason(name="bench-slow", severity="warning", message="rank 1 (node0): slow")], backend="nccl")
    lines = text.splitlines()
    assert lines[0].startswith("cudadoctor gate --distributed: STOP — 3 ranks, backend nccl")
    assert lines[1].split() == ["rank", "host", "GPU", "verdict", "all-reduce", "GB/s", "reason"]
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert "GO" in rows["0"] and "180" in rows["0"]
    assert "STOP" in rows["1"] and "bench-slow" in rows["1"]
    assert "STOP" in rows["2"] and "never reached the rendezvous [x]" in rows["2"]


def test_launcher_variables() -> None:
    env = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    assert launched(env) and not launched({"RANK": "0", "WORLD_SIZE": "2"})
    assert rank_env(env) == RankEnv(3, 8, 3, "10.0.0.1", "29500")
    with pytest.raises(UsageError, match="MASTER_PORT"):
        rank_env({k: v for k, v in env.items() if k != "MASTER_PORT"})
    with pytest.raises(UsageError, match="do not describe"):
        rank_env({**env, "RANK": "8"})
    with pytest.raises(UsageError, match="not an integer"):
        rank_env({**env, "WORLD_SIZE": "eight"})
