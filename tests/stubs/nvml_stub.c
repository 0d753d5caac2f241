/*
 * A fake libnvidia-ml.so.1 for the driver probe's tests: every NVML symbol the probe's child
 * calls through pynvml, with the struct layouts pynvml declares. One compiled library serves
 * every case: its behaviour is read from STUB_NVML_* environment variables, which the tests set
 * for the child process.
 *
 *   STUB_NVML_INIT=0|4|9|12|18|999   return code of nvmlInit* (default 0)
 *   STUB_NVML_HANG=1                 nvmlInit never returns
 *   STUB_NVML_CRASH=1                nvmlInit dies with SIGSEGV
 *   STUB_NVML_HANG_GPU=N             nvmlDeviceGetTemperature on GPU N never returns
 *   STUB_NVML_LOST_GPU=N             every call about GPU N answers NVML_ERROR_GPU_IS_LOST
 *   STUB_NVML_FAIL=fn=rc,fn=rc       make the named functions return rc (e.g. nvmlDeviceGetEccMode=3)
 *   STUB_NVML_GPUS=1                 number of GPUs
 *   STUB_NVML_DRIVER=550.54.14       nvmlSystemGetDriverVersion
 *   STUB_NVML_CUDA=12040             nvmlSystemGetCudaDriverVersion[_v2]
 *   STUB_NVML_NAME, STUB_NVML_CC=9.0, STUB_NVML_MEM_MIB=81559, STUB_NVML_USED_MIB=500
 *   STUB_NVML_MIG=N                  MIG enabled with N instances (of 7 slots) on every GPU
 *   STUB_NVML_ECC=1                  ECC mode (current)
 *   STUB_NVML_ECC_DBE=N              uncorrectable ECC errors (volatile and aggregate) and
 *                                    pages retired for double-bit errors
 *   STUB_NVML_RETIRED_PENDING=0|1
 *   STUB_NVML_REMAP=corr,unc,pending,failure
 *   STUB_NVML_PERSISTENCE=1, STUB_NVML_COMPUTE_MODE=0
 *   STUB_NVML_PCIE=gen,maxgen,width,maxwidth   (default 5,5,16,16)
 *   STUB_NVML_THROTTLE=0x1           clock-event reasons bitmask
 *   STUB_NVML_TEMP=34, STUB_NVML_POWER_MW=72500, STUB_NVML_LIMIT_MW=700000, STUB_NVML_UTIL=0
 *   STUB_NVML_PROCS=pid:mib,...      compute processes on every GPU
 *   STUB_NVML_CALL_US=N              sleep N microseconds in every call (real NVML latency)
 *
 * Compile with -DOLD_DRIVER to leave out the symbols a pre-535 driver lacks
 * (nvmlSystemGetCudaDriverVersion_v2, nvmlDeviceGetCurrentClocksEventReasons).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_GPU_IS_LOST = 15,
};

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;

typedef struct { /* nvmlProcessInfo_v2_t == v3 */
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

static int initialized;

static const char *env_str(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

static long long env_int(const char *name, long long fallback) {
    const char *v = getenv(name);
    return (v && *v) ? strtoll(v, NULL, 0) : fallback;
}

static void hang(void) {
    for (;;) sleep(1000);
}

/* STUB_NVML_FAIL: "fnA=3,fnB=999" -> the code configured for fn, or 0. */
static nvmlReturn_t configured_failure(const char *fn) {
    const char *spec = getenv("STUB_NVML_FAIL");
    size_t len = strlen(fn);
    while (spec && *spec) {
        if (strncmp(spec, fn, len) == 0 && spec[len] == '=') return (nvmlReturn_t)strtol(spec + len + 1, NULL, 0);
        spec = strchr(spec, ',');
        if (spec) spec++;
    }
    return NVML_SUCCESS;
}

static nvmlReturn_t enter(const char *fn) {
    long long us = env_int("STUB_NVML_CALL_US", 0);
    if (us > 0) usleep((useconds_t)us);
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    return configured_failure(fn);
}

/* Handles are opaque to pynvml: encode GPU index and MIG slot (0 = the physical GPU). */
#define HANDLE_BASE 0x10000u
static nvmlDevice_t make_handle(unsigned gpu, unsigned slot) {
    return (nvmlDevice_t)(uintptr_t)(HANDLE_BASE + gpu * 256u + slot);
}

static nvmlReturn_t decode(nvmlDevice_t h, unsigned *gpu, unsigned *slot) {
    uintptr_t v = (uintptr_t)h;
    if (v < HANDLE_BASE) return NVML_ERROR_INVALID_ARGUMENT;
    v -= HANDLE_BASE;
    *gpu = (unsigned)(v / 256u);
    *slot = (unsigned)(v % 256u);
    if (*gpu >= (unsigned)env_int("STUB_NVML_GPUS", 1) || *slot > 7) return NVML_ERROR_INVALID_ARGUMENT;
    if ((long long)*gpu == env_int("STUB_NVML_LOST_GPU", -1)) return NVML_ERROR_GPU_IS_LOST;
    return NVML_SUCCESS;
}

/* Common prologue of every per-device call. */
#define DEVICE_CALL(fn, h)                            \
    unsigned gpu = 0, slot = 0;                       \
    nvmlReturn_t rc_ = enter(fn);                     \
    if (rc_) return rc_;                              \
    rc_ = decode((h), &gpu, &slot);                   \
    if (rc_) return rc_;                              \
    (void)gpu;                                        \
    (void)slot

static int mig_count(void) { return (int)env_int("STUB_NVML_MIG", 0); }

/* ---------------------------------------------------------------- init, errors, system */

static nvmlReturn_t do_init(void) {
    long long us = env_int("STUB_NVML_CALL_US", 0);
    if (us > 0) usleep((useconds_t)us);
    if (env_int("STUB_NVML_HANG", 0)) hang();
    if (env_int("STUB_NVML_CRASH", 0)) raise(SIGSEGV);
    nvmlReturn_t rc = (nvmlReturn_t)env_int("STUB_NVML_INIT", 0);
    if (rc == NVML_SUCCESS) initialized = 1;
    return rc;
}

nvmlReturn_t nvmlInit_v2(void) { return do_init(); }
nvmlReturn_t nvmlInit(void) { return do_init(); }
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return do_init(); }

nvmlReturn_t nvmlShutdown(void) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    initialized = 0;
    return NVML_SUCCESS;
}

/* The real library's texts (what nvidia-smi prints after "Failed to initialize NVML: "). */
const char *nvmlErrorString(nvmlReturn_t rc) {
    switch (rc) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 15: return "GPU is lost";
    case 17: return "The operating system has blocked the request.";
    case 18: return "Driver/library version mismatch";
    case 999: return "Unknown Error";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    nvmlReturn_t rc = enter("nvmlSystemGetDriverVersion");
    if (rc) return rc;
    snprintf(version, length, "%s", env_str("STUB_NVML_DRIVER", "550.54.14"));
    return NVML_SUCCESS;
}

static nvmlReturn_t cuda_version(const char *fn, int *v) {
    nvmlReturn_t rc = enter(fn);
    if (rc) return rc;
    *v = (int)env_int("STUB_NVML_CUDA", 12040);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { return cuda_version("nvmlSystemGetCudaDriverVersion", v); }
#ifndef OLD_DRIVER
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { return cuda_version("nvmlSystemGetCudaDriverVersion_v2", v); }
#endif

static nvmlReturn_t device_count(const char *fn, unsigned int *count) {
    nvmlReturn_t rc = enter(fn);
    if (rc) return rc;
    *count = (unsigned int)env_int("STUB_NVML_GPUS", 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) { return device_count("nvmlDeviceGetCount", count); }
nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return device_count("nvmlDeviceGetCount", count); }

static nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t *device) {
    nvmlReturn_t rc = enter("nvmlDeviceGetHandleByIndex");
    if (rc) return rc;
    if (index >= (unsigned)env_int("STUB_NVML_GPUS", 1)) return NVML_ERROR_INVALID_ARGUMENT;
    if ((long long)index == env_int("STUB_NVML_LOST_GPU", -1)) return NVML_ERROR_GPU_IS_LOST;
    *device = make_handle(index, 0);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) { return handle_by_index(index, device); }
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) { return handle_by_index(index, device); }

/* ---------------------------------------------------------------- identity */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t h, char *name, unsigned int length) {
    DEVICE_CALL("nvmlDeviceGetName", h);
    const char *base = env_str("STUB_NVML_NAME", "NVIDIA H100 80GB HBM3");
    if (slot) snprintf(name, length, "%s MIG 1g.10gb", base);
    else snprintf(name, length, "%s", base);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t h, char *uuid, unsigned int length) {
    DEVICE_CALL("nvmlDeviceGetUUID", h);
    if (slot) snprintf(uuid, length, "MIG-%08x-aaaa-bbbb-cccc-%012x", gpu, slot);
    else snprintf(uuid, length, "GPU-%08x-1111-2222-3333-444455550000", gpu);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t h, nvmlPciInfo_t *pci) {
    DEVICE_CALL("nvmlDeviceGetPciInfo", h);
    memset(pci, 0, sizeof *pci);
    pci->bus = 0x18 + gpu;
    pci->pciDeviceId = 0x233010de;
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02X:00.0", pci->bus);
    snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", pci->bus);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t h, int *major, int *minor) {
    DEVICE_CALL("nvmlDeviceGetCudaComputeCapability", h);
    const char *cc = env_str("STUB_NVML_CC", "9.0");
    *major = atoi(cc);
    const char *dot = strchr(cc, '.');
    *minor = dot ? atoi(dot + 1) : 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t h, nvmlMemory_t *mem) {
    DEVICE_CALL("nvmlDeviceGetMemoryInfo", h);
    unsigned long long mib = 1024ull * 1024ull;
    if (slot) {
        mem->total = 9984ull * mib;
        mem->used = 13ull * mib;
    } else {
        mem->total = (unsigned long long)env_int("STUB_NVML_MEM_MIB", 81559) * mib;
        mem->used = (unsigned long long)env_int("STUB_NVML_USED_MIB", 500) * mib;
    }
    mem->free = mem->total - mem->used;
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- MIG */

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t h, unsigned int *current, unsigned int *pending) {
    DEVICE_CALL("nvmlDeviceGetMigMode", h);
    *current = *pending = mig_count() > 0 ? 1u : 0u;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t h, unsigned int *count) {
    DEVICE_CALL("nvmlDeviceGetMaxMigDeviceCount", h);
    *count = 7;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t h, unsigned int index, nvmlDevice_t *mig) {
    DEVICE_CALL("nvmlDeviceGetMigDeviceHandleByIndex", h);
    if (index >= 7) return NVML_ERROR_INVALID_ARGUMENT;
    if ((int)index >= mig_count()) return NVML_ERROR_NOT_FOUND;
    *mig = make_handle(gpu, index + 1);
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- health */

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t h, int *current, int *pending) {
    DEVICE_CALL("nvmlDeviceGetEccMode", h);
    *current = *pending = (int)env_int("STUB_NVML_ECC", 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t h, int errorType, int counterType, unsigned long long *count) {
    DEVICE_CALL("nvmlDeviceGetTotalEccErrors", h);
    (void)counterType;
    if (!env_int("STUB_NVML_ECC", 1)) return NVML_ERROR_NOT_SUPPORTED;
    *count = errorType == 1 ? (unsigned long long)env_int("STUB_NVML_ECC_DBE", 0) : 0ull;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t h, int cause, unsigned int *count, unsigned long long *addresses) {
    DEVICE_CALL("nvmlDeviceGetRetiredPages", h);
    unsigned n = cause == 1 ? (unsigned)env_int("STUB_NVML_ECC_DBE", 0) : 0u;
    if (!addresses || *count < n) {
        *count = n;
        return n ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    }
    for (unsigned i = 0; i < n; i++) addresses[i] = 0x1000ull * (i + 1);
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t h, int *pending) {
    DEVICE_CALL("nvmlDeviceGetRetiredPagesPendingStatus", h);
    *pending = (int)env_int("STUB_NVML_RETIRED_PENDING", 0);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t h, unsigned int *corr, unsigned int *unc, unsigned int *pending,
                                       unsigned int *failure) {
    DEVICE_CALL("nvmlDeviceGetRemappedRows", h);
    unsigned v[4] = {0, 0, 0, 0};
    const char *spec = env_str("STUB_NVML_REMAP", "0,0,0,0");
    sscanf(spec, "%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3]);
    *corr = v[0];
    *unc = v[1];
    *pending = v[2];
    *failure = v[3];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t h, int *mode) {
    DEVICE_CALL("nvmlDeviceGetPersistenceMode", h);
    *mode = (int)env_int("STUB_NVML_PERSISTENCE", 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t h, int *mode) {
    DEVICE_CALL("nvmlDeviceGetComputeMode", h);
    *mode = (int)env_int("STUB_NVML_COMPUTE_MODE", 0);
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- PCIe */

static unsigned pcie_field(int which) {
    unsigned v[4] = {5, 5, 16, 16};
    sscanf(env_str("STUB_NVML_PCIE", "5,5,16,16"), "%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3]);
    return v[which];
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t h, unsigned int *v) {
    DEVICE_CALL("nvmlDeviceGetCurrPcieLinkGeneration", h);
    *v = pcie_field(0);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t h, unsigned int *v) {
    DEVICE_CALL("nvmlDeviceGetMaxPcieLinkGeneration", h);
    *v = pcie_field(1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t h, unsigned int *v) {
    DEVICE_CALL("nvmlDeviceGetCurrPcieLinkWidth", h);
    *v = pcie_field(2);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t h, unsigned int *v) {
    DEVICE_CALL("nvmlDeviceGetMaxPcieLinkWidth", h);
    *v = pcie_field(3);
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- clocks, thermals, power */

static nvmlReturn_t reasons(const char *fn, nvmlDevice_t h, unsigned long long *mask) {
    DEVICE_CALL(fn, h);
    *mask = (unsigned long long)env_int("STUB_NVML_THROTTLE", 1);
    return NVML_SUCCESS;
}

#ifndef OLD_DRIVER
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t h, unsigned long long *mask) {
    return reasons("nvmlDeviceGetCurrentClocksEventReasons", h, mask);
}
#endif
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t h, unsigned long long *mask) {
    return reasons("nvmlDeviceGetCurrentClocksThrottleReasons", h, mask);
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t h, int sensor, unsigned int *temp) {
    DEVICE_CALL("nvmlDeviceGetTemperature", h);
    (void)sensor;
    if ((long long)gpu == env_int("STUB_NVML_HANG_GPU", -1)) hang();
    *temp = (unsigned)env_int("STUB_NVML_TEMP", 34);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t h, unsigned int *mw) {
    DEVICE_CALL("nvmlDeviceGetPowerUsage", h);
    *mw = (unsigned)env_int("STUB_NVML_POWER_MW", 72500);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t h, unsigned int *mw) {
    DEVICE_CALL("nvmlDeviceGetEnforcedPowerLimit", h);
    *mw = (unsigned)env_int("STUB_NVML_LIMIT_MW", 700000);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t h, nvmlUtilization_t *u) {
    DEVICE_CALL("nvmlDeviceGetUtilizationRates", h);
    /* NOTE: like the real driver, utilisation of a GPU in MIG mode is not reported. */
    if (mig_count() > 0 && slot == 0) return NVML_ERROR_NOT_SUPPORTED;
    u->gpu = (unsigned)env_int("STUB_NVML_UTIL", 0);
    u->memory = 0;
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- processes */

static nvmlReturn_t processes(const char *fn, nvmlDevice_t h, unsigned int *count, nvmlProcessInfo_t *infos) {
    DEVICE_CALL(fn, h);
    const char *spec = env_str("STUB_NVML_PROCS", "");
    unsigned n = 0;
    for (const char *p = spec; *p; p++)
        if (*p == ':') n++;
    if (!infos || *count < n) {
        *count = n;
        return n ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    }
    const char *p = spec;
    for (unsigned i = 0; i < n && p && *p; i++) {
        unsigned pid = 0, mib = 0;
        sscanf(p, "%u:%u", &pid, &mib);
        memset(&infos[i], 0, sizeof infos[i]);
        infos[i].pid = pid;
        infos[i].usedGpuMemory = (unsigned long long)mib * 1024ull * 1024ull;
        infos[i].gpuInstanceId = infos[i].computeInstanceId = 0xFFFFFFFFu;
        p = strchr(p, ',');
        if (p) p++;
    }
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t h, unsigned int *count, nvmlProcessInfo_t *infos) {
    return processes("nvmlDeviceGetComputeRunningProcesses", h, count, infos);
}
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t h, unsigned int *count, nvmlProcessInfo_t *infos) {
    return processes("nvmlDeviceGetComputeRunningProcesses", h, count, infos);
}
