"""Child process of the driver probe: ask NVML or libcuda about the driver and print one JSON document.

Run by probes/driver.py as ``[python, "-c", <prelude + this source>, MODE, DEADLINE]`` where MODE
is "nvml" or "libcuda" and DEADLINE is a ``time.monotonic()`` value (CLOCK_MONOTONIC is
system-wide on Linux, so the parent's clock and ours agree). Standard library plus pynvml only:
it never imports cudadoctor, so it cannot be broken by the doctor's own state. The shared prelude
(``cudadoctor/childprelude.py``) gives it ``progress`` and ``write_document``.

NVML and libcuda can hang inside the kernel driver on a sick machine. All driver calls therefore
run in a worker thread that records each result as soon as it has it; the main thread waits until
DEADLINE, then prints whatever was gathered plus the step that hung, and leaves with os._exit()
(a thread stuck in a C call cannot be joined). ctypes releases the GIL during foreign calls, so
the main thread keeps running while the worker is stuck. The parent still kills us at its own,
later timeout if even that fails.

Output (stdout, one JSON object): ``{MODE: {...}}``. A queried value is ``{"v": value}`` or
``{"e": code, "t": text}`` (an NVML return code, or a negative code of ours); units are NVML's
raw units (bytes, milliwatts): converting them is the parser's job.
"""

import contextlib
import ctypes
import faulthandler
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

MODE = sys.argv[1] if len(sys.argv) > 1 else "nvml"
try:
    DEADLINE = float(sys.argv[2])
except (IndexError, ValueError):
    DEADLINE = time.monotonic() + 20.0

#: our own error codes (negative, so they never collide with NVML's)
NO_BINDING = -2  # the installed nvidia-ml-py lacks this function
PY_ERROR = -1  # an unexpected Python exception around the call

#: GPUs queried at once. NVML is thread-safe and ctypes drops the GIL during each call, so one
#: slow or hung GPU neither serialises nor blocks the others.
GPU_THREADS = 8

LOCK = threading.Lock()
STATE: dict[str, Any] = {}
#: what each thread is doing now (thread id -> step); what is left here at DEADLINE has hung
STEPS: dict[int, str] = {}


def put(target: dict[str, Any], key: str, value: Any) -> None:
    """Store one result under the lock, so the main thread never serialises a half-written dict."""
    with LOCK:
        target[key] = value


def step(name: str) -> None:
    """Record what the worker is about to call, so a hang or a crash can be reported by name.

    The stderr line survives a crash inside the driver library (SIGSEGV), where stdout never comes.
    """
    with LOCK:
        STEPS[threading.get_ident()] = name
    progress("step: " + name)


# --------------------------------------------------------------------------------------------
# NVML


def idle() -> None:
    """This thread is not inside a driver call any more (finished, or waiting for others)."""
    with LOCK:
        STEPS.pop(threading.get_ident(), None)


def nvml_text(nvml: Any, err: Any) -> str:
    """NVML's own wording for an error (nvmlErrorString), falling back to pynvml's."""
    try:
        text = nvml.nvmlErrorString(err.value)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the library is missing or broken: use pynvml's text
        text = ""
    return text or str(err)


def query(
    nvml: Any,
    target: dict[str, Any],
    key: str,
    func_name: str,
    args: tuple[Any, ...] = (),
    convert: Callable[[Any], Any] | None = None,
    label: str = "",
) -> Any:
    """Call ``pynvml.<func_name>(*args)`` and store ``{"v": ...}`` or ``{"e": ..., "t": ...}``.

    Returns the raw value, or None when the call failed.
    """
    func = getattr(nvml, func_name, None)
    if func is None:
        put(target, key, {"e": NO_BINDING, "t": "nvidia-ml-py has no " + func_name})
        return None
    step(func_name + label)
    try:
        raw = func(*args)
        value = convert(raw) if convert else raw
    except nvml.NVMLError as e:
        put(target, key, {"e": e.value, "t": nvml_text(nvml, e)})
        return None
    except Exception as e:  # noqa: BLE001 - any failure is data for the parent
        if type(e).__name__ == "NVMLLibraryMismatchError":
            # pynvml's wording for NVML_ERROR_FUNCTION_NOT_FOUND on an unversioned call
            put(target, key, {"e": getattr(nvml, "NVML_ERROR_FUNCTION_NOT_FOUND", 13), "t": str(e)})
            return None
        put(target, key, {"e": PY_ERROR, "t": type(e).__name__ + ": " + str(e)})
        return None
    put(target, key, {"v": value})
    return raw


def text_of(value: Any) -> str:
    """pynvml returns str or bytes depending on its version."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def memory_of(info: Any) -> list[int]:
    """[total, used] in bytes."""
    return [int(info.total), int(info.used)]


def process_list(procs: Any) -> list[list[Any]]:
    """[[pid, used bytes or None, comm], ...]; comm read from /proc (same PID namespace as ours)."""
    out: list[list[Any]] = []
    for p in procs:
        used = getattr(p, "usedGpuMemory", None)
        pid = int(p.pid)
        comm: dict[str, Any]
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
                comm = {"v": f.read().strip()}
        except OSError as e:
            comm = {"e": PY_ERROR, "t": f"{type(e).__name__}: {e.strerror or e}"}
        out.append([pid, None if used is None else int(used), comm])
    return out


def throttle_query(nvml: Any, gpu: dict[str, Any], handle: Any, label: str) -> None:
    """Clock-event reasons (driver >= 535 naming), else the older 'throttle reasons' call."""
    query(nvml, gpu, "clocks_event_reasons", "nvmlDeviceGetCurrentClocksEventReasons", (handle,), label=label)
    got = gpu.get("clocks_event_reasons", {})
    if got.get("e") in (NO_BINDING, getattr(nvml, "NVML_ERROR_FUNCTION_NOT_FOUND", 13)):
        query(nvml, gpu, "clocks_event_reasons", "nvmlDeviceGetCurrentClocksThrottleReasons", (handle,), label=label)


def mig_query(nvml: Any, gpu: dict[str, Any], handle: Any, label: str) -> None:
    """MIG mode and, when enabled, each MIG device's identity and memory."""
    mode = query(nvml, gpu, "mig_mode", "nvmlDeviceGetMigMode", (handle,), convert=lambda m: int(m[0]), label=label)
    devices: list[dict[str, Any]] = []
    put(gpu, "mig_devices", devices)
    if not mode or int(mode[0]) != 1:
        return
    count = query(nvml, gpu, "mig_max", "nvmlDeviceGetMaxMigDeviceCount", (handle,), label=label)
    for slot in range(int(count or 0)):
        mig: dict[str, Any] = {"index": slot}
        sub = label + " MIG " + str(slot)
        handle_box: dict[str, Any] = {}
        mig_handle = query(nvml, handle_box, "handle", "nvmlDeviceGetMigDeviceHandleByIndex", (handle, slot),
                           convert=lambda h: True, label=sub)
        if mig_handle is None:
            # NOTE: empty MIG slots answer NVML_ERROR_NOT_FOUND; that is not a failure.
            if handle_box["handle"].get("e") != getattr(nvml, "NVML_ERROR_NOT_FOUND", 6):
                mig["handle"] = handle_box["handle"]
                with LOCK:
                    devices.append(mig)
            continue
        with LOCK:
            devices.append(mig)
        query(nvml, mig, "uuid", "nvmlDeviceGetUUID", (mig_handle,), convert=text_of, label=sub)
        query(nvml, mig, "name", "nvmlDeviceGetName", (mig_handle,), convert=text_of, label=sub)
        query(nvml, mig, "memory", "nvmlDeviceGetMemoryInfo", (mig_handle,), convert=memory_of, label=sub)


def gpu_query(nvml: Any, gpu: dict[str, Any]) -> None:
    """Every field of one GPU; each failure is recorded and the next field is still tried."""
    index = gpu["index"]
    label = f" (GPU {index})"
    handle = query(nvml, gpu, "handle", "nvmlDeviceGetHandleByIndex", (index,), convert=lambda h: True, label=label)
    if handle is None:
        return
    h = (handle,)
    query(nvml, gpu, "name", "nvmlDeviceGetName", h, convert=text_of, label=label)
    query(nvml, gpu, "uuid", "nvmlDeviceGetUUID", h, convert=text_of, label=label)
    query(nvml, gpu, "pci_bus_id", "nvmlDeviceGetPciInfo", h, convert=lambda p: text_of(p.busId), label=label)
    query(nvml, gpu, "compute_capability", "nvmlDeviceGetCudaComputeCapability", h,
          convert=lambda cc: [int(cc[0]), int(cc[1])], label=label)
    query(nvml, gpu, "memory", "nvmlDeviceGetMemoryInfo", h, convert=memory_of, label=label)
    mig_query(nvml, gpu, handle, label)
    query(nvml, gpu, "ecc_mode", "nvmlDeviceGetEccMode", h, convert=lambda m: int(m[0]), label=label)
    uncorrected = getattr(nvml, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1)
    query(nvml, gpu, "ecc_volatile", "nvmlDeviceGetTotalEccErrors",
          (handle, uncorrected, getattr(nvml, "NVML_VOLATILE_ECC", 0)), convert=int, label=label)
    query(nvml, gpu, "ecc_aggregate", "nvmlDeviceGetTotalEccErrors",
          (handle, uncorrected, getattr(nvml, "NVML_AGGREGATE_ECC", 1)), convert=int, label=label)
    query(nvml, gpu, "retired_dbe", "nvmlDeviceGetRetiredPages",
          (handle, getattr(nvml, "NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR", 1)), convert=len, label=label)
    query(nvml, gpu, "retired_pending", "nvmlDeviceGetRetiredPagesPendingStatus", h, convert=int, label=label)
    query(nvml, gpu, "remapped_rows", "nvmlDeviceGetRemappedRows", h, convert=lambda r: [int(x) for x in r],
          label=label)
    query(nvml, gpu, "persistence_mode", "nvmlDeviceGetPersistenceMode", h, convert=int, label=label)
    query(nvml, gpu, "compute_mode", "nvmlDeviceGetComputeMode", h, convert=int, label=label)
    query(nvml, gpu, "pcie_gen_current", "nvmlDeviceGetCurrPcieLinkGeneration", h, convert=int, label=label)
    query(nvml, gpu, "pcie_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration", h, convert=int, label=label)
    query(nvml, gpu, "pcie_width_current", "nvmlDeviceGetCurrPcieLinkWidth", h, convert=int, label=label)
    query(nvml, gpu, "pcie_width_max", "nvmlDeviceGetMaxPcieLinkWidth", h, convert=int, label=label)
    throttle_query(nvml, gpu, handle, label)
    query(nvml, gpu, "temperature", "nvmlDeviceGetTemperature", (handle, getattr(nvml, "NVML_TEMPERATURE_GPU", 0)),
          convert=int, label=label)
    query(nvml, gpu, "power_draw_mw", "nvmlDeviceGetPowerUsage", h, convert=int, label=label)
    query(nvml, gpu, "power_limit_mw", "nvmlDeviceGetEnforcedPowerLimit", h, convert=int, label=label)
    query(nvml, gpu, "utilization", "nvmlDeviceGetUtilizationRates", h, convert=lambda u: int(u.gpu), label=label)
    query(nvml, gpu, "processes", "nvmlDeviceGetComputeRunningProcesses", h, convert=process_list, label=label)
    put(gpu, "complete", True)


def gpu_thread(nvml: Any, gpu: dict[str, Any]) -> None:
    """gpu_query in a pool thread: any failure is recorded on that GPU, never lost."""
    try:
        gpu_query(nvml, gpu)
    except BaseException:  # noqa: BLE001 - report, never die silently
        put(gpu, "exception", traceback.format_exc()[-2000:])
    finally:
        idle()


def gpu_pool(nvml: Any, gpus: list[dict[str, Any]], todo: list[int]) -> None:
    """One of GPU_THREADS threads: take the next unqueried GPU until none is left.

    A shared to-do list (not a fixed share per thread) so a hung GPU holds up only its own thread.
    """
    while True:
        with LOCK:
            if not todo:
                return
            index = todo.pop(0)
        gpu_thread(nvml, gpus[index])


def nvml_main(out: dict[str, Any]) -> None:
    """Initialise NVML and read the driver, then every GPU."""
    step("import pynvml")
    try:
        import pynvml as nvml
    except Exception as e:  # noqa: BLE001 - a missing or broken binding is data
        put(out, "import_error", type(e).__name__ + ": " + str(e))
        return
    step("nvmlInit")
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as e:
        put(out, "init", {"e": e.value, "t": nvml_text(nvml, e)})
        if e.value == getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", 12):
            # pynvml swallows the loader's message; it says which file and why.
            try:
                ctypes.CDLL("libnvidia-ml.so.1")
            except OSError as oe:
                put(out, "dlopen_error", str(oe))
        return
    put(out, "init", {"v": True})
    query(nvml, out, "driver_version", "nvmlSystemGetDriverVersion", convert=text_of)
    query(nvml, out, "cuda_driver_version", "nvmlSystemGetCudaDriverVersion_v2", convert=int)
    if "e" in out["cuda_driver_version"]:
        query(nvml, out, "cuda_driver_version", "nvmlSystemGetCudaDriverVersion", convert=int)
    count = query(nvml, out, "device_count", "nvmlDeviceGetCount", convert=int)
    gpus: list[dict[str, Any]] = [{"index": index} for index in range(int(count or 0))]
    put(out, "gpus", gpus)
    if gpus:
        idle()
        todo = list(range(len(gpus)))
        threads = [threading.Thread(target=gpu_pool, args=(nvml, gpus, todo), daemon=True)
                   for _ in range(min(GPU_THREADS, len(gpus)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    step("nvmlShutdown")
    with contextlib.suppress(Exception):  # everything we wanted is already recorded
        nvml.nvmlShutdown()
    put(out, "complete", True)


# --------------------------------------------------------------------------------------------
# libcuda


def mapped_path(prefix: str) -> str | None:
    """The file this process actually mapped whose name starts with *prefix* (from /proc/self/maps)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    name = path.rsplit("/", 1)[-1]
                    if name == prefix or name.startswith(prefix + "."):
                        return path
    except OSError:
        pass
    return None


def libcuda_main(out: dict[str, Any]) -> None:
    """Load libcuda.so.1 the way the CUDA runtime does, then ask it for its version and cuInit(0)."""
    step("dlopen libcuda.so.1")
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        put(out, "dlopen_error", str(e))
        return
    put(out, "path", mapped_path("libcuda.so"))

    def error_name(code: int) -> str:
        func = getattr(lib, "cuGetErrorName", None)
        if func is None:
            return ""
        name = ctypes.c_char_p()
        func.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        if func(code, ctypes.byref(name)) != 0 or not name.value:
            return ""
        return name.value.decode("ascii", "replace")

    def call(key: str, symbol: str, *args: Any) -> int | None:
        func = getattr(lib, symbol, None)
        if func is None:
            put(out, key, {"e": NO_BINDING, "t": "libcuda has no symbol " + symbol})
            return None
        step(symbol)
        rc = int(func(*args))
        return rc

    version = ctypes.c_int(0)
    rc = call("driver_get_version", "cuDriverGetVersion", ctypes.byref(version))
    if rc is not None:
        put(out, "driver_get_version", {"v": version.value} if rc == 0 else {"e": rc, "t": error_name(rc)})
    rc = call("cu_init", "cuInit", ctypes.c_uint(0))
    if rc is None:
        return
    put(out, "cu_init", {"v": rc, "t": error_name(rc) if rc else ""})
    if rc == 0:
        count = ctypes.c_int(0)
        rc = call("device_count", "cuDeviceGetCount", ctypes.byref(count))
        if rc is not None:
            put(out, "device_count", {"v": count.value} if rc == 0 else {"e": rc, "t": error_name(rc)})
    put(out, "complete", True)


# --------------------------------------------------------------------------------------------


def guarded(target: Callable[[dict[str, Any]], None], out: dict[str, Any]) -> None:
    """Run *target*; an unexpected exception is recorded in the output, never lost."""
    try:
        target(out)
    except BaseException:  # noqa: BLE001 - report, never die silently
        put(out, "exception", traceback.format_exc()[-2000:])


def main() -> None:
    """Run MODE's queries in a worker thread and print what it gathered by DEADLINE."""
    # A crash inside the driver library then leaves a Python traceback on stderr for the report.
    faulthandler.enable()
    target = {"nvml": nvml_main, "libcuda": libcuda_main}.get(MODE)
    if target is None:
        write_document({"error": "unknown mode " + repr(MODE)})
        os._exit(2)
    worker = threading.Thread(target=guarded, args=(target, STATE), daemon=True)
    worker.start()
    worker.join(max(0.05, DEADLINE - time.monotonic()))
    with LOCK:
        if worker.is_alive():
            STATE["hung"] = "; ".join(sorted(set(STEPS.values()))) or "the " + MODE + " worker"
        # NOTE: under the lock: the worker may still be adding results while we serialise.
        write_document({MODE: STATE}, default=str)
    # NOTE: os._exit skips joining a worker stuck in the driver and any library destructors.
    os._exit(0)


main()
