/* Stub libcublasLt for cudadoctor's probe tests.
 *
 * -DCUBLASLT_VERSION_VALUE=120405   what cublasLtGetVersion reports (10000*major + 100*minor + patch)
 */
#include <stddef.h>

#ifndef CUBLASLT_VERSION_VALUE
#define CUBLASLT_VERSION_VALUE 120405
#endif

size_t cublasLtGetVersion(void) { return CUBLASLT_VERSION_VALUE; }
