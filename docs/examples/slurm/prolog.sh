#!/bin/bash
# Slurm prolog: refuse to start a job on a node whose GPUs are not usable.
#
# slurm.conf:
#   Prolog=/etc/slurm/prolog.d/cudadoctor.sh
#
# slurmd runs the prolog on each allocated node before the job; a non-zero exit drains the node
# ("Prolog error") and requeues the job, so it starts on a healthy node instead of failing hours in.
# The healthcheck answers in well under a second from its cache and never hangs (--timeout).
exec cudadoctor healthcheck --timeout 20 --policy /etc/cudadoctor/policy.toml
