"""On a real GPU (pytest --gpu): the quick bench runs on every GPU, correct, within its budget."""

from __future__ import annotations

import sys

import pytest

from cudadoctor.bench.evaluate import annotate
from cudadoctor.bench.runner import run_bench


@pytest.mark.gpu
def test_quick_bench_on_every_gpu(tables) -> None:
    results = annotate(run_bench(sys.executable, quick=True), tables)
    assert results.status == "ok", results.reason
    for dev in results.devices:
        assert dev.status == "ok", (dev.reason, dev.stderr_tail)
        gemm = dev.measurements[0]
        assert gemm.kind == "gemm" and gemm.status == "ok", gemm.reason
        assert gemm.correctness.ok, gemm.correctness
        for m in dev.measurements:
            assert m.status in ("ok", "skipped"), (m.name, m.reason)
        if tables.gpus.lookup(dev.name) is not None:
            assert 0.2 < gemm.efficiency < 1.3, (dev.name, gemm.value, gemm.peak)
        assert dev.wall_s < results.timeout_s
