"""Driver checks of device visibility: which GPUs this process sees (CUDA_VISIBLE_DEVICES, device order, MIG)."""

from __future__ import annotations

from collections.abc import Iterator

from cudadoctor.causes import CUDA_ERROR_NO_DEVICE, CUDA_SUCCESS, ErrorKind
from cudadoctor.checks.base import Check, SkipCheck, area, maybe
from cudadoctor.checks.driver.common import (
    cu_init,
    env_vars,
    gpu_list,
    sentence,
    torch_reports,
    visible_devices,
)
from cudadoctor.facts import DriverFacts, EnvFacts, Facts, TorchFacts, Unavailable
from cudadoctor.findings import Finding, Severity
from cudadoctor.remedies import in_container
from cudadoctor.tables import RuleTables
from cudadoctor.visible_devices import gpu_label, parse_visible_devices, selected_indices
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy


# --------------------------------------------------------------------------------------------
# DRV010


class NoGpuVisible(Check):
    """The NVIDIA driver works, but this process can see no GPU.

    ## What it checks
    NVML or `cuInit` works, yet NVML lists zero GPUs, `cuInit` returns 100
    (`CUDA_ERROR_NO_DEVICE`) / `cuDeviceGetCount` is 0, or torch counts zero devices while NVML
    lists GPUs. It names the cause it can see: `CUDA_VISIBLE_DEVICES` empty or invalid,
    `NVIDIA_VISIBLE_DEVICES=void/none`, or MIG mode without instances.

    ## Why it matters
    `torch.cuda.is_available()` is False ("No CUDA GPUs are available") although the driver is fine.

    ## Example
    `CUDA_VISIBLE_DEVICES=""` left over from a CPU-only test, or a job launcher that sets
    `CUDA_VISIBLE_DEVICES=-1`.

    ## Fix
    Unset or correct `CUDA_VISIBLE_DEVICES`; start the container with `--gpus`; create MIG instances.

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html
    """

    code = "DRV010"
    name = "no-gpu-visible"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    fast = True
    explains = ("no-cuda-gpus", "cuda-100")
    rank = 50
    follows_from = (
        "no-nvidia-driver", "nvidia-kernel-module-not-loaded", "driver-library-mismatch", "container-without-gpus",
        "gpu-access-lost", "driver-too-old-for-torch", "driver-too-old-for-cudart", "mig-instance-not-selected",
        "cuda-visible-devices-invalid", "fabric-manager-missing", "forward-compat-unsupported-gpu",
        "libcuda-not-on-loader-path", "gpu-fallen-off-bus", "torch-cpu-only-build", "torch-not-installed",
    )

    def fix(self, ctx: FixContext) -> Remedy:
        """Make a GPU visible: the driver, the container's --gpus, CUDA_VISIBLE_DEVICES."""
        return Remedy(
            "Check `nvidia-smi -L` lists a GPU; in a container start it with `--gpus all` (NVIDIA Container "
            "Toolkit); check CUDA_VISIBLE_DEVICES is unset or names existing GPUs; then run `cudadoctor check` on "
            "that machine."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when the driver answers but reports no usable device."""
        drv = area(facts, DriverFacts)
        code = cu_init(drv)
        if drv.nvml_status != "ok" and code not in (CUDA_SUCCESS, CUDA_ERROR_NO_DEVICE):
            return
        env = env_vars(facts)
        cvd = env.get("CUDA_VISIBLE_DEVICES")
        vd = parse_visible_devices(cvd, drv.gpus) if cvd is not None and drv.nvml_status == "ok" else None
        cvd_hides = cvd is not None and (cvd.strip() == "" or (vd is not None and vd.visible_count == 0))

        symptoms: list[str] = []
        # NOTE: GPUs named only in pasted prose are no GPU list: an empty one proves nothing.
        nvml_zero = drv.nvml_status == "ok" and drv.gpus_listed and not drv.gpus
        if nvml_zero:
            symptoms.append("NVML lists no GPU")
        if code == CUDA_ERROR_NO_DEVICE:
            symptoms.append(f"cuInit returns 100 ({drv.cu_init_error or 'CUDA_ERROR_NO_DEVICE'})")
        elif code == CUDA_SUCCESS and drv.cu_device_count == 0:
            symptoms.append("cuDeviceGetCount is 0")
        t = maybe(facts, TorchFacts)
        if (
            t
            and t.build == "cuda"
            and t.device_count == 0
            and drv.gpus
            and not symptoms
            and (
                cvd_hides
                or torch_reports(facts, ErrorKind.CUDA_NO_DEVICE)
            )
        ):
            symptoms.append(f"torch counts 0 CUDA devices while NVML lists {len(drv.gpus)} GPU(s)")
        if not symptoms:
            return

        causes, fixes = [], []
        if cvd is not None and cvd.strip() == "":
            causes.append("CUDA_VISIBLE_DEVICES is set to the empty string, which hides every GPU from CUDA")
            fixes.append(
                "`unset CUDA_VISIBLE_DEVICES` (or set it to the GPUs you want, e.g. `export CUDA_VISIBLE_DEVICES=0`)"
            )
        elif vd is not None and vd.visible_count == 0:
            why = f"the repeated entry {vd.duplicate!r} empties the list" if vd.duplicate else vd.stop_reason
            causes.append(f"CUDA_VISIBLE_DEVICES={cvd!r} selects no GPU ({why}; CUDA stops at the first invalid entry)")
            fixes.append("`unset CUDA_VISIBLE_DEVICES` or set it to existing GPUs (`nvidia-smi -L` lists them)")
        nvd = env.get("NVIDIA_VISIBLE_DEVICES")
        if nvd is not None and nvd.strip().lower() in ("void", "none", ""):
            causes.append(
                f"NVIDIA_VISIBLE_DEVICES={nvd!r}: the NVIDIA container runtime passed no GPU into this container"
            )
            fixes.append("start the container with `--gpus all` (or NVIDIA_VISIBLE_DEVICES=all)")
        elif nvml_zero and in_container(facts):
            causes.append("no GPU device was passed into this container")
            fixes.append("start the container with `docker run --gpus all` (Kubernetes: request `nvidia.com/gpu`)")
        mig_empty = [g for g in drv.gpus if g.mig_enabled is True and not g.mig_devices]
        if drv.gpus and len(mig_empty) == len(drv.gpus):
            causes.append("every GPU has MIG mode enabled but no MIG instance exists")
            fixes.append(
                "create MIG instances (`sudo nvidia-smi mig -i 0 -lgip`, then `sudo nvidia-smi mig -i 0 -cgi <profile> -C`) "
                "or disable MIG (`sudo nvidia-smi -i 0 -mig 0`)"
            )
        if not causes:
            causes.append("no cause is visible in the environment (check device permissions and the compute mode)")
            fixes.append(
                "compare `nvidia-smi -L` with what the job sees; check `ls -l /dev/nvidia*` permissions and "
                "`nvidia-smi -q -d COMPUTE`"
            )
        message = (
            "The NVIDIA driver works but this process sees no GPU: "
            + "; ".join(symptoms)
            + ". Cause: "
            + "; ".join(causes)
            + "."
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.gpus": len(drv.gpus),
                "driver.cu_init_result": drv.cu_init_result,
                "driver.cu_device_count": drv.cu_device_count,
                "env.CUDA_VISIBLE_DEVICES": cvd if cvd is not None else "(unset)",
                "env.NVIDIA_VISIBLE_DEVICES": nvd if nvd is not None else "(unset)",
            },
            fix=sentence("; ".join(dict.fromkeys(fixes))) + ".",
        )


# --------------------------------------------------------------------------------------------
# DRV011


class CudaVisibleDevicesInvalid(Check):
    """CUDA_VISIBLE_DEVICES names GPUs that do not exist, or repeats one.

    ## What it checks
    Parses `CUDA_VISIBLE_DEVICES` the way CUDA does (indices, `GPU-` UUID prefixes, `MIG-` UUIDs)
    against the GPUs NVML lists: indices past the last GPU, UUIDs that match nothing or more
    than one GPU, garbage entries, and repeated devices. A lone negative index (`-1`), the
    documented way to hide GPUs, is not reported here.

    ## Why it matters
    CUDA stops at the first invalid entry and silently ignores everything after it, so a job
    gets fewer GPUs than asked for (or none); a repeated device empties the whole list.

    ## Example
    `CUDA_VISIBLE_DEVICES=0,1,2,3` copied from an 8-GPU node to a 2-GPU container.

    ## Fix
    Set it to devices that exist; UUIDs (`nvidia-smi -L`) are robust against re-numbering.

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables
    - https://github.com/pytorch/pytorch/blob/main/torch/cuda/__init__.py
    """

    code = "DRV011"
    name = "cuda-visible-devices-invalid"
    severity = Severity.ERROR
    requires = frozenset({"driver", "env"})
    fast = True
    explains = ("container-cli-unknown-device", "invalid-ordinal", "refine:no-device-with-visible-devices")
    rank = 40

    def fix(self, ctx: FixContext) -> Remedy:
        """Set CUDA_VISIBLE_DEVICES to devices that exist, before the program starts."""
        value = ctx.group("visible_devices") or ctx.text.visible_devices
        shown = f" (the text sets CUDA_VISIBLE_DEVICES={value!r})" if value is not None else ""
        device = ctx.group("device")
        return Remedy(
            f"List the GPUs with `nvidia-smi -L` and set CUDA_VISIBLE_DEVICES to indices or UUIDs that exist{shown}, "
            "e.g. `export CUDA_VISIBLE_DEVICES=0`, or `unset CUDA_VISIBLE_DEVICES`; set it before the program "
            "starts, and use `cuda:0`..`cuda:N-1` for the N devices it leaves visible.",
            f"The container asked for device {device}." if device else "",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire for entries CUDA rejects (unless it is the deliberate '-1') and for repeats."""
        drv = area(facts, DriverFacts)
        cvd = visible_devices(facts)
        if cvd is None or cvd.strip() == "":
            return
        gpus = gpu_list(drv)
        vd = parse_visible_devices(cvd, gpus)
        if vd.duplicate:
            message = (
                f"CUDA_VISIBLE_DEVICES={cvd!r} names {vd.duplicate!r} twice: a repeated device makes the whole list "
                "invalid, and torch (mirroring CUDA) then sees no GPU at all."
            )
        elif vd.stopped_at is not None and not vd.deliberate_stop:
            kept = ", ".join(tok for tok, _ in vd.selected) or "none"
            ignored = vd.ignored
            message = (
                f"CUDA_VISIBLE_DEVICES={cvd!r}: entry {vd.stopped_at + 1} is invalid — {vd.stop_reason}. CUDA stops at the "
                f"first invalid entry, so only the entries before it are visible ({kept})"
                + (f" and {', '.join(repr(t) for t in ignored)} after it are ignored" if ignored else "")
                + "."
            )
        else:
            return
        valid = ",".join(g.uuid for g in gpus) if gpus else ""
        fix = (
            "Set CUDA_VISIBLE_DEVICES to GPUs that exist (listed by `nvidia-smi -L`), each once"
            + (
                f", e.g. `export CUDA_VISIBLE_DEVICES={','.join(str(g.index) for g in gpus)}` or by UUID: "
                f"`export CUDA_VISIBLE_DEVICES={valid}`"
                if gpus
                else "; this process sees no GPU at all"
            )
            + ". Or `unset CUDA_VISIBLE_DEVICES` to use every GPU."
        )
        yield self.finding(
            message=message,
            evidence={
                "env.CUDA_VISIBLE_DEVICES": cvd,
                "driver.gpus": [f"{g.index}: {g.uuid}" for g in gpus],
                "driver.gpus.mig_devices": [m.uuid for g in gpus for m in g.mig_devices],
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV012


class CudaDeviceOrderMismatch(Check):
    """CUDA_VISIBLE_DEVICES uses indices on a host with mixed GPU models, without PCI_BUS_ID order.

    ## What it checks
    `CUDA_VISIBLE_DEVICES` selects GPUs by integer index, the host has GPUs of more than one
    model, and `CUDA_DEVICE_ORDER` is not `PCI_BUS_ID`.

    ## Why it matters
    CUDA numbers devices FASTEST_FIRST by default, while `nvidia-smi` (and NVML) number them in
    PCI bus order. With identical GPUs the two agree; with mixed models `CUDA_VISIBLE_DEVICES=1`
    can select a different card than `nvidia-smi`'s GPU 1 — e.g. the display card instead of
    the big one.

    ## Example
    A workstation with an RTX 4090 and an RTX 3060: `CUDA_VISIBLE_DEVICES=1` picks the 3060
    under one numbering and the 4090 under the other.

    ## Fix
    `export CUDA_DEVICE_ORDER=PCI_BUS_ID` (so indices match `nvidia-smi`), or select by UUID.

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables
    """

    code = "DRV012"
    name = "cuda-device-order-mismatch"
    severity = Severity.WARNING
    requires = frozenset({"driver", "env"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when indices are used across different GPU models in FASTEST_FIRST order."""
        drv = area(facts, DriverFacts)
        env = env_vars(facts)
        cvd = env.get("CUDA_VISIBLE_DEVICES")
        if cvd is None or cvd.strip() == "":
            return
        order = env.get("CUDA_DEVICE_ORDER", "")
        if order.strip().upper() == "PCI_BUS_ID":
            return
        gpus = gpu_list(drv)
        models = sorted({g.name for g in gpus})
        if len(models) < 2:
            return
        vd = parse_visible_devices(cvd, gpus)
        if not vd.uses_indices:
            return  # NOTE: UUIDs name a physical GPU whatever the numbering.
        listing = "; ".join(f"{g.index}: {g.name} [{g.pci_bus_id}]" for g in gpus)
        message = (
            f"CUDA_VISIBLE_DEVICES={cvd!r} selects GPUs by index on a host with different GPU models ({listing}), and "
            f"CUDA_DEVICE_ORDER is {repr(order) if order else 'unset'}: CUDA then numbers devices FASTEST_FIRST, not "
            "in nvidia-smi's PCI bus order, so an index may select a different GPU than the one nvidia-smi shows."
        )
        indices = selected_indices(vd)
        by_uuid = ",".join(gpus[i].uuid for i in indices if i < len(gpus))
        fix = (
            "`export CUDA_DEVICE_ORDER=PCI_BUS_ID` so CUDA's indices match nvidia-smi's"
            + (
                f"; or select by UUID, which always names the same card: `export CUDA_VISIBLE_DEVICES={by_uuid}` "
                "(the GPUs nvidia-smi numbers " + ",".join(str(i) for i in indices) + ")"
                if by_uuid
                else ""
            )
            + "."
        )
        yield self.finding(
            message=message,
            evidence={
                "env.CUDA_VISIBLE_DEVICES": cvd,
                "env.CUDA_DEVICE_ORDER": order or "(unset)",
                "driver.gpus": [f"{g.index}: {g.name}" for g in gpus],
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV013


class MigInstanceNotSelected(Check):
    """MIG is enabled and the visible devices do not select a MIG instance the way CUDA needs.

    ## What it checks
    GPUs with MIG mode enabled: that MIG instances exist at all, and, when this process can see
    more than one MIG device, that `CUDA_VISIBLE_DEVICES` names exactly one `MIG-<uuid>`.

    ## Why it matters
    A MIG-enabled GPU without instances cannot run any CUDA work. And a CUDA process enumerates
    only one MIG device: with several visible and none selected by UUID, the process gets
    whichever one CUDA picks (several workers land on the same slice); listing several MIG UUIDs
    still gives only the first.

    ## Example
    An A100 split into 7 × 1g.10gb; a job started with `CUDA_VISIBLE_DEVICES=0` or unset.

    ## Fix
    Give each process one MIG device: `export CUDA_VISIBLE_DEVICES=MIG-<uuid>` (`nvidia-smi -L`
    lists them); create instances with `sudo nvidia-smi mig -cgi <profiles> -C`.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/mig-user-guide/index.html#cuda-device-enumeration
    - https://docs.nvidia.com/datacenter/tesla/mig-user-guide/mig-device-names.html
    """

    code = "DRV013"
    name = "mig-instance-not-selected"
    severity = Severity.WARNING
    # NOTE: not "env": MIG mode without instances needs no environment (facts from pasted text
    # often have none); the selection part skips when the environment is unknown.
    requires = frozenset({"driver"})
    fast = True
    explains = ("mig-multi", "mig-one-device", "refine:no-device-with-mig")
    rank = 40

    def fix(self, ctx: FixContext) -> Remedy:
        """Give each process one MIG device by its UUID (create instances when there are none)."""
        return Remedy(
            "List the MIG devices with `nvidia-smi -L` and give each process one: "
            "`export CUDA_VISIBLE_DEVICES=MIG-<uuid>`; if none exist, create them "
            "(`sudo nvidia-smi mig -lgip` for profiles, then `sudo nvidia-smi mig -cgi <profile> -C`).",
            "CUDA enumerates exactly one MIG device per process, selected by its MIG UUID.",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire for MIG GPUs without instances, and for unselected / over-selected MIG devices."""
        drv = area(facts, DriverFacts)
        gpus = gpu_list(drv)
        if gpus and all(isinstance(g.mig_enabled, Unavailable) for g in gpus):
            first = gpus[0].mig_enabled
            raise SkipCheck(f"MIG mode unknown: {first.reason if isinstance(first, Unavailable) else ''}")
        mig_gpus = [g for g in gpus if g.mig_enabled is True]
        if not mig_gpus:
            return
        # NOTE: a pasted nvidia-smi table cut before its "MIG devices:" block says nothing of instances.
        unlisted = [g for g in mig_gpus if not g.mig_devices_listed]
        empty = [g for g in mig_gpus if not g.mig_devices and g.mig_devices_listed]
        if empty:
            usable = [g for g in gpus if g.mig_enabled is not True or g.mig_devices]
            labels = ", ".join(gpu_label(g) for g in empty)
            yield self.finding(
                message=(
                    f"MIG mode is enabled on {labels} but no MIG instance exists there, so CUDA cannot use "
                    + ("it" if len(empty) == 1 else "them")
                    + (" — and no other GPU is usable: raised to an error." if not usable else ".")
                ),
                evidence={f"driver.gpus[{g.index}].mig_enabled": g.mig_enabled for g in empty}
                | {f"driver.gpus[{g.index}].mig_devices": g.mig_devices for g in empty},
                fix=sentence(
                    "; ".join(
                        f"list the profiles with `sudo nvidia-smi mig -i {g.index} -lgip`, then create instances with their "
                        f"compute instances: `sudo nvidia-smi mig -i {g.index} -cgi <profile-id>[,<profile-id>...] -C` "
                        f"(or turn MIG off: `sudo nvidia-smi -i {g.index} -mig 0`)"
                        for g in empty
                    )
                )
                + ".",
                severity=Severity.ERROR if not usable else None,
            )
        devices = [(m, g) for g in mig_gpus for m in g.mig_devices]
        if not empty and len(devices) <= 1 and unlisted:
            raise SkipCheck(
                f"MIG is on for {', '.join(gpu_label(g) for g in unlisted)} but its MIG instances are not in the facts "
                "(the pasted nvidia-smi output stops before its MIG devices block)"
            )
        if maybe(facts, EnvFacts) is None and len(devices) > 1:
            if empty:
                return
            raise SkipCheck("CUDA_VISIBLE_DEVICES unknown (no environment in the facts): which MIG device is selected cannot be told")
        cvd = visible_devices(facts)
        vd = parse_visible_devices(cvd, gpus) if cvd is not None and cvd.strip() else None
        selected = vd.mig_uuids if vd else []
        listing = "; ".join(
            f"`export CUDA_VISIBLE_DEVICES={m.uuid}`"
            + (f" ({m.name}, GPU {g.index})" if isinstance(m.name, str) else f" (GPU {g.index})")
            for m, g in devices
        )
        evidence = {
            "env.CUDA_VISIBLE_DEVICES": cvd if cvd is not None else "(unset)",
            "driver.gpus.mig_devices": [m.uuid for m, _ in devices],
        }
        if len(selected) > 1:
            yield self.finding(
                message=(
                    f"CUDA_VISIBLE_DEVICES={cvd!r} lists {len(selected)} MIG devices, but a CUDA process enumerates only "
                    f"one MIG device: this process uses only {selected[0]} and the others are ignored."
                ),
                evidence=evidence,
                fix=f"Run one process per MIG device, each with one UUID: {listing}.",
            )
        elif not selected and len(devices) > 1:
            how = f"CUDA_VISIBLE_DEVICES={cvd!r} names no MIG device" if cvd else "CUDA_VISIBLE_DEVICES is unset"
            yield self.finding(
                message=(
                    f"MIG is enabled with {len(devices)} MIG devices ("
                    + ", ".join(f"{m.uuid} on GPU {g.index}" for m, g in devices)
                    + f") and {how}: a CUDA process enumerates only one MIG device, so this process gets whichever one "
                    "CUDA picks, not one you chose (parallel workers end up on the same slice)."
                ),
                evidence=evidence,
                fix=f"Give each process exactly one MIG device by UUID: {listing}.",
            )
