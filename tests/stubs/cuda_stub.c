/*
 * A fake libcuda.so.1 (the driver API) for the driver probe's tests. Compiled to a file named
 * like the real driver's (libcuda.so.<driver version>) with a libcuda.so.1 link, so the probe
 * can read the driver version from the file name exactly as on a real machine.
 *
 *   STUB_CUDA_INIT=0|100|802|804|999   cuInit's return code (default 0)
 *   STUB_CUDA_HANG=1                   cuInit never returns
 *   STUB_CUDA_CRASH=1                  cuInit dies with SIGSEGV
 *   STUB_CUDA_VERSION=12040            cuDriverGetVersion
 *   STUB_CUDA_DEVICES=1                cuDeviceGetCount (after a successful cuInit)
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

typedef int CUresult;

static int initialized;

static long long env_int(const char *name, long long fallback) {
    const char *v = getenv(name);
    return (v && *v) ? strtoll(v, NULL, 0) : fallback;
}

CUresult cuInit(unsigned int flags) {
    (void)flags;
    if (env_int("STUB_CUDA_HANG", 0))
        for (;;) sleep(1000);
    if (env_int("STUB_CUDA_CRASH", 0)) raise(SIGSEGV);
    CUresult rc = (CUresult)env_int("STUB_CUDA_INIT", 0);
    if (rc == 0) initialized = 1;
    return rc;
}

CUresult cuDriverGetVersion(int *version) {
    if (!version) return 1; /* CUDA_ERROR_INVALID_VALUE */
    *version = (int)env_int("STUB_CUDA_VERSION", 12040);
    return 0;
}

CUresult cuDeviceGetCount(int *count) {
    if (!initialized) return 3; /* CUDA_ERROR_NOT_INITIALIZED */
    *count = (int)env_int("STUB_CUDA_DEVICES", 1);
    return 0;
}

/* Names and texts as in cuda.h (CUDA 13.0). */
static const struct {
    CUresult code;
    const char *name;
    const char *text;
} ERRORS[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {34, "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {802, "CUDA_ERROR_SYSTEM_NOT_READY", "system not yet initialized"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward compatibility was attempted on non supported HW"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static CUresult lookup(CUresult code, const char **out, int want_name) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
        if (ERRORS[i].code == code) {
            *out = want_name ? ERRORS[i].name : ERRORS[i].text;
            return 0;
        }
    }
    *out = NULL;
    return 1; /* CUDA_ERROR_INVALID_VALUE, as the real library answers for an unknown code */
}

CUresult cuGetErrorName(CUresult code, const char **name) { return lookup(code, name, 1); }
CUresult cuGetErrorString(CUresult code, const char **text) { return lookup(code, text, 0); }
