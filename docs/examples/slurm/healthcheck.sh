#!/bin/bash
# Slurm node health check with cudadoctor: drain the node when its GPUs are not usable.
#
# slurm.conf:
#   HealthCheckProgram=/etc/slurm/cudadoctor-healthcheck.sh
#   HealthCheckInterval=300
#   HealthCheckNodeState=ANY,CYCLE
#
# Where node-exporter's textfile collector directory exists, the same run also writes
# cudadoctor.prom there (cudadoctor_ready, cudadoctor_findings{name,severity}, ...), atomically.
# The healthcheck exits 0 (healthy) or 1 (unhealthy) and bounds itself with --timeout.
set -u

TEXTFILE_DIR=${CUDADOCTOR_TEXTFILE_DIR:-/var/lib/node_exporter/textfile_collector}
NODE=${SLURMD_NODENAME:-$(hostname -s)}

args=(healthcheck --timeout 30)
if [ -d "$TEXTFILE_DIR" ] && [ -w "$TEXTFILE_DIR" ]; then
    args+=(--format prometheus --output "$TEXTFILE_DIR/cudadoctor.prom")
fi

if line=$(cudadoctor "${args[@]}"); then
    exit 0
fi
# One line: "unhealthy: <finding>: <what was found>"; Slurm shows the reason in sinfo -R.
scontrol update nodename="$NODE" state=drain reason="cudadoctor: ${line:0:200}"
exit 1
