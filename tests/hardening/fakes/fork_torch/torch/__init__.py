"""A torch whose import forks a worker that keeps stdout open and sleeps (issue 17), then behaves
as the healthy fake torch 2.5.1+cu124. FAKE_TORCH_FORK=setsid makes the worker leave the process
group first, as a daemonising helper does."""
import os
import time

if os.fork() == 0:
    if os.environ.get("FAKE_TORCH_FORK") == "setsid":
        os.setsid()
    time.sleep(300)
    os._exit(0)

_REAL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))), "fixtures", "fake_torch", "cu124", "torch")
__path__ = [_REAL]
with open(os.path.join(_REAL, "__init__.py"), encoding="utf-8") as _f:
    exec(compile(_f.read(), os.path.join(_REAL, "__init__.py"), "exec"))
