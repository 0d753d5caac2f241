"""Known CUDA/PyTorch failure signatures in pasted text: a table of patterns, and the scanner that ranks the hits.

A signature names no finding: each check class declares, in ``explains``, the keys of the
signatures it explains (a matched library or symbol becomes a key such as ``lib:libcudart``, and
the text-wide refinements produce ``refine:...`` keys), and :func:`explainer` asks the classes.

One concern despite its length: most of the file is the pattern table itself (one entry per
wording, each with the upstream source of the string it matches); splitting it would scatter it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cudadoctor import causes
from cudadoctor.causes import decode_cuda_int, decode_cudnn_int  # noqa: F401 - re-exported for the parsers
from cudadoctor.checks.context import TextContext

if TYPE_CHECKING:
    from cudadoctor.checks.base import Check

# NOTE: every pattern below is written from the exact strings the libraries print; the source
# of each string is named next to it so a change upstream can be traced:
# - torch:   torch/cuda/__init__.py, torch/backends/cudnn/__init__.py, torch/utils/cpp_extension.py,
#            c10/cuda/CUDAFunctions.cpp, torch/utils/data/_utils/signal_handling.py
# - CUDA:    cudaError_t / CUresult names and cudaGetErrorString texts
#            (https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__TYPES.html)
# - NVML / nvidia-smi, the kernel module (NVRM lines in dmesg), nvidia-container-cli, NCCL.

#: A log repeating one error thousands of times says nothing more after the first ones.
MAX_HITS_PER_SIGNATURE = 50

#: Lines of context searched either side of a hit for a signature's ``context`` pattern.
CONTEXT_LINES = 4


@dataclass(frozen=True, slots=True)
class Signature:
    """One recognisable failure text and the finding name it points to."""

    key: str  #: stable id of the pattern, e.g. "torch-driver-too-old" (what check classes' ``explains`` name)
    pattern: re.Pattern[str]  #: named groups become evidence
    meaning: str  #: one clause: what the text says happened
    rank: int  #: lower is closer to the root cause (10 driver .. 50 symptom)
    confidence: str = "high"  #: "high", "medium" or "low"
    #: must also occur within CONTEXT_LINES lines of the hit (e.g. /dev/shm near "No space left")
    context: re.Pattern[str] | None = None
    #: the hit's line must not match this (known look-alikes)
    exclude: re.Pattern[str] | None = None
    severity: str = ""  #: overrides the check's default severity ("" keeps it)
    #: literal strings one of which every match contains: the regex only runs on lines near them,
    #: which keeps an 8 MiB input fast (Python's re has no fast skip for patterns like these)
    needles: tuple[str, ...] = ()
    #: "" (the key decides), LIBRARY (the soname the text names decides: ``lib:<family>``) or
    #: SYMBOL (the library an undefined symbol is missing from decides: ``symbol:<kind>``)
    decides: str = ""
    #: a symptom no check explains alone: it becomes a finding only when a text-wide rule in
    #: :func:`_refine` names its cause (CUDA_VISIBLE_DEVICES set, MIG enabled), else it is dropped
    refine_only: bool = False
    #: the hit may sit on a line of source code (a traceback/warnings echo of the library's own source)
    code_ok: bool = False


#: Signature.decides values
LIBRARY, SYMBOL = "library", "symbol"


def _re(text: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(text, flags)


_SO = r"lib[A-Za-z0-9_+\-]+\.so(?:\.\d+)*"

#: The signature table, most specific first within a name. Order does not decide rank.
SIGNATURES: tuple[Signature, ...] = (
    # ------------------------------------------------------------------ driver missing / broken
    Signature(
        "torch-no-driver",
        _re(r"Found no NVIDIA driver on your system"),
        "torch found no NVIDIA driver", 10,
        needles=('Found no NVIDIA driver',),
    ),
    Signature(
        "nvml-not-found",
        _re(r"NVML Shared Library Not Found"),
        "the NVML library (part of the driver) is not installed", 10,
        needles=('NVML Shared Library',),
    ),
    Signature(
        # nvidia-smi when the kernel module is not loaded (user space present, module absent)
        "smi-no-driver",
        _re(r"NVIDIA-SMI has failed because it couldn'?t communicate with the NVIDIA driver"),
        "nvidia-smi is installed but cannot reach the NVIDIA kernel module", 10,
        needles=('NVIDIA-SMI has failed',),
    ),
    Signature(
        "container-cli-driver-not-loaded",
        _re(r"nvidia-container-cli: initialization error: nvml error: driver not loaded"),
        "the container runtime found the driver libraries but no loaded kernel module", 10,
        needles=('nvml error: driver not loaded',),
    ),
    Signature(
        "smi-not-found",
        _re(r"nvidia-smi: (?:command )?not found|No such file or directory: '?nvidia-smi'?"),
        "nvidia-smi is not installed (no driver user space on the PATH)", 12, confidence="low",
        needles=('nvidia-smi',),
    ),
    Signature(
        "docker-no-gpu-driver",
        # NOTE: "" from `docker run --gpus`, "nvidia" from compose's `driver: nvidia`: no such driver registered
        _re(r"could not select device driver \"[\w-]*\" with capabilities: \[\[gpu\]\]"),
        "Docker has no GPU device driver: the NVIDIA Container Toolkit is not installed/configured", 10,
        needles=('could not select device driver',),
    ),
    Signature(
        "container-cli-unknown-device",
        _re(r"nvidia-container-cli: device error: (?P<device>[^:\s]+): unknown device"),
        "the container asked for a GPU the host does not have", 40,
        needles=('unknown device',),
    ),
    Signature(
        "nvml-mismatch",
        _re(r"Failed to initialize NVML: Driver/library version mismatch"),
        "NVML reports that the kernel module and the driver libraries differ", 10,
        needles=('Driver/library version mismatch',),
    ),
    Signature(
        "nvrm-api-mismatch",
        _re(
            r"API mismatch: the client has the version (?P<client_version>\d+\.\d+(?:\.\d+)?), but\s+"
            r"(?:NVRM: )?this kernel module has the version (?P<kernel_version>\d+\.\d+(?:\.\d+)?)"
        ),
        "the kernel log shows a user-space/kernel-module version mismatch", 10,
        needles=('API mismatch',),
    ),
    Signature(
        "cuda-803",
        _re(
            r"system has unsupported display driver / cuda driver combination"
            r"|cudaErrorSystemDriverMismatch|CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"
        ),
        "CUDA error 803: the display driver and the CUDA driver differ", 10,
        needles=('unsupported display driver', 'SystemDriverMismatch', 'SYSTEM_DRIVER_MISMATCH'),
    ),
    Signature(
        "nvml-unknown",
        _re(r"Failed to initialize NVML: Unknown Error"),
        "NVML answers 'Unknown Error' (device access revoked, typically in a container)", 15,
        needles=('NVML: Unknown Error',),
    ),
    # ------------------------------------------------------------------ GPU hardware / platform state
    Signature(
        "cuda-802",
        _re(
            r"system not yet initialized|cudaErrorSystemNotReady|CUDA_ERROR_SYSTEM_NOT_READY"
            r"|\b(?:Error|returned) 802\b|\b802 system error\b|\bfails? with (?:error )?802\b"
        ),
        "CUDA error 802: the NVSwitch fabric is not initialised", 15,
        needles=('not yet initialized', 'SystemNotReady', 'SYSTEM_NOT_READY', 'Error 802', 'returned 802', '802'),
    ),
    Signature(
        "cuda-804",
        _re(
            r"forward compatibility was attempted on non supported HW|cudaErrorCompatNotSupportedOnDevice"
            r"|CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE|\b(?:Error|returned) 804\b"
        ),
        "CUDA error 804: a forward-compatibility libcuda runs on a GPU that does not support it", 15,
        needles=('forward compatibility was attempted', 'CompatNotSupported', 'COMPAT_NOT_SUPPORTED', 'Error 804', 'returned 804'),
    ),
    Signature(
        "cuda-ecc",
        _re(r"uncorrectable ECC error encountered|cudaErrorECCUncorrectable|CUDA_ERROR_ECC_UNCORRECTABLE"),
        "CUDA reports an uncorrectable ECC error", 15,
        needles=('ECC error', 'ECCUncorrectable', 'ECC_UNCORRECTABLE'),
    ),
    Signature(
        # NOTE: Xid 48 (DBE), 63/64 (page retirement / row remap), 92 (high SBE rate),
        # 94/95 (contained/uncontained ECC) — https://docs.nvidia.com/deploy/xid-errors/index.html
        "xid-ecc",
        _re(r"NVRM: Xid \((?P<pci>[^)]*)\): (?P<xid>48|63|64|92|94|95)\b"),
        "the kernel log shows an ECC Xid", 15,
        needles=('Xid',),
    ),
    Signature(
        "xid-79",
        # NOTE: the kernel's own wording wraps: "NVRM: The NVIDIA GPU ... has\n NVRM: fallen off the bus"
        _re(r"NVRM: Xid \((?P<pci>[^)]*)\): 79\b|GPU has fallen off (?:of )?the bus|\bfallen off the bus and is not responding"),
        "the GPU fell off the PCIe bus (Xid 79)", 12,
        needles=('Xid', 'fallen off'),
    ),
    # ------------------------------------------------------------------ driver too old
    Signature(
        # people saying so: "my Nvidia driver is not supported for the pytorch-gpu version", "the driver is outdated"
        "driver-old-prose",
        _re(r"\bdriver\s+(?:version\s+)?(?:is|was)\s+(?:too old|outdated|not supported (?:for|by))\b", re.I),
        "the text says the NVIDIA driver is too old for the torch build", 20, confidence="low",
        context=_re(r"torch|cuda", re.I),
        needles=('driver', 'Driver'),
    ),
    Signature(
        "torch-driver-too-old",
        # NOTE: torch/csrc/cuda/Module.cpp and c10/cuda: "The NVIDIA driver on your system is too old
        # (found version 11040)"; older releases and truncated pastes end before the parenthesis.
        _re(r"NVIDIA driver on your system is too old(?:\s*\(found version (?P<found_version>\d{4,6})\))?"),
        "torch reports the driver as too old for its CUDA build", 20,
        needles=('driver on your system is too old',),
    ),
    Signature(
        "container-cli-requirement",
        _re(
            r"nvidia-container-cli: requirement error: unsatisfied condition: cuda\s*>=\s*(?P<required_cuda>\d+\.\d+)"
        ),
        "the container's CUDA needs a newer host driver", 20,
        needles=('requirement error',),
    ),
    Signature(
        "cuda-35",
        _re(
            r"CUDA driver version is insufficient for CUDA runtime version|cudaErrorInsufficientDriver"
            r"|CUDA_ERROR_INSUFFICIENT_DRIVER|cudaGetDeviceCount(?:\(\))? returned 35\b|CUDA error (?:code )?35\b"
        ),
        "CUDA error 35: the driver is older than the CUDA runtime", 20,
        needles=('insufficient for CUDA runtime', 'InsufficientDriver', 'INSUFFICIENT_DRIVER', 'returned 35', 'CUDA error 35', 'CUDA error code 35'),
    ),
    Signature(
        "ptx-toolchain",
        _re(r"the provided PTX was compiled with an unsupported toolchain|cudaErrorUnsupportedPtxVersion"),
        "the driver's PTX JIT is older than the CUDA that produced the PTX", 22, confidence="medium",
        needles=('unsupported toolchain', 'UnsupportedPtxVersion'),
    ),
    Signature(
        "cuda-stub",
        _re(r"CUDA driver is a stub library|cudaErrorStubLibrary|CUDA_ERROR_STUB_LIBRARY"),
        "CUDA error 34: the toolkit's stub libcuda.so was loaded instead of the driver's", 18,
        needles=('stub library', 'StubLibrary', 'STUB_LIBRARY'),
    ),
    # ------------------------------------------------------------------ libraries (soname decides the name)
    Signature(
        "cannot-open-so",
        causes.CANNOT_OPEN,
        "a shared library cannot be found by the dynamic loader", 25,
        needles=('cannot open shared object file',),
        decides=LIBRARY,
    ),
    Signature(
        "tf-dlopen",
        _re(rf"Could not load dynamic library '(?P<soname>{_SO})'"),
        "a shared library cannot be found by the dynamic loader", 25,
        needles=('Could not load dynamic library',),
        decides=LIBRARY,
    ),
    Signature(
        # torch/__init__.py _preload_cuda_deps
        "torch-preload",
        causes.NOT_IN_PATH,
        "torch cannot find a CUDA library from its pip wheels", 25,
        needles=('not found in the system path',),
        decides=LIBRARY,
    ),
    Signature(
        # ldd output: "\tlibcudart.so.12 => not found"
        "ldd-not-found",
        _re(rf"^\s*(?P<soname>{_SO}) => not found", re.M),
        "ldd shows a needed library the loader cannot find", 25,
        needles=("=> not found",),
        decides=LIBRARY,
    ),
    Signature(
        "cudnn-load",
        _re(
            r"Could not load library (?P<soname>libcudnn\w*\.so(?:\.\d+)*)"
            r"|Unable to load any of \{(?P<candidates>libcudnn[^}]*)\}"
            r"|Invalid handle\. Cannot load symbol cudnn\w+"
        ),
        "cuDNN cannot be loaded", 25,
        needles=('Could not load library', 'Unable to load any of', 'Cannot load symbol'),
    ),
    Signature(
        "undefined-symbol",
        _re(
            rf"(?P<library>[\w./+\-]*?{_SO}): undefined symbol: (?P<symbol>[^\s,]+)"
            rf"(?:, version (?P<version_library>lib[\w+\-.]+))?"
        ),
        "a shared library misses a symbol another copy/version provides", 25,
        needles=('undefined symbol',),
        decides=SYMBOL,
    ),
    Signature(
        "cudnn-incompat",
        _re(
            r"cuDNN version incompatibility:\s*PyTorch was compiled\s+against\s+\((?P<compiled>\d+,\s*\d+,\s*\d+)\)\s+"
            r"but\s+(?:found\s+runtime\s+version|linked\s+against)\s+\((?P<runtime>\d+,\s*\d+,\s*\d+)\)"
        ),
        "the cuDNN that loads is not the one torch was built for", 25,
        needles=('cuDNN version incompatibility',),
    ),
    Signature(
        "cudnn-mismatch-int",
        _re(r"cuDNN version mismatch: PyTorch was compiled against (?P<compiled>\d{4,5}) but linked against (?P<runtime>\d{4,5})"),
        "the cuDNN that loads is not the one torch was built for", 25,
        needles=('cuDNN version mismatch',),
    ),
    Signature(
        "torchvision-op",
        # NOTE: older torch words it "No such operator torchvision::nms"
        _re(r"operator (?P<operator>torchvision::\w+) does not exist|No such operator (?P<operator2>torchvision::\w+)"),
        "torchvision's compiled operators do not load into this torch", 25,
        needles=('torchvision::',),
    ),
    Signature(
        "torchvision-ops",
        _re(r"Couldn't load custom C\+\+ ops\. This can happen if your PyTorch and torchvision versions are incompatible"),
        "torchvision's compiled operators do not load into this torch", 25,
        needles=('load custom C++ ops',),
    ),
    Signature(
        "torchvision-cuda-major",
        _re(
            r"PyTorch and torchvision were compiled with different CUDA (?:major )?versions\.\s*PyTorch has CUDA "
            r"Version=(?P<torch_cuda>\d+\.\d+) and torchvision has CUDA Version=(?P<torchvision_cuda>\d+\.\d+)"
        ),
        "torch and torchvision come from different CUDA variants", 25,
        needles=('different CUDA',),
    ),
    Signature(
        # torch/__init__.py importing its compiled core: a source checkout (a torch/ folder in the working
        # directory) shadows the installed package, or the install is half removed
        "torch-c-missing",
        _re(r"No module named ['\"]?torch\._C\b|No module named ['\"]?_C['\"]?\s*$", re.M),
        "torch's compiled core torch._C cannot be imported", 25,
        context=_re(r"torch"),
        needles=('No module named',),
    ),
    Signature(
        "torch-missing",
        # NOTE: Python 2 prints the name unquoted; people write "import torch ... says No module"
        _re(r"No module named ['\"]?torch['\"]?(?![\w.])|\bimport torch\b[^\n]{0,40}?\bNo module\b(?! named)"),
        "the interpreter has no torch", 25,
        needles=('No module',),
    ),
    # ------------------------------------------------------------------ the build vs. the GPU
    Signature(
        "torch-cpu",
        _re(r"Torch not compiled with CUDA enabled"),
        "this torch is a CPU-only build", 30,
        needles=('Torch not compiled',),
    ),
    Signature(
        # a stated CPU build: a collect-style "built with CUDA: False", torch.version.cuda None, a +cpu wheel
        # version, a conda CPU build string (pytorch-1.9.0-py3.8_cpu_0)
        "torch-cpu-stated",
        _re(
            r"PyTorch built with CUDA:?\s*False\b|torch\.version\.cuda\W{0,6}(?:is\s+|=+\s*|->\s*|\n\s*)?None\b"
            r"|(?<![\w.])\d+\.\d+\.\d+\+cpu\b(?!-)|\bpy3\.?\d{1,2}_cpu_\d+\b"
        ),
        "the torch in use is a CPU-only build", 30,
        needles=('built with CUDA', 'torch.version.cuda', '+cpu', '_cpu_'),
    ),
    Signature(
        # people saying the installer gave them the CPU build ("installs cpu version", "CPU only mode")
        "torch-cpu-prose",
        _re(
            r"\binstall(?:s|ed|ing)?\s+(?:the\s+|a\s+)?cpu(?:[- ]only)?\s+(?:version|build|variant|package)"
            r"|\bCPU[- ]only (?:mode|version|build)\b",
            re.I,
        ),
        # NOTE: low: "run in CPU-only mode" can be a wish, not a report; a warning, never an error
        "torch was installed as a CPU-only build", 30, confidence="low",
        context=_re(r"torch|conda|cuda", re.I),
        needles=('cpu', 'CPU', 'Cpu'),
    ),
    Signature(
        # THC/cuBLAS: CUBLAS_STATUS_EXECUTION_FAILED — with a build too old for the GPU, cuBLAS has no kernel
        # for its architecture (Turing/Ampere under CUDA 9/10 builds); check.contradicted vetoes it when the
        # text's facts show the GPU is covered.
        "cublas-exec-failed",
        _re(r"cublas runtime error : the GPU program failed to execute|CUBLAS_STATUS_EXECUTION_FAILED"),
        "cuBLAS could not run its kernel on this GPU", 30, confidence="medium",
        needles=('the GPU program failed to execute', 'CUBLAS_STATUS_EXECUTION_FAILED'),
    ),
    Signature(
        # people saying a torch release dropped their GPU ("no longer supports GTX 780")
        "gpu-dropped-prose",
        _re(
            r"\bno longer support(?:s|ing|ed)?\b|\bnicht mehr\b[^\n]{0,40}\bunterst|\bKeine Unterst\w+ mehr\b"
            # NOTE: not "the GPU does not support X": a GPU lacking a feature (bf16, FP8) is not a build problem
            r"|不再支持",
            re.I,
        ),
        "the text says the torch release no longer supports the GPU", 30, confidence="low",
        context=_re(r"\b(?:GTX|RTX|Tesla|Quadro|Titan)\s?\d|\bK\d0m?\b|\b\d{4}\s*(?:graphics|GPU|card)|显卡|Grafikkarte", re.I),
        needles=('no longer support', 'nicht mehr', 'Keine Unterst', '不再支持'),
    ),
    Signature(
        "no-kernel-image",
        # NOTE: titles and truncated pastes cut the message after "available"
        _re(r"no kernel image is available(?: for execution on the device)?|cudaErrorNoKernelImageForDevice|CUDA_ERROR_NO_BINARY_FOR_GPU"),
        "the GPU's architecture has no compiled kernels in the build", 30,
        needles=('no kernel image', 'NoKernelImage', 'NO_BINARY_FOR_GPU'),
    ),
    Signature(
        "sm-not-compatible",
        _re(
            # NOTE: pastes cut the long warning anywhere after "the current PyTorch"
            r"^(?P<gpu_name>[^\n]*?)\s*with CUDA capability sm_(?P<sm>\d{2,3})\s+is not compatible with the current\s+"
            r"PyTorch",
            re.M,
        ),
        "torch warns the GPU's capability is not in its build", 30,
        needles=('is not compatible with the current',),
    ),
    Signature(
        # Python's warnings module prints the source line after the warning: torch/cuda/__init__.py's
        # incompatible-device warning fired even when the paste lost its message
        "incompatible-device-warn-source",
        _re(r"^\s*warnings\.warn\(incompatible_device_warn\b", re.M),
        "torch warned that a GPU's capability is not in its build (its warning's source line)", 30,
        needles=('incompatible_device_warn',),
        code_ok=True,
    ),
    Signature(
        # NCCL's init log: the lowest compute capability among the ranks' GPUs
        "nccl-min-comp-cap",
        _re(r"NCCL INFO [^\n]*\bMin Comp Cap (?P<min_cc>\d+)\b"),
        "NCCL runs on GPUs of this compute capability", 35, confidence="medium",
        needles=('Min Comp Cap',),
    ),
    Signature(
        "sm-supported-list",
        _re(r"The current PyTorch install supports CUDA capabilities (?P<supported>(?:(?:sm|compute)_\d+[af]?\s*)+)"),
        "torch lists the capabilities it was built for", 30,
        needles=('supports CUDA capabilities',),
    ),
    Signature(
        "cc-unsupported",
        _re(
            r"Found GPU(?P<gpu_index>\d+) (?P<gpu_name>[^\n]+?) which (?:is of|requires) (?:cuda |compute )?capability "
            r"(?:\(CC\) )?(?P<cc>\d+\.\d+)"
        ),
        "torch warns the GPU's compute capability is not supported by this build", 30,
        needles=('Found GPU',),
    ),
    Signature(
        "nvcc-mismatch",
        _re(
            r"The detected CUDA version \((?P<detected_cuda>\d+\.\d+)\) mismatches the version that was used to "
            r"compile\s*PyTorch \((?P<torch_cuda>\d+\.\d+)\)"
        ),
        "building an extension found a CUDA toolkit of another major than torch's", 30,
        needles=('The detected CUDA version',),
    ),
    Signature(
        "nvcc-minor",
        _re(
            r"The detected CUDA version \((?P<detected_cuda>\d+\.\d+)\) has a minor version mismatch with the "
            r"version that was used to compile PyTorch \((?P<torch_cuda>\d+\.\d+)\)"
        ),
        "the CUDA toolkit differs from torch's CUDA in the minor version only", 32, severity="info",
        needles=('The detected CUDA version',),
    ),
    Signature(
        # NVIDIA/apex setup.py check_cuda_torch_binary_vs_bare_metal
        "apex-cuda-mismatch",
        _re(
            r"[Cc]uda extensions are being compiled with a version of Cuda that does not match the version used to "
            r"compile Pytorch binaries\.?(?:\s+Pytorch binaries were compiled with Cuda (?P<torch_cuda>\d+\.\d+))?"
        ),
        "apex refuses to build: the CUDA toolkit differs from torch's CUDA", 30,
        needles=('uda extensions are being compiled',),
    ),
    Signature(
        # deepspeed/ops/op_builder/builder.py assert_no_cuda_mismatch (DeepSpeed Op Builder)
        "deepspeed-cuda-mismatch",
        _re(
            r"Installed CUDA version (?P<detected_cuda>\d+\.\d+) does not match (?:the version torch was compiled "
            r"with (?P<torch_cuda>\d+\.\d+)|torch version)"
        ),
        "DeepSpeed's op builder found a CUDA toolkit other than torch's CUDA", 30,
        needles=('Installed CUDA version',),
    ),
    Signature(
        "gcc-unsupported",
        _re(r"unsupported GNU version! gcc versions later than (?P<max_gcc>\d+) are not supported"),
        "nvcc refuses the host gcc as too new", 30,
        needles=('unsupported GNU version',),
    ),
    Signature(
        "clang-unsupported",
        _re(r"unsupported clang version! clang version must be less than (?P<max_clang>\d+)"),
        "nvcc refuses the host clang as too new", 30,
        needles=('unsupported clang version',),
    ),
    # ------------------------------------------------------------------ device selection
    Signature(
        "invalid-ordinal",
        _re(r"invalid device ordinal|cudaErrorInvalidDevice\b|CUDA_ERROR_INVALID_DEVICE\b|AssertionError: Invalid device id"),
        "a device index beyond the visible GPUs was used", 40, confidence="medium",
        needles=('invalid device ordinal', 'InvalidDevice', 'INVALID_DEVICE', 'Invalid device id'),
    ),
    Signature(
        "mig-multi",
        _re(r"CUDA_VISIBLE_DEVICES\s*=\s*['\"]?(?P<visible>MIG-[\w/-]+\s*,\s*MIG-[\w/,\s-]+)"),
        "several MIG instances are listed, but CUDA enumerates only one per process", 40,
        needles=('CUDA_VISIBLE_DEVICES',),
    ),
    Signature(
        # NOTE: people describe the MIG limit in prose: one CUDA process enumerates one MIG device,
        # so torch counts one "GPU" on a MIG-partitioned card (the MIG user guide, CUDA device enumeration).
        "mig-one-device",
        _re(r"\b(?:only|just)\s+(?:one|1|a single)\s+(?:GPU|device|instance)s?\b", re.I),
        "torch enumerates only one device on a MIG-partitioned GPU", 40, confidence="medium",
        context=_re(r"\bMIG\b"),
        exclude=_re(r"\bMIG\s*(?:mode\s*)?(?:is\s*|was\s*)?(?:disabled|off)\b", re.I),
        needles=('only', 'just', 'Only', 'Just'),
    ),
    Signature(
        # c10/cuda/CUDAFunctions / CUDAContext.cpp: torch's device count (NVML-based when asked) and CUDA's
        # disagree. With MIG enabled that is the MIG enumeration limit; otherwise it names no cause.
        "num-gpus-assert",
        _re(r"device >= 0 && device < num_gpus INTERNAL ASSERT FAILED"),
        "torch's device count and CUDA's disagree (the device index assert)", 40,
        needles=('device < num_gpus',),
        refine_only=True,
    ),
    Signature(
        # torch.cuda.is_available() answering False: a symptom; CUDA_VISIBLE_DEVICES or MIG in the same
        # text names the cause (see _refine), nothing else here does.
        "cuda-unavailable",
        _re(
            r"is_available\(\)[^\n]{0,60}?\b(?:False|false)\b"
            r"|\b(?:returns?|returned|gives?|gave|prints?|printed|shows?|is|was)\s+[`'\"]?[Ff]alse\b",
        ),
        "torch.cuda.is_available() answers False", 50, confidence="medium",
        context=_re(r"is_available"),
        needles=('False', 'false'),
        refine_only=True,
    ),
    Signature(
        # people saying the launcher variables were already in the environment ("... if RANK or WORLD_SIZE is set
        # in env variable"): env:// rendezvous reads them, so a non-launcher run waits for peers
        "dist-env-set-prose",
        _re(
            r"\b(?:RANK|WORLD_SIZE|LOCAL_RANK|NODE_RANK|MASTER_ADDR)\b(?:\s*(?:,|or|and|/)\s*\b[A-Z_]{4,12}\b)*\s+"
            r"(?:is|are|was|were)\s+(?:already\s+)?(?:set|exported|defined|present)\b[^\n]{0,30}?\b(?:env|environment)"
        ),
        "distributed-launch variables are already set in the environment", 40, confidence="medium",
        needles=('RANK', 'WORLD_SIZE', 'MASTER_ADDR'),
    ),
    # ------------------------------------------------------------------ pip cannot find a torch wheel
    Signature(
        # pip's resolver: no torch distribution matches this interpreter/platform (a Python newer or older
        # than the release's wheels, or a 32-bit Python); "from versions:" lists what the index has for it.
        "pip-no-torch-wheel",
        _re(
            r"(?:Could not find a version that satisfies the requirement|No matching distribution found for)\s+"
            r"torch(?:\s*(?:==|~=|>=|<=)\s*(?P<wanted>\d+(?:\.\d+)*(?:\+\w+)?))?(?![\w\-.\[])"
            r"(?:[^\n]*?\(from versions: (?P<offered>[^)\n]*)\))?"
        ),
        "pip finds no torch wheel for this interpreter", 24, confidence="medium",
        needles=('Could not find a version that satisfies', 'No matching distribution found'),
    ),
    # ------------------------------------------------------------------ data loading / shared memory
    Signature(
        "dataloader-bus-error",
        _re(
            r"DataLoader worker \(pid (?P<pid>\d+)\) is killed by signal: Bus error"
            r"|[Uu]nexpected bus error encountered in worker"
            r"|insufficient shared memory \(shm\)"
        ),
        "a DataLoader worker died of a bus error: /dev/shm ran out", 40,
        needles=('Bus error', 'bus error', 'insufficient shared memory'),
    ),
    Signature(
        "torch-shm-write",
        _re(r"unable to (?:write to|open shared memory object) (?:file )?</torch_\d+[_\d]*>"),
        "torch could not create a shared-memory tensor in /dev/shm", 40,
        exclude=_re(r"Too many open files"),
        needles=('</torch_',),
    ),
    Signature(
        "nccl-shm",
        _re(r"NCCL WARN (?:Error: failed to extend|Error while creating shared memory segment|unable to allocate shared memory)[^\n]*?(?P<path>/dev/shm/\S+)?(?: to (?P<bytes>\d+) bytes)?"),
        "NCCL could not create its shared-memory segment in /dev/shm", 38,
        needles=('NCCL WARN',),
    ),
    Signature(
        "no-space-shm",
        _re(r"No space left on device"),
        "writing to /dev/shm failed: it is full", 40,
        context=_re(r"/dev/shm|shared memory|\bshm\b|</torch_"),
        needles=('No space left on device',),
    ),
    Signature(
        "dataloader-exited",
        _re(r"DataLoader worker \(pid\(?s?\)? ?(?P<pid>[\d, ]+)\) exited unexpectedly"),
        "a DataLoader worker died; too small a /dev/shm is the most common cause", 45, confidence="low",
        needles=('exited unexpectedly',),
    ),
    Signature(
        "dataloader-killed",
        _re(r"DataLoader worker \(pid (?P<pid>\d+)\) is killed by signal: Killed"),
        "the kernel's OOM killer ended a DataLoader worker (host/container memory ran out)", 40, confidence="medium",
        needles=('killed by signal: Killed',),
    ),
    # ------------------------------------------------------------------ symptoms (ranked last)
    Signature(
        "no-cuda-gpus",
        _re(r"No CUDA GPUs are available"),
        "torch sees zero CUDA devices", 50,
        needles=('No CUDA GPUs',),
    ),
    Signature(
        "cuda-100",
        _re(
            r"no CUDA-capable device is detected|cudaErrorNoDevice|CUDA_ERROR_NO_DEVICE"
            r"|cudaGetDeviceCount(?:\(\))? returned 100\b|\bError 100:"
        ),
        "CUDA error 100: no CUDA device is visible", 50,
        needles=('no CUDA-capable device', 'cudaErrorNoDevice', 'CUDA_ERROR_NO_DEVICE', 'returned 100', 'Error 100:'),
    ),
    Signature(
        "cuda-999",
        _re(
            r"(?i:CUDA error: unknown error)|CUDA unknown error|cudaErrorUnknown|CUDA_ERROR_UNKNOWN"
            r"|\bError 999\b|returned 999\b"
            # NOTE: torch < 1.5 (THC) printed the runtime's own code: 30 was cudaErrorUnknown before CUDA 10.1
            r"|cuda runtime error \((?:30|999)\) : unknown error|error=(?:30|999) : unknown error"
            # NCCL relaying the CUDA call that failed: "Cuda failure 999 'unknown error'"
            r"|Cuda failure 999\b"
        ),
        "CUDA error 999: CUDA initialisation failed with an unknown error", 45,
        needles=('unknown error', 'CUDA unknown error', 'cudaErrorUnknown', 'CUDA_ERROR_UNKNOWN', 'Error 999', 'returned 999', 'failure 999'),
    ),
    Signature(
        "cuda-oom",
        _re(
            r"CUDA out of memory(?:\.\s*Tried to allocate (?P<tried>[\d.]+ [KMGT]i?B)"
            r"(?:[^\n]*?(?:\(GPU (?P<gpu>\d+); (?P<total>[\d.]+ [KMGT]i?B) total capacity"
            r"|GPU (?P<gpu2>\d+) has a total capacity of (?P<total2>[\d.]+ [KMGT]i?B) of which (?P<free>[\d.]+ [KMGT]i?B) is free))?)?"
            r"|CUDA error: out of memory|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY"
        ),
        "a CUDA allocation failed: the GPU is out of memory", 48,
        needles=('out of memory', 'MemoryAllocation', 'OUT_OF_MEMORY'),
    ),
    Signature(
        "oom-other-process",
        _re(r"Process (?P<pid>\d+) has (?P<used>[\d.]+ [KMGT]i?B) memory in use"),
        "another process holds GPU memory", 46,
        needles=('memory in use',),
    ),
    Signature(
        "nccl-error",
        _re(
            r"NCCL error in: (?P<where>\S+?),? (?P<what>[^\n,]+)"
            r"|\bnccl(?P<kind>UnhandledCuda|System|Internal|InvalidArgument|InvalidUsage|Remote)Error\b"
            r"|NCCL communicator was aborted"
            # "RuntimeError: NCCL Error 1: unhandled cuda error" (older torch) and a report's own "NCCL error when ..."
            r"|\bNCCL [Ee]rror\b(?! in:)"
        ),
        "an NCCL collective failed", 48,
        needles=('NCCL error', 'NCCL Error', 'ncclUnhandled', 'ncclSystem', 'ncclInternal', 'ncclInvalid', 'ncclRemote', 'communicator was aborted'),
    ),
    Signature(
        "nccl-timeout",
        _re(r"Watchdog caught collective operation timeout: (?P<work>WorkNCCL\([^)]*\))"),
        "an NCCL collective timed out", 48,
        needles=('Watchdog caught',),
    ),
    Signature(
        "nccl-warn",
        _re(r"NCCL WARN (?P<warning>[^\n]+)"),
        "NCCL printed a warning", 49, confidence="low", severity="warning",
        needles=('NCCL WARN',),
    ),
)

# --------------------------------------------------------------------------------------------
# Soname -> library key (for the LIBRARY signatures): first matching family wins.

#: (family regex on the soname, explains key, rank) — libcuda is the driver, libcudart the runtime, ...
LIBRARY_KEYS: tuple[tuple[re.Pattern[str], str, int], ...] = (
    (_re(r"^libcuda\.so"), "lib:libcuda", 10),
    (_re(r"^libnvidia-ml\.so"), "lib:libnvidia-ml", 10),
    (_re(r"^libcudart\.so"), "lib:libcudart", 22),
    (_re(r"^libcudnn\w*\.so"), "lib:libcudnn", 24),
    # NOTE: any other CUDA library missing at import: torch's own wheels/RPATH are incomplete.
    (
        _re(
            r"^lib(?:cublas|cublasLt|nvJitLink|cusparse|cusparseLt|cufft|curand|cusolver|nvrtc|cupti|nccl"
            # NOTE: libtorch_cuda_cu/_cpp existed only in torch 1.10-1.12's split build: missing, it is an extension
            # built against those releases looking for it under another torch, not a broken torch install.
            r"|nvToolsExt|cufile|nvshmem_host|torch(?!_cuda_c(?:u|pp)\b)\w*|c10\w*|shm)\.so"
        ),
        "lib:cuda-other", 26,
    ),
)

_CUDA_FAMILY = _re(
    r"^lib(?:cudart|cublas|cublasLt|nvJitLink|cusparse|cusparseLt|cufft|curand|cusolver|nvrtc|cupti|nccl"
    r"|nvToolsExt|cufile|nvshmem_host|cudnn\w*)$"
)
_COMPANION_LIB = _re(r"(?:^|/)(?:torchvision|torchaudio|torchtext)/|libtorchaudio|libtorchvision|torchvision\W*_C")
_TORCH_OWN_LIB = _re(r"(?:^|/)torch/(?:lib/|_C)|libtorch|libc10")

# --------------------------------------------------------------------------------------------
# Text-wide context used by the refinement rules

_WSL = _re(r"microsoft-standard-WSL2|/usr/lib/wsl/lib|\bWSL2?\b|Windows Subsystem for Linux")
_SMI_DRIVER = _re(r"Driver Version:\s*(?P<driver>\d+\.\d+(?:\.\d+)?)")
_MIG_ON = _re(
    r"MIG M\.\s*\|[^\n]*\bEnabled\b|\bMIG mode\b[^\n]*\bEnabled\b|\bMIG-[0-9a-f]{8}-|\bMIG[- ][0-9]g\.\d+gb\b|MIG devices:"
    # NOTE: nvidia-smi's GPU block: the "MIG M." column is the last cell of each GPU's third row.
    r"|^\s*\|[^|\n]*\|[^|\n]*\|\s*Enabled\s*\|\s*$",
    re.M,
)
# NOTE: shell (`CUDA_VISIBLE_DEVICES=1`), Python (`os.environ["CUDA_VISIBLE_DEVICES"] = '1'`, setdefault) and YAML.
_VISIBLE = _re(r"CUDA_VISIBLE_DEVICES['\"]?\]?\s*(?:[=:,]|\+?=)\s*['\"]?(?P<value>[^'\"\s,)]*)")
_TORCH_NEEDLES = ("/torch/", "\\torch\\", "/triton/", "Triton Error", "torch.cuda", "import torch", "PyTorch")
_CU_TAG = _re(r"\+cu\d{2,3}\b")
#: A CUDA extension being built or run: its arch list variable, torch's extension builder, a package's compiled ops.
_EXTENSION = _re(
    r"TORCH_CUDA_ARCH_LIST|\bCUDAExtension\b|\bcpp_extension\.py\b|\bsetup\.py (?:install|build_ext|develop)\b"
    r"|(?<![A-Za-z0-9_.])(?!torch/)[a-z][A-Za-z0-9_]*/(?:ops|csrc|kernels?|_ext|cuda_ext)/[\w/]*\.(?:py|cu|cpp)(?![A-Za-z0-9_])"
)
_PIP_INDEX = _re(r"(?:Looking in (?:indexes|links):|--(?:extra-)?index-url[= ]|\s-f\s|--find-links[= ])\s*(?P<url>https?://[^\s,'\"`]+)")
_NCCL_VERSION = _re(r"NCCL\s+version\s+(?P<v>\d+\.\d+\.\d+(?:\+cuda\d+\.\d+)?)")



@dataclass(frozen=True, slots=True)
class Hit:
    """One signature matched at one place in the text."""

    signature: Signature
    name: str  #: the finding name of the check class that explains ``key``
    rank: int
    line_no: int  #: 1-based line of the match start
    line: str  #: that line, stripped (the evidence a reader checks)
    groups: dict[str, str] = field(default_factory=dict)  #: named groups that matched
    note: str = ""  #: why a rule changed the name, if one did
    #: the explains key the check classes were asked about: the signature's key, a ``lib:`` /
    #: ``symbol:`` key the text's library decided, or a ``refine:`` key from a text-wide rule
    key: str = ""


# --------------------------------------------------------------------------------------------
# which check explains a key (asked of the check classes, never a table of names here)

_EXPLAINERS: dict[str, type[Check]] = {}


def explainer(key: str) -> type[Check] | None:
    """The check class whose ``explains`` names *key* (None when no check explains it)."""
    if not _EXPLAINERS:
        from cudadoctor.checks import ALL_CHECKS

        for cls in ALL_CHECKS:
            for k in cls.explains:
                _EXPLAINERS.setdefault(k, cls)
    return _EXPLAINERS.get(key)


def _name_of(key: str) -> str:
    cls = explainer(key)
    return cls.name if cls is not None else ""


def text_context(text: str) -> TextContext:
    """What the text says about its surroundings (WSL, an nvidia-smi table, MIG, torch)."""

    def search(pattern: re.Pattern[str], *needles: str) -> re.Match[str] | None:
        # NOTE: the literal test first: a regex that starts with \b or an alternation scans
        # every position of an 8 MiB text, a substring test does not.
        return pattern.search(text) if any(n in text for n in needles) else None

    smi = search(_SMI_DRIVER, "Driver Version:")
    vis = search(_VISIBLE, "CUDA_VISIBLE_DEVICES")
    nccl = search(_NCCL_VERSION, "NCCL version")
    index = search(_PIP_INDEX, "index", "-f ")
    ext = search(_EXTENSION, "TORCH_CUDA_ARCH_LIST", "/", "Extension", "setup.py")
    return TextContext(
        wsl=bool(search(_WSL, "WSL", "wsl", "Windows Subsystem")),
        smi_driver=smi.group("driver") if smi else "",
        mig_enabled=bool(search(_MIG_ON, "MIG")),
        visible_devices=vis.group("value") if vis else None,
        torch_context=any(n in text for n in _TORCH_NEEDLES) or bool(search(_CU_TAG, "+cu")),
        nccl_version=nccl.group("v") if nccl else "",
        pip_index=index.group("url") if index else "",
        libcuda_named="libcuda.so" in text,
        extension_named=ext.group(0) if ext else "",
    )


def library_family(soname: str) -> str:
    """'libcudart.so.12' -> 'libcudart'; '/x/libcudnn_ops.so.9' -> 'libcudnn_ops'."""
    base = soname.rsplit("/", 1)[-1]
    m = re.match(r"(lib[A-Za-z0-9_+\-]+?)(?:-[0-9a-f]{8})?\.so", base)
    return m.group(1) if m else base


def library_key(soname: str) -> tuple[str, int] | None:
    """The explains key (and rank) for a missing library, or None when it is not a CUDA/torch library."""
    base = soname.rsplit("/", 1)[-1]
    for pattern, key, rank in LIBRARY_KEYS:
        if pattern.search(base):
            return key, rank
    return None


def undefined_symbol_key(library: str, symbol: str, version_library: str) -> str | None:
    """Which key explains '<library>: undefined symbol: <symbol>[, version <lib>]' (None: not ours)."""
    if _COMPANION_LIB.search(library):
        return "symbol:companion"  # a torchvision/torchaudio built against another torch
    provider = library_family(version_library) if version_library else ""
    if not provider:
        provider = causes.provider_of(symbol)
    if provider and _CUDA_FAMILY.match(provider):
        return "symbol:cuda-family"  # another copy of a CUDA library loaded first
    if _CUDA_FAMILY.match(library_family(library)):
        return "symbol:cuda-family"
    if _TORCH_OWN_LIB.search(library):
        return "symbol:torch-own"
    return None


def _is_quoted(line: str, start: int, end: int) -> bool:
    """Whether the match sits inside quotes on its line (a message quoting the error, not the error)."""
    if line.lstrip().startswith("{"):
        return False  # NOTE: a JSON log line quotes every message, the real ones included
    # NOTE: apostrophes inside words (couldn't) are not quotes.
    before = re.sub(r"(?<=[A-Za-z])'(?=[A-Za-z])", "", line[:start])
    after = line[end:]
    for opening, closing in (('"', '"'), ("`", "`"), ("\u201c", "\u201d"), ("'", "'")):
        i = before.rfind(opening)
        if i < 0 or closing not in after:
            continue
        if opening == closing and before.count(opening) % 2 == 0:
            continue  # the quotes before the match are balanced: it is outside them
        # NOTE: Python's repr of the exception itself quotes its message:
        # `RuntimeError('CUDA error: ...')` is the error, not a quotation of it.
        if re.search(r"(?:Error|Exception|Warning|Exit)\(\s*$", before[:i]):
            continue
        # NOTE: a person pasting the error they hit quotes it too: a line that opens with the quote
        # (Markdown backticks around a paste, a bullet) or says it was met is the error, not a
        # program naming the message.
        if _PASTE_LEAD.search(before[:i]):
            continue
        return True
    return False


#: What precedes a quote that holds the error a person hit: nothing (or Markdown list/quote marks),
#: or a verb of meeting it ("I get", "got this error:", "it shows", ...), in a few languages.
_PASTE_LEAD = _re(
    r"^[\s>*\-#\d.)]*$"
    r"|\b(?:got|get|gets|getting|meet|met|see|saw|seeing|encounter(?:ed)?|hit|receiv(?:e|ed|ing)|says?|said"
    r"|show(?:s|ed|ing)?|throws?|threw|raised?|report(?:s|ed)?|returns?|returned|error(?: message)?|message"
    r"|following|like|caus(?:e|es|ed|ing)|lead(?:s|ing)? to|led to|result(?:s|ed|ing)? in"
    r"|indicates?|indicated|prints?|printed|displays?|displayed|outputs?|pops? up|popped up|comes? up"
    r"|fail(?:s|ed|ing)? with|crash(?:es|ed|ing)? with|die(?:s|d)? with|exit(?:s|ed)? with)\s*(?:that\s*)?:?\s*$"
    r"|[：:]\s*$|(?:报错|出现|提示|错误|类似|如下|显示)\s*[：:]?\s*$",
    re.I,
)


def _is_code_line(line: str) -> bool:
    """A line of source code (a traceback's code line or a grep/if that names the message)."""
    stripped = line.strip()
    return bool(re.match(r"(?:raise |assert |if |elif |warnings\.warn\(|grep |except |return )", stripped))


def scan(text: str) -> list[Hit]:
    """Every signature hit in *text*, refined by the text-wide rules, root causes first."""
    lines_at = _LineIndex(text)
    ctx = text_context(text)
    hits: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    for sig in SIGNATURES:
        count = 0
        for start, end in lines_at.regions(sig.needles):
            if count >= MAX_HITS_PER_SIGNATURE:
                break
            for m in sig.pattern.finditer(text, start, end):
                hit = _hit(sig, m, lines_at)
                if hit is not None and (hit.name, hit.line_no) not in seen:
                    # NOTE: one line, one hit per name (alternations and look-alike signatures
                    # can match the same line twice)
                    seen.add((hit.name, hit.line_no))
                    hits.append(hit)
                    count += 1
    hits = _refine(hits, ctx)
    return sorted(hits, key=lambda h: (h.rank, h.line_no))


def _hit(sig: Signature, m: re.Match[str], lines_at: _LineIndex) -> Hit | None:
    """A Hit for match *m*, or None when the match is a quotation, code, or lacks its context."""
    line_no, line, col = lines_at.locate(m.start())
    end_col = min(col + (m.end() - m.start()), len(line))
    if (_is_code_line(line) and not sig.code_ok) or _is_quoted(line, col, end_col):
        return None
    if sig.exclude is not None and sig.exclude.search(line):
        return None
    if sig.context is not None and not sig.context.search(lines_at.window(line_no, CONTEXT_LINES)):
        return None
    # NOTE: alternatives of one pattern cannot share a group name: "total2" is "total".
    groups: dict[str, str] = {}
    for k, v in m.groupdict().items():
        if v:
            groups.setdefault(k.rstrip("0123456789"), v.strip())
    resolved = _resolve(sig, groups)
    if resolved is None:
        return None
    key, rank = resolved
    name = _name_of(key)
    if not name and not sig.refine_only:
        return None  # NOTE: no check class explains it (a test keeps every key explained)
    return Hit(sig, name, rank, line_no, _clip(line), groups, key=key)


def _resolve(sig: Signature, groups: Mapping[str, str]) -> tuple[str, int] | None:
    """(explains key, rank) of a match: the signature's own key, or the key its library decides."""
    if sig.decides == SYMBOL:
        key = undefined_symbol_key(groups.get("library", ""), groups.get("symbol", ""), groups.get("version_library", ""))
        return (key, sig.rank) if key else None
    if sig.decides == LIBRARY:
        return library_key(groups.get("soname", ""))
    return sig.key, sig.rank


def _refine(hits: list[Hit], ctx: TextContext) -> list[Hit]:
    """Apply the rules that need the whole text: a missing driver explains error 35, MIG explains 100."""
    keys = {h.key for h in hits}
    no_driver = bool(keys & {"torch-no-driver", "nvml-not-found", "smi-no-driver", "container-cli-driver-not-loaded",
                             "lib:libnvidia-ml"})
    out: list[Hit] = []
    for h in hits:
        key = h.key
        if key in ("cuda-35", "ptx-toolchain"):
            if no_driver and key == "cuda-35":
                h = _rename(h, "refine:cuda-35-without-driver", None,
                            "error 35 with no driver present at all means no driver, not an old one")
            elif ctx.torch_context:
                h = _rename(h, "refine:runtime-too-old-in-torch", h.rank, "the failing runtime is torch's own CUDA build")
        elif key == "lib:libcuda":
            soname = h.groups.get("soname", "")
            if soname == "libcuda.so" and not no_driver:
                # NOTE: the driver installs libcuda.so.1; only its -dev link (or WSL2's /usr/lib/wsl/lib) gives
                # the unversioned name that cuDNN 8's sub-libraries, bitsandbytes and triton dlopen — and
                # cuDNN does so only after torch initialised CUDA through libcuda.so.1. Failing to open the
                # unversioned name says the loader path lacks it, not that the driver is missing.
                h = _rename(h, "refine:unversioned-libcuda-missing", None,
                            "the unversioned libcuda.so is missing, which the driver itself does not provide")
            elif ctx.wsl:
                h = _rename(h, "refine:libcuda-missing-under-wsl", None, "under WSL2 libcuda.so.1 lives in /usr/lib/wsl/lib")
            elif ctx.smi_driver:
                h = _rename(
                    h, "refine:libcuda-missing-with-working-driver", None,
                    f"the text also shows a working driver {ctx.smi_driver} (nvidia-smi), so libcuda exists elsewhere",
                )
        elif (key == "cudnn-load" and ctx.wsl and ctx.libcuda_named
              and _CUDNN_NEEDS_LIBCUDA.match(h.groups.get("soname", ""))):
            # NOTE: cuDNN 8's cnn/ops/adv sub-libraries dlopen the unversioned libcuda.so; under WSL2 it lives only
            # in /usr/lib/wsl/lib, so that load fails although the cuDNN files are present. Only when the text
            # names libcuda too: the same line is printed when cuDNN itself is absent.
            h = _rename(h, "refine:libcuda-missing-under-wsl", None,
                        "under WSL2 cuDNN's sub-libraries need libcuda.so from /usr/lib/wsl/lib")
        elif key in _NO_DEVICE_KEYS and ctx.mig_enabled:
            h = _rename(h, "refine:no-device-with-mig", None, "MIG is enabled in the text's nvidia-smi output")
        out.append(h)
    nccl_failure = next((h for h in out if h.key in ("nccl-error", "nccl-timeout")), None)
    if nccl_failure is not None and ctx.nccl_version:
        # NOTE: an NCCL failure with the NCCL version stated: whether that NCCL predates the GPUs is the check's
        # to judge (NcclTooOldForGpu.contradicted reads the GPU and the tables).
        added = _rename(nccl_failure, "refine:nccl-failure-with-version", None,
                        f"NCCL {ctx.nccl_version} is stated beside the failure")
        out.append(Hit(added.signature, added.name, added.rank, added.line_no, added.line,
                       {"nccl_version": ctx.nccl_version}, added.note, added.key))
    # NOTE: a list that starts with device 0 leaves GPU 0 visible: it cannot be why torch sees no GPU at all
    # ("No CUDA GPUs are available" beside it still points at the variable: it was changed, or is the fix).
    hides_first = ctx.visible_devices is not None and ctx.visible_devices.split(",")[0].strip() != "0"
    symptoms = [h for h in out if h.key in _VISIBLE_SYMPTOM_KEYS and (h.key != "cuda-unavailable" or hides_first)]
    if ctx.visible_devices is not None and symptoms:
        first = symptoms[0]
        invalid = _name_of("refine:no-device-with-visible-devices")
        if not any(h.name == invalid for h in out) and not ctx.mig_enabled:
            added = _rename(first, "refine:no-device-with-visible-devices", None,
                            f"CUDA_VISIBLE_DEVICES={ctx.visible_devices!r} is set in the text and no GPU is visible")
            out.append(Hit(added.signature, added.name, added.rank, added.line_no, added.line,
                           {"visible_devices": ctx.visible_devices}, added.note, added.key))
    # NOTE: a symptom no rule gave a cause names no finding of its own.
    return [h for h in out if h.name]


#: cuDNN 8 sub-libraries that dlopen libcuda.so themselves (the main libcudnn.so.8 does not).
_CUDNN_NEEDS_LIBCUDA = _re(r"libcudnn_(?:cnn|ops|adv)_(?:infer|train)\.so")

#: Signatures that say "no (such) device"; with MIG enabled, the MIG selection explains them.
_NO_DEVICE_KEYS = frozenset({"no-cuda-gpus", "cuda-100", "container-cli-unknown-device", "invalid-ordinal",
                             "num-gpus-assert", "cuda-unavailable"})
#: Symptoms a CUDA_VISIBLE_DEVICES set in the same text explains (it hides the GPUs from CUDA).
_VISIBLE_SYMPTOM_KEYS = frozenset({"no-cuda-gpus", "cuda-unavailable"})


def _rename(h: Hit, key: str, rank: int | None, note: str) -> Hit:
    """*h* explained by *key* instead (rank None: the explaining check's own rank)."""
    cls = explainer(key)
    name = cls.name if cls is not None else h.name
    return Hit(h.signature, name, rank if rank is not None else (cls.rank if cls else h.rank), h.line_no, h.line,
               dict(h.groups), note, key)


def _clip(line: str, limit: int = 300) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


class _LineIndex:
    """Offsets of line starts, for turning a match position into (line number, line, column)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        pos = text.find("\n")
        while pos >= 0:
            self.starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def locate(self, offset: int) -> tuple[int, str, int]:
        from bisect import bisect_right

        i = bisect_right(self.starts, offset) - 1
        start = self.starts[i]
        end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(self.text)
        return i + 1, self.text[start:end], offset - start

    def window(self, line_no: int, n: int) -> str:
        lo = max(0, line_no - 1 - n)
        hi = min(len(self.starts), line_no + n)
        end = self.starts[hi] if hi < len(self.starts) else len(self.text)
        return self.text[self.starts[lo]:end]

    def regions(self, needles: tuple[str, ...], before: int = 1, after: int = 3) -> list[tuple[int, int]]:
        """Merged (start, end) spans around every needle: *before* lines above, *after* lines below.

        Without needles, the whole text.
        """
        if not needles:
            return [(0, len(self.text))]
        from bisect import bisect_right

        spans: list[tuple[int, int]] = []
        for needle in needles:
            pos = self.text.find(needle)
            while pos >= 0:
                i = bisect_right(self.starts, pos) - 1
                lo = self.starts[max(0, i - before)]
                hi_i = i + 1 + after
                hi = self.starts[hi_i] if hi_i < len(self.starts) else len(self.text)
                spans.append((lo, hi))
                # NOTE: the next occurrence that matters starts after this span's first line.
                pos = self.text.find(needle, max(pos + len(needle), self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return merged


def names_in(hits: Iterable[Hit]) -> list[str]:
    """Distinct names of *hits*, in rank order (root cause first)."""
    out: list[str] = []
    for h in sorted(hits, key=lambda h: (h.rank, h.line_no)):
        if h.name not in out:
            out.append(h.name)
    return out


# --------------------------------------------------------------------------------------------
# does the text hold an error at all (so "ready" can never be the answer to it)

#: Words a failing program, loader, driver tool or person uses for a failure. Any one line with
#: one of them means the text reports a problem, explained or not.
_ERROR_WORDS = _re(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(?:Error|Exception)\b|\berror\b|\bERROR\b|\bfail(?:s|ed|ure)?\b"
    r"|\bFAILED\b|cannot open|can ?not\b|can't|couldn'?t|\bnot (?:found|available|supported|compatible)\b"
    r"|Segmentation fault|core dumped|Aborted|Killed|\bhang(?:s|ing)?\b|\bstuck\b|\bfreez"
    r"|is_available\(\)[^\n]{0,40}\bFalse\b|\bunknown error\b|\bmismatch\b|\btoo old\b|\bdoes not\b|\bdoesn'?t\b"
    r"|\bno kernel image\b|\binsufficient\b|\bout of memory\b|\bExpected\b[^\n]{0,80}\bbut (?:found|got)\b"
    r"|\bno longer\b|\bunsupported\b|\bcould not\b|\bNo module\b|\binstead of\b|\bimproper\b|\bincorrect\b|\bwrong\b|\bbroken\b|\bdevice function\b|\bwaiting\b"
    r"|\bCUDA available:?\s*False\b|\bno (?:CUDA )?(?:GPUs?|devices?) (?:detected|found)\b|\bnot detected\b"
    r"|device_count\(\)[^\n]{0,30}\b(?:returns?|shows?|gives?|is|==)\b"
    # NOTE: the same in the languages bug reports come in (German, French, Chinese, Japanese, Korean, Russian)
    r"|Fehler|nicht mehr|nicht unterst|Keine Unterst|erreur|报错|错误|失败|不支持|无法|卡住|エラー|失敗|오류|에러|실패|ошибк|не работает",
    re.I,
)
#: `torch.cuda.is_available()` answered False on a line of its own (a REPL, `print(...)` then its output).
_AVAILABLE_FALSE = _re(r"^\s*(?:>>>\s*)?(?:(?:return|returns|->|→|output:?)\s*)?False\b|\breturns? false\b|False(?:가|が|を)", re.I | re.M)
#: Lines that name "error" without reporting one (collect_env and nvidia-smi headers, counters).
_NOT_ERRORS = _re(r"Volatile Uncorr\. ECC|ECC Errors|error_count|Errors?:\s*0\b|\b0 errors?\b|errors=0", re.I)


def holds_error(text: str) -> bool:
    """Whether *text* reports a failure somewhere (a traceback, an error line, "is_available() False", ...)."""
    # NOTE: each match is judged on its own line, so a header that only names a counter ("ECC
    # Errors") does not count; the first real one answers.
    if "is_available" in text and _AVAILABLE_FALSE.search(text):
        return True
    for m in _ERROR_WORDS.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        if not _NOT_ERRORS.search(text, start, end if end >= 0 else len(text)):
            return True
    return False
