"""Checks of the Jupyter kernels: a notebook whose kernel runs another interpreter, with another torch."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from cudadoctor.checks.base import Check, SkipCheck, area
from cudadoctor.facts import Facts, JupyterFacts, KernelSpec, TorchFacts
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.wheels import pip, torch_variant_index, torch_version


def kernel_problems(k: TorchFacts, t: TorchFacts) -> list[str]:
    """How the kernel's torch *k* differs from the inspected torch *t*, in words ([] when it does not matter)."""
    if k.status != "ok":
        if t.status == "ok":
            what = "has no torch" if k.status == "not-installed" else f"cannot import torch ({k.status})"
            return [f"its interpreter {what}"]
        return []
    problems: list[str] = []
    kv, tv = torch_version(k), torch_version(t)
    if t.status == "ok" and kv is not None and tv is not None and kv != tv:
        problems.append(f"its torch is {kv}, the inspected one is {tv}")
    if k.build != "cuda" and t.build == "cuda":
        kind = "CPU-only" if k.build == "cpu" else k.build if isinstance(k.build, str) else "non-CUDA"
        problems.append(f"its torch is a {kind} build without CUDA")
    elif k.cuda_available is False and t.cuda_available is True:
        reason = f" ({k.cuda_unavailable_reason.splitlines()[0][:160]})" if k.cuda_unavailable_reason else ""
        problems.append(f"torch.cuda.is_available() is False there{reason}")
    return problems


class JupyterKernelMismatch(Check):
    """A Jupyter kernel runs another interpreter whose torch differs or lacks CUDA.

    ## What it checks
    Reads every installed kernelspec (`kernels/<name>/kernel.json` on Jupyter's data path, as
    `jupyter --paths` lists it) and the interpreter its `argv[0]` names. For each Python kernel
    whose interpreter is not the one inspected, it compares that interpreter's torch (inspected
    with `check --kernels`, the way `--python` does) with the inspected torch: no torch, another
    version, a CPU-only build or `torch.cuda.is_available()` False there.

    ## Why it matters
    "`torch.cuda.is_available()` is True in the shell but False in the notebook" is usually
    this: the kernel was registered from another environment (the system Python, an old conda
    env), so the notebook imports a different torch — or none.

    ## Example
    A venv with `torch 2.8.0+cu128`; the notebook's "Python 3" kernel points at
    `/usr/bin/python3`, whose torch is `2.8.0+cpu`.

    ## Fix
    Register a kernel for the environment you meant (`python -m ipykernel install --user
    --name <name>` run with that environment's Python), or install the right torch into the
    kernel's interpreter. Then pick that kernel in the notebook and restart it.

    ## References
    - https://ipython.readthedocs.io/en/stable/install/kernel_install.html
    - https://jupyter-client.readthedocs.io/en/stable/kernels.html#kernel-specs
    - https://docs.jupyter.org/en/latest/use/jupyter-directories.html
    """

    code = "JUP001"
    name = "jupyter-kernel-mismatch"
    severity = Severity.WARNING
    requires = frozenset({"jupyter", "torch"})
    since = "0.1.0"

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per kernel whose interpreter's torch differs from the inspected one."""
        j = area(facts, JupyterFacts)
        t = area(facts, TorchFacts)
        python_kernels = [k for k in j.kernels if k.language.lower() == "python"]
        if not python_kernels:
            raise SkipCheck(f"no Python Jupyter kernelspecs found (searched {', '.join(j.search_path[:4])}, ...)")
        others = [k for k in python_kernels
                  if isinstance(k.interpreter_dir, str) and k.interpreter_dir != j.inspected_dir]
        if not others:
            return
        judged = [k for k in others if isinstance(k.torch, TorchFacts)]
        if not judged:
            names = ", ".join(k.name for k in others)
            raise SkipCheck(f"kernels {names} run another interpreter; their torch was not inspected "
                            "(run `cudadoctor check --kernels`)")
        for k in judged:
            assert isinstance(k.torch, TorchFacts)
            problems = kernel_problems(k.torch, t)
            if problems:
                yield self._finding(j, k, k.torch, t, problems)

    def _finding(self, j: JupyterFacts, k: KernelSpec, kt: TorchFacts, t: TorchFacts, problems: list[str]) -> Finding:
        tv = torch_version(t)
        register = (f"{shlex.quote(j.inspected_python)} -m pip install ipykernel && {shlex.quote(j.inspected_python)} "
                    f"-m ipykernel install --user --name {shlex.quote(k.name)} --display-name {shlex.quote(k.display_name)}")
        install = pip(kt, f"install 'torch=={tv.public}'{torch_variant_index(t)}") if tv is not None else ""
        return self.finding(
            message=(
                f"The Jupyter kernel {k.name!r} (\"{k.display_name}\", {k.path}) runs {k.interpreter}, not the "
                f"inspected {j.inspected_python}: {'; '.join(problems)}. A notebook on this kernel sees that torch, "
                "not the one `cudadoctor check` inspected."
            ),
            evidence={
                f"jupyter.kernels[{k.name}].interpreter": k.interpreter,
                f"jupyter.kernels[{k.name}].torch.version": kt.version,
                f"jupyter.kernels[{k.name}].torch.cuda_available": kt.cuda_available,
                "jupyter.inspected_python": j.inspected_python,
                "torch.version": t.version,
            },
            fix=(
                f"Point the kernel at this environment: `{register}` (a user kernelspec of that name takes precedence "
                f"over {k.path}), then pick it in the notebook and restart the kernel"
                + (f"; or install the same torch into the kernel's interpreter: `{install}`" if install else "")
                + "."
            ),
        )


#: The checks of this family, in report order.
CHECKS: tuple[type[Check], ...] = (JupyterKernelMismatch,)
