"""Check for distributed-launch variables (RANK, WORLD_SIZE, ...) left set outside any launcher."""

from __future__ import annotations

from collections.abc import Iterator

from cudadoctor.checks.base import Check, area, maybe
from cudadoctor.facts import ContainerFacts, EnvFacts, Facts
from cudadoctor.findings import Finding, Severity
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy
from cudadoctor.tables import RuleTables


#: Variables a launcher sets for each rank.
DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR")
#: Variables that show a launcher is in charge (torchrun, Slurm, MPI implementations).
LAUNCHER_VARS = ("TORCHELASTIC_RUN_ID", "SLURM_PROCID", "SLURM_JOB_ID", "OMPI_COMM_WORLD_RANK", "PMI_RANK",
                 "PMIX_RANK", "MV2_COMM_WORLD_RANK")


class DistributedEnvStray(Check):
    """RANK / WORLD_SIZE / NODE_RANK / MASTER_ADDR / LOCAL_RANK are set outside a launcher.

    ## What it checks
    Whether the distributed variables torch's `env://` rendezvous reads are set while no
    launcher is in charge: no torchrun (`TORCHELASTIC_RUN_ID`), no Slurm
    (`SLURM_PROCID`/`SLURM_JOB_ID`), no MPI (`OMPI_COMM_WORLD_RANK`, `PMI_RANK`, `PMIX_RANK`),
    and not a Kubernetes PyTorchJob (which sets MASTER_ADDR, WORLD_SIZE and RANK itself).

    ## Why it matters
    Left over from an earlier job or exported in a shell profile, they make
    `init_process_group()` wait for peers that never come (a hang until the 30-minute timeout),
    and make libraries (Lightning, Accelerate, DeepSpeed) believe they run distributed.

    ## Example
    `export WORLD_SIZE=8 RANK=0` in ~/.bashrc, then `python train.py` on a workstation.

    ## Fix
    `unset` the variables, and start distributed jobs with `torchrun`.

    ## References
    - https://docs.pytorch.org/docs/stable/distributed.html#environment-variable-initialization
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    """

    code = "TRC009"
    name = "distributed-env-stray"
    severity = Severity.WARNING
    requires = frozenset({"env"})
    tables = ()
    explains = ("dist-env-set-prose",)

    def fix(self, ctx: FixContext) -> Remedy:
        """Unset the launcher variables in the shell/job that runs a non-launcher program."""
        return Remedy(
            f"`unset {' '.join(DIST_VARS)}` (and remove them from ~/.bashrc or the job script) before a plain "
            "`python train.py`; start distributed runs with `torchrun --nproc-per-node=<gpus> train.py`, which sets "
            "them per rank."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when rank variables exist without launcher variables."""
        env = area(facts, EnvFacts).variables
        stray = [n for n in DIST_VARS if n in env]
        if not stray:
            return
        if any(n in env for n in LAUNCHER_VARS):
            return
        container = maybe(facts, ContainerFacts)
        k8s = "KUBERNETES_SERVICE_HOST" in env or (container is not None and container.kubernetes)
        if k8s and all(n in env for n in ("MASTER_ADDR", "WORLD_SIZE", "RANK")):
            return  # NOTE: the Kubeflow PyTorchJob operator sets these for every replica
        shown = ", ".join(f"{n}={env[n]}" for n in stray)
        world = env.get("WORLD_SIZE", "")
        single = world.strip() == "1" and env.get("RANK", "0").strip() == "0"
        if single:
            effect = ("WORLD_SIZE=1 makes init_process_group() succeed alone, but libraries that test these "
                      "variables will take the distributed code path")
        elif world.isdigit() and int(world) > 1:
            effect = (f"init_process_group() will wait for {int(world) - 1} other rank(s) at "
                      f"{env.get('MASTER_ADDR', '$MASTER_ADDR')}:{env.get('MASTER_PORT', '$MASTER_PORT')} and hang "
                      "until its timeout")
        else:
            effect = "init_process_group() and distributed-aware libraries will read them and wait for peers"
        yield self.finding(
            message=f"{shown} set, but no launcher (torchrun, Slurm, MPI, Kubernetes PyTorchJob) is in charge: "
                    f"{effect}.",
            evidence={f"env.variables.{n}": env[n] for n in stray},
            fix=f"unset {' '.join(stray)}   (and remove the export from ~/.bashrc or the job script); start "
                "distributed runs with: torchrun --nproc-per-node=<gpus> train.py",
            severity=Severity.INFO if single else None,
        )
