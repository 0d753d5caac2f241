#!/usr/bin/env bash
# Everything that needs a real GPU, in one run, from a checkout (no install: PYTHONPATH=src).
#
#   OUT=/tmp/evidence bash benchmarks/gpu_evidence.sh
#
# Writes at most 8 files under $OUT: check.json (check -v, facts included), bench.json
# (benchmarks/bench_steady_state.py: full + quick bench and a long BF16 GEMM), gate.json and
# gate-distributed.json, speed.json (check_speed + healthcheck_speed), gpu-tests.log (pytest
# --gpu), suite.log (the whole suite on a GPU host) and log.txt (everything else). Each step has
# its own time limit and a failing step does not stop the others.
set -u
OUT=${OUT:?set OUT to a directory for the results}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1 NO_COLOR=1
LOG="$OUT/log.txt"
exec 3>&1  # progress lines go to the caller's stdout, everything else to $LOG
step() {  # step SECONDS NAME -- command...: run with a time limit, log its exit code and duration
    local limit=$1 name=$2; shift 3
    local t0=$SECONDS
    echo "=== $name (limit ${limit}s)" >>"$LOG"
    timeout -k 5 "$limit" "$@"
    local rc=$?
    echo "=== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$LOG" >&3
}

{
    date -u; uname -a; nvidia-smi; nvidia-smi -q | head -60
    "$PY" -c "import sys, torch; print(sys.version); print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')"
} >>"$LOG" 2>&1

step 60 check-terminal -- "$PY" -m cudadoctor check -v >>"$LOG" 2>&1
step 60 check-json -- "$PY" -m cudadoctor check -v --format json -o "$OUT/check.json" >>"$LOG" 2>&1
step 60 explain -- "$PY" -m cudadoctor rules >>"$LOG" 2>&1
step 60 triage -- "$PY" -m cudadoctor triage --probe --text "RuntimeError: CUDA error: no kernel image is available for execution on the device" >>"$LOG" 2>&1
step 120 bench-steady -- "$PY" benchmarks/bench_steady_state.py --device 0 --out "$OUT/bench.json" >>"$LOG" 2>&1
step 60 bench-terminal -- "$PY" -m cudadoctor bench --quick >>"$LOG" 2>&1
step 60 healthcheck -- "$PY" -m cudadoctor healthcheck --format json >>"$LOG" 2>&1
step 120 gate -- "$PY" -m cudadoctor gate --format json -o "$OUT/gate.json" >>"$LOG" 2>&1
step 150 gate-distributed -- "$PY" -m torch.distributed.run --standalone --nproc-per-node 1 -m cudadoctor gate --distributed --format json -o "$OUT/gate-distributed.json" >>"$LOG" 2>&1
step 120 gpu-tests -- "$PY" -m pytest -q --gpu -m gpu -p no:cacheprovider -o addopts="-ra" >"$OUT/gpu-tests.log" 2>&1
step 180 speed -- bash -c "'$PY' benchmarks/check_speed.py --runs 3 --json > '$OUT/speed-check.tmp' && '$PY' benchmarks/healthcheck_speed.py --runs 3 --skip-check --json > '$OUT/speed-hc.tmp'" >>"$LOG" 2>&1
"$PY" - "$OUT" <<'EOF' >>"$LOG" 2>&1
import json, pathlib, sys
out = pathlib.Path(sys.argv[1]); merged = {}
for name in ("check", "hc"):
    p = out / f"speed-{name}.tmp"
    try:
        merged[name] = json.loads(p.read_text())
    except Exception as e:  # a failed step leaves no or partial output
        merged[name] = f"unavailable: {type(e).__name__}: {e}"
    p.unlink(missing_ok=True)
(out / "speed.json").write_text(json.dumps(merged, indent=2))
EOF
step 240 suite -- "$PY" -m pytest -q --gpu -p no:cacheprovider -x -n 8 -o addopts="-ra" >"$OUT/suite.log" 2>&1
exit 0
