"""Check that the driver's libcuda.so.1, when it is on disk, is where the dynamic loader finds it."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from cudadoctor.checks.base import Check, SkipCheck, area, maybe
from cudadoctor.checks.cuda_libs.common import ld_library_path, major_of
from cudadoctor.facts import CudaLibsFacts, DriverFacts, Facts, HostFacts, TorchFacts, Unavailable
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy


class LibcudaNotOnLoaderPath(Check):
    """The driver's libcuda.so exists but the dynamic loader cannot find it.

    ## What it checks
    Whether copies of the driver library `libcuda.so*` exist on disk (stub libraries under
    `.../stubs/` excluded) while `dlopen("libcuda.so.1")` in a clean child process fails. Also,
    where the cuDNN torch loads is 8.x, whether the *unversioned* `libcuda.so` resolves: cuDNN 8's
    sub-libraries (`libcudnn_cnn_infer.so.8` and friends) dlopen that name. cuDNN 9 is not judged
    on it: no report was found of its sub-libraries needing the unversioned name (the WSL2 and
    minimal-image reports are all cuDNN 8's), so a missing `libcuda.so` stays quiet there.

    ## Why it matters
    CUDA finds the driver only through the loader: torch reports "Found no NVIDIA driver on
    your system" even though the driver is installed. Classic cases: WSL2, where the driver
    lives in /usr/lib/wsl/lib and that directory is missing from the loader configuration;
    containers whose injected libraries sit in /usr/local/nvidia/lib64 without an ld.so.conf
    entry; a driver installed without running `ldconfig`, so the `libcuda.so.1` link is missing.

    With cuDNN 8, CUDA itself works but the first convolution aborts the process: "Could not load
    library libcudnn_cnn_infer.so.8. Error: libcuda.so: cannot open shared object file". On WSL2
    ld.so.cache lists only `libcuda.so.1` for /usr/lib/wsl/lib, so `libcuda.so` there is reached
    only through LD_LIBRARY_PATH; minimal images get `libcuda.so.1` injected without a `libcuda.so` link.

    ## Example
    WSL2 Ubuntu, /usr/lib/wsl/lib/libcuda.so.1 exists, /etc/ld.so.conf.d/ld.wsl.conf was
    deleted: "libcuda.so.1: cannot open shared object file". Or WSL2 with torch 2.1 (cuDNN 8.9):
    `import torch` works, a Conv2d aborts with "Could not load library libcudnn_cnn_infer.so.8".

    ## Fix
    Add the directory to the loader path: `echo DIR | sudo tee /etc/ld.so.conf.d/nvidia.conf &&
    sudo ldconfig` (or `export LD_LIBRARY_PATH=DIR:$LD_LIBRARY_PATH` for one shell).

    ## References
    - https://docs.nvidia.com/cuda/wsl-user-guide/index.html
    - https://man7.org/linux/man-pages/man8/ldconfig.8.html
    - https://github.com/NVIDIA/nvidia-container-toolkit
    - https://github.com/microsoft/WSL/issues/5663 (libcuda.so / libcuda.so.1 under /usr/lib/wsl/lib)
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
                yield from self._unversioned(facts, libs, entry.path)
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

    def _unversioned(self, facts: Facts, libs: CudaLibsFacts, libcuda1: str) -> Iterator[Finding]:
        """libcuda.so.1 resolves; fire when cuDNN 8 will dlopen the unversioned libcuda.so and it does not."""
        entry = next((r for r in libs.resolved if r.soname == "libcuda.so"), None)
        if entry is None or not isinstance(entry.path, Unavailable):
            return  # not asked (no cuDNN 8 on disk, or older facts), or it resolves
        major = _torch_cudnn_major(facts)
        if major != 8:
            return  # cuDNN 9 (or none): nothing torch loads dlopens the unversioned name
        where = posixpath.dirname(libcuda1)
        has_link = f"{where}/libcuda.so" in libs.libcuda_files
        host = maybe(facts, HostFacts)
        wsl = host is not None and host.wsl2
        if has_link:
            why = (f"{where}/libcuda.so exists, but {where} is reached only through ld.so.cache, which lists "
                   "libcuda.so.1 alone" + (" (WSL2's usual layout)" if wsl else ""))
            fix = (f"export LD_LIBRARY_PATH={where}:$LD_LIBRARY_PATH   (add it to ~/.bashrc or the job "
                   "script so every shell has it)")
        else:
            why = f"{where} has libcuda.so.1 but no libcuda.so link (a minimal image or a driver install without the dev link)"
            fix = (f"sudo ln -s libcuda.so.1 {where}/libcuda.so   (without root: mkdir -p ~/lib && "
                   f"ln -s {libcuda1} ~/lib/libcuda.so && export LD_LIBRARY_PATH=~/lib:$LD_LIBRARY_PATH)")
        yield self.finding(
            message=(
                f"The loader finds libcuda.so.1 ({libcuda1}) but not the unversioned libcuda.so "
                f"({entry.path.reason}): {why}. torch loads cuDNN 8, whose sub-libraries dlopen libcuda.so, so "
                "the first convolution aborts with \"Could not load library libcudnn_cnn_infer.so.8. Error: "
                "libcuda.so: cannot open shared object file\"."
            ),
            evidence={"cuda_libs.resolved[libcuda.so.1]": libcuda1, "cuda_libs.resolved[libcuda.so]": entry.path.reason,
                      "cudnn_major": major, "cuda_libs.libcuda_files": list(libs.libcuda_files)},
            fix=fix,
        )


def _torch_cudnn_major(facts: Facts) -> int | None:
    """The major of the cuDNN torch loads: torch's own answer, else the mapped libcudnn's soname."""
    t = maybe(facts, TorchFacts)
    if t is None or t.status != "ok":
        return None
    if not isinstance(t.cudnn_version, Unavailable) and t.cudnn_version is not None:
        return t.cudnn_version.major
    if isinstance(t.loaded_libraries, tuple):
        for lib in t.loaded_libraries:
            major = major_of(lib.path) if lib.library == "libcudnn" else None
            if major:
                return int(major)
    return None
