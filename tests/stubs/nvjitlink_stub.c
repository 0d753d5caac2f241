/* Stub libnvJitLink for cudadoctor's probe tests.
 *
 * -DNVJITLINK_MAJOR=12 -DNVJITLINK_MINOR=4   what nvJitLinkVersion reports
 * -DSTUB_OLD=1                               no nvJitLinkVersion symbol (as in CUDA 12.0-12.2)
 */
#ifndef NVJITLINK_MAJOR
#define NVJITLINK_MAJOR 12
#endif
#ifndef NVJITLINK_MINOR
#define NVJITLINK_MINOR 4
#endif

#ifdef STUB_OLD
int nvJitLinkCreate(void) { return 0; }
#else
int nvJitLinkVersion(unsigned int *major, unsigned int *minor) {
    *major = NVJITLINK_MAJOR;
    *minor = NVJITLINK_MINOR;
    return 0;
}
#endif
