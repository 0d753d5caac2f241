"""How this process was started, as a fact area (``Facts.session``): an SSH login, and PID 1's environment.

sshd does not pass a container image's ``ENV`` to login sessions: a shell reached over SSH gets
sshd's PATH and none of LD_LIBRARY_PATH, CUDA_HOME, NVIDIA_* or CUDA_VERSION, so CUDA "disappears"
only over SSH. The session probe (probes/session.py) records the variables that change how CUDA
loads, for this process and for PID 1 (the container's entry point, which has the image's ENV);
the ``ssh-session-env-differs`` check compares them. Facts files written before this area existed
decode to :data:`SESSION_NOT_RECORDED`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cudadoctor.unavailable import Unavailable

#: The ``probe`` of every Unavailable in this area.
PROBE = "session"

#: Why ``Facts.session`` is empty in facts from an older cudadoctor.
SESSION_NOT_RECORDED = "not recorded (these facts come from an older cudadoctor)"

#: The variables that change how CUDA and torch load, compared between this session and PID 1.
COMPARED = ("PATH", "LD_LIBRARY_PATH", "CUDA_HOME", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
            "CUDA_VERSION")

#: Variables sshd sets in every session it starts (their values hold addresses: only names are kept).
SSH_MARKERS = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionFacts:
    """Whether this is an SSH session, and the CUDA-relevant environment of this process and of PID 1."""

    ssh_markers: tuple[str, ...]  #: which of SSH_MARKERS are set (names only)
    variables: dict[str, str]  #: this process's values of the COMPARED names that are set
    #: PID 1's values of the COMPARED names that are set, or why /proc/1/environ could not be read
    pid1_variables: dict[str, str] | Unavailable
    pid: int  #: this process's PID (1 means we are PID 1: nothing to compare)

    @property
    def ssh(self) -> bool:
        """Whether sshd started this session."""
        return bool(self.ssh_markers)
