/* Stub libcudart for cudadoctor's probe tests: cudaRuntimeGetVersion returns a chosen version.
 *
 * -DCUDART_VERSION_VALUE=12040   what cudaRuntimeGetVersion reports (1000*major + 10*minor)
 * -DSTUB_CRASH=1                  segfault inside the call (a library that kills its loader)
 * -DSTUB_HANG=1                   never return from the call (a library that hangs its loader)
 */
#include <unistd.h>

#ifndef CUDART_VERSION_VALUE
#define CUDART_VERSION_VALUE 12040
#endif

int cudaRuntimeGetVersion(int *version) {
#ifdef STUB_CRASH
    volatile int *null_pointer = 0;
    *null_pointer = 1;
#endif
#ifdef STUB_HANG
    for (;;) sleep(1);
#endif
    *version = CUDART_VERSION_VALUE;
    return 0;
}
