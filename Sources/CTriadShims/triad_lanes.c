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
