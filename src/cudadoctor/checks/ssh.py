"""Checks of how this session was started: an SSH login into a container that lost the image's CUDA environment."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from cudadoctor.checks.base import Check, SkipCheck, area
from cudadoctor.facts import ContainerFacts, Facts, Unavailable
from cudadoctor.facts_session import COMPARED, SessionFacts
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables

#: Variables whose value is a ':'-separated search path: only entries PID 1 has and we lack matter.
SEARCH_PATHS = frozenset({"PATH", "LD_LIBRARY_PATH"})


def _missing_entries(pid1: str, ours: str | None) -> list[str]:
    """PID 1's search-path entries that this session's value lacks."""
    have = set((ours or "").split(":"))
    return [e for e in pid1.split(":") if e and e not in have]


def differences(s: SessionFacts, pid1: dict[str, str]) -> dict[str, tuple[str | None, str]]:
    """name -> (this session's value or None, PID 1's value) for each COMPARED variable that PID 1 sets and we do not match.

    A variable only this session sets is not a difference: it was not lost, someone added it.
    A search path counts as different only when it lacks one of PID 1's entries (order and
    additions are the user's business).
    """
    out: dict[str, tuple[str | None, str]] = {}
    for name in COMPARED:
        if name not in pid1:
            continue
        ours = s.variables.get(name)
        theirs = pid1[name]
        if name in SEARCH_PATHS:
            if _missing_entries(theirs, ours):
                out[name] = (ours, theirs)
        elif ours != theirs:
            out[name] = (ours, theirs)
    return out


class SshSessionEnvDiffers(Check):
    """This SSH session lacks the CUDA environment the container's image sets (sshd does not pass it on).

    ## What it checks
    Inside a container and in an SSH session (SSH_CONNECTION, SSH_CLIENT or SSH_TTY set), it
    compares this process's PATH, LD_LIBRARY_PATH, CUDA_HOME, NVIDIA_VISIBLE_DEVICES,
    NVIDIA_DRIVER_CAPABILITIES and CUDA_VERSION with those of PID 1 (the container's entry point,
    from `/proc/1/environ`), which carries the image's `ENV`. Variables only this session sets,
    and extra or reordered search-path entries, are not reported.

    ## Why it matters
    sshd starts login sessions with its own minimal environment; Docker's `ENV` lines only reach
    processes started by the container runtime. Over SSH, `nvcc` and `/opt/conda/bin/python`
    vanish from PATH, LD_LIBRARY_PATH loses `/usr/local/nvidia/lib64`, and torch or a CUDA
    program that works under `docker exec` fails only in the SSH (tmux/screen) session.

    ## Example
    A `pytorch/pytorch:2.8.0-cuda12.8-cudnn9-devel` container with sshd: `docker exec` shows
    `PATH=/opt/conda/bin:/usr/local/nvidia/bin:...`, but `ssh` into it gets
    `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` and `python` is the
    system one without torch.

    ## Fix
    Make login shells set the image's variables: write them to a file in `/etc/profile.d/`
    (read by every login shell), or as `NAME=value` lines to `/etc/environment` (read by
    pam_env for every SSH session), or set `PermitUserEnvironment yes` in
    `/etc/ssh/sshd_config` and put them in `~/.ssh/environment`. The finding prints the exact
    lines with PID 1's values.

    ## References
    - https://man.openbsd.org/sshd#LOGIN_PROCESS
    - https://man.openbsd.org/sshd_config#PermitUserEnvironment
    - https://docs.docker.com/reference/dockerfile/#env
    """

    code = "SSH001"
    name = "ssh-session-env-differs"
    severity = Severity.WARNING
    requires = frozenset({"session", "container"})
    since = "0.1.0"

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding listing every CUDA-relevant variable this SSH session lost or changed."""
        s = area(facts, SessionFacts)
        c = area(facts, ContainerFacts)
        if not c.in_container or not s.ssh or s.pid == 1:
            return  # outside a container PID 1 is the init system, whose environment means nothing here
        if isinstance(s.pid1_variables, Unavailable):
            raise SkipCheck(f"PID 1's environment unknown: {s.pid1_variables.reason}")
        diff = differences(s, s.pid1_variables)
        if not diff:
            return
        parts = []
        for name, (ours, theirs) in diff.items():
            if name in SEARCH_PATHS:
                parts.append(f"{name} lacks {', '.join(_missing_entries(theirs, ours))}")
            elif ours is None:
                parts.append(f"{name} is unset (PID 1: {theirs})")
            else:
                parts.append(f"{name} is {ours} (PID 1: {theirs})")
        exports = "\n".join(f"export {n}={shlex.quote(t)}" for n, (_, t) in diff.items())
        env_lines = "\n".join(f"{n}={t}" for n, (_, t) in diff.items() if n != "PATH")
        yield self.finding(
            message=(
                f"This SSH session ({', '.join(s.ssh_markers)} set) does not have the container image's CUDA "
                f"environment that PID 1 has: {'; '.join(parts)}. sshd does not pass the image's ENV to login "
                "sessions, so CUDA, nvcc or the image's Python can be missing only over SSH."
            ),
            evidence={
                **{f"session.variables[{n}]": ours if ours is not None else "(unset)" for n, (ours, _) in diff.items()},
                **{f"session.pid1_variables[{n}]": theirs for n, (_, theirs) in diff.items()},
            },
            fix=(
                "Give login shells the image's environment, e.g. in the Dockerfile (or the entry point) write "
                f"/etc/profile.d/cuda-env.sh containing:\n{exports}\n"
                + (f"or add to /etc/environment (pam_env, every SSH session; PATH is better set in profile.d):\n"
                   f"{env_lines}\n" if env_lines else "")
                + "or set `PermitUserEnvironment yes` in /etc/ssh/sshd_config and put the NAME=value lines in "
                "~/.ssh/environment; then log in again."
            ),
        )


#: The checks of this family, in report order.
CHECKS: tuple[type[Check], ...] = (SshSessionEnvDiffers,)
