/* Stub libcudnn (and its sub-libraries) for cudadoctor's probe tests.
 *
 * -DCUDNN_VERSION_VALUE=90100   what cudnnGetVersion reports (cuDNN 9: 10000*major + 100*minor + patch;
 *                               cuDNN 8: 1000*major + 100*minor + patch)
 */
#include <stddef.h>

#ifndef CUDNN_VERSION_VALUE
#define CUDNN_VERSION_VALUE 90100
#endif

size_t cudnnGetVersion(void) { return CUDNN_VERSION_VALUE; }
