#define _GNU_SOURCE
#include "include/triad_lanes.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int triad_lane_memfd_create(size_t size) {
    int fd = memfd_create("triad-lane", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    while (ftruncate(fd, (off_t)size) != 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        close(fd);
        return -saved;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

int triad_lane_grow(int fd, size_t size) {
    while (ftruncate(fd, (off_t)size) != 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

void triad_lane_populate(void *address, size_t length) {
#ifdef MADV_POPULATE_WRITE
    (void)madvise(address, length, MADV_POPULATE_WRITE);
#else
    (void)madvise(address, length, 23);  // MADV_POPULATE_WRITE, Linux 5.14
#endif
}

void triad_lane_prepare_buffer(void *address, size_t length, int populate) {
    const uintptr_t huge = 2u << 20;
    uintptr_t start = ((uintptr_t)address + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)address + length) & ~(huge - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
    if (populate && end > start) triad_lane_populate((void *)start, end - start);
}
