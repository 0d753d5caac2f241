/* Stub libnccl for cudadoctor's probe tests: ncclGetVersion returns a chosen version code.
 *
 * -DNCCL_VERSION_VALUE=22703   NCCL_VERSION_CODE (>= 2.9: 10000*major + 100*minor + patch)
 */
#ifndef NCCL_VERSION_VALUE
#define NCCL_VERSION_VALUE 22703
#endif

int ncclGetVersion(int *version) {
    *version = NCCL_VERSION_VALUE;
    return 0;
}
