"""Check that the driver's libcuda.so.1, when it is on disk, is where the dynamic loader finds it."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from cudadoctor.checks.base import Check, SkipCheck, area, maybe
from cudadoctor.checks.cuda_libs.common import ld_library_path
from cudadoctor.facts import CudaLibsFacts, DriverFacts, Facts, HostFacts, Unavailable
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy


class LibcudaNotOnLoaderPath(Check):
    """The driver's libcuda.so exists but the dynamic loader cannot find it.

    ## What it checks
    Whether copies of the driver library `libcuda.so*` exist on disk (stub libraries under
    `.../stubs/` excluded) while `dlopen("libcuda.so.1")` in a clean child process fails.

    ## Why it matters
    CUDA finds the driver only through the loader: torch reports "Found no NVIDIA driver on
    your system" even though the driver is installed. Classic cases: WSL2, where the driver
    lives in /usr/lib/wsl/lib and that directory is missing from the loader configuration;
    containers whose injected libraries sit in /usr/local/nvidia/lib64 without an ld.so.conf
    entry; a driver installed without running `ldconfig`, so the `libcuda.so.1` link is missing.

    ## Example
    WSL2 Ubuntu, /usr/lib/wsl/lib/libcuda.so.1 exists, /etc/ld.so.conf.d/ld.wsl.conf was
    deleted: "libcuda.so.1: cannot open shared object file".

    ## Fix
    Add the directory to the loader path: `echo DIR | sudo tee /etc/ld.so.conf.d/nvidia.conf &&
    sudo ldconfig` (or `export LD_LIBRARY_PATH=DIR:$LD_LIBRARY_PATH` for one shell).

    ## References
    - https://docs.nvidia.com/cuda/wsl-user-guide/index.html
    - https://man7.org/linux/man-pages/man8/ldconfig.8.html
    - https://github.com/NVIDIA/nvidia-container-toolkit
    """

    code = "LIB005"
    name = "libcuda-not-on-loader-path"
    severity = Severity.ERROR
    requires = frozenset({"cuda_libs"})
    tables = ()
    fast = True
    explains = ("cuda-stub", "refine:libcuda-missing-under-wsl", "refine:libcuda-missing-with-working-driver",
                "refine:unversioned-libcuda-missing")
    rank = 18

    def fix(self, ctx: FixContext) -> Remedy:
        """Put the driver's libcuda on the loader path (WSL2: /usr/lib/wsl/lib); never the toolkit's stub."""
        if ctx.first_signature == "cuda-stub":
            return Remedy(
                "Remove the CUDA stubs directory (…/lib64/stubs or …/targets/*/lib/stubs) from LD_LIBRARY_PATH and "
                "/etc/ld.so.conf.d, then `sudo ldconfig`.",
                "The stub is for linking only; at run time it must not be on the loader path.",
            )
        if ctx.text.wsl:
            return Remedy(
                "`export LD_LIBRARY_PATH=/usr/lib/wsl/lib:$LD_LIBRARY_PATH` (persist it in ~/.bashrc), or "
                "`echo /usr/lib/wsl/lib | sudo tee /etc/ld.so.conf.d/ld.wsl.conf && sudo ldconfig`. Do not install "
                "a Linux NVIDIA driver inside WSL2.",
                "Under WSL2 the driver's libcuda.so.1 is in /usr/lib/wsl/lib.",
            )
        if ctx.first_signature == "refine:unversioned-libcuda-missing":
            return Remedy(
                "Find the driver's copy (`ldconfig -p | grep libcuda`) and give it the unversioned name cuDNN 8 "
                "opens: `sudo ln -s <dir>/libcuda.so.1 <dir>/libcuda.so && sudo ldconfig`; under WSL2 add "
                "/usr/lib/wsl/lib (which holds it) to the loader path instead. Never point it at the toolkit's "
                "stubs/libcuda.so: that one is for linking only.",
                "cuDNN 8's sub-libraries open the unversioned libcuda.so, which only a -dev link provides.",
            )
        return Remedy(
            "Find the driver's copy (`find / -name 'libcuda.so.1' 2>/dev/null`) and add its directory to the loader "
            "path: `echo <dir> | sudo tee /etc/ld.so.conf.d/nvidia.conf && sudo ldconfig`."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when a real libcuda is on disk but libcuda.so.1 does not resolve."""
        libs = area(facts, CudaLibsFacts)
        real = [f for f in libs.libcuda_files if "/stubs/" not in f]
        if not real:
            return  # no driver library on disk at all: no-nvidia-driver's business
        entry = next((r for r in libs.resolved if r.soname == "libcuda.so.1"), None)
        drv = maybe(facts, DriverFacts)
        drv_path = drv.libcuda_path if drv is not None else None
        if entry is not None:
            if not isinstance(entry.path, Unavailable):
                return
            error = entry.path.reason
        elif drv_path is None:
            raise SkipCheck("whether libcuda.so.1 resolves was not recorded (driver facts unavailable)")
        elif not isinstance(drv_path, Unavailable):
            return
        else:
            error = drv_path.reason
        by_dir: dict[str, list[str]] = {}
        for f in real:
            by_dir.setdefault(posixpath.dirname(f), []).append(posixpath.basename(f))
        host = maybe(facts, HostFacts)
        wsl = host is not None and host.wsl2
        dirs = sorted(by_dir, key=lambda d: (d != "/usr/lib/wsl/lib" if wsl else 0, "libcuda.so.1" not in by_dir[d]))
        best = dirs[0]
        names = by_dir[best]
        ldp = ld_library_path(facts)
        conf = "ld.wsl.conf" if best == "/usr/lib/wsl/lib" else "nvidia.conf"
        if "libcuda.so.1" not in names:
            target = next((n for n in names if re.fullmatch(r"libcuda\.so\.\d+(\.\d+)+", n)), names[0])
            fix = (f"sudo ldconfig   (creates the missing link {best}/libcuda.so.1 -> {target}; without root: "
                   f"ln -s {best}/{target} ~/lib/libcuda.so.1 && export LD_LIBRARY_PATH=~/lib:$LD_LIBRARY_PATH)")
            why = (f"{best} has {', '.join(names)} but no libcuda.so.1 link "
                   "(ldconfig was not run after the driver install)")
        elif best in ldp:
            fix = (f"file -L {best}/libcuda.so.1   (it is on LD_LIBRARY_PATH and still fails: check it is a "
                   f"64-bit {host.arch if host is not None else ''} library and readable)")
            why = f"{best}/libcuda.so.1 is on LD_LIBRARY_PATH but does not load"
        else:
            fix = (f"echo {best} | sudo tee /etc/ld.so.conf.d/{conf} && sudo ldconfig   "
                   f"(or for this shell only: export LD_LIBRARY_PATH={best}:$LD_LIBRARY_PATH)")
            why = f"{best} is neither in the loader cache (/etc/ld.so.conf.d) nor on LD_LIBRARY_PATH"
        place = " (WSL2: the Windows driver exposes its libraries in /usr/lib/wsl/lib)" if wsl else ""
        yield self.finding(
            message=f"The NVIDIA driver library exists ({', '.join(real)}) but the loader cannot find "
                    f"libcuda.so.1 ({error}): {why}{place}. CUDA and torch will report no driver.",
            evidence={"cuda_libs.libcuda_files": real, "cuda_libs.resolved[libcuda.so.1]": error,
                      "cuda_libs.ld_library_path": list(ldp)},
            fix=fix,
        )
