#define _GNU_SOURCE
#include "include/triad_lanes.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
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

int triad_lane_set_token(int fd, const void *token, size_t length) {
    if (length > TRIAD_LANE_TOKEN_MAX) return EINVAL;
    size_t written = 0;
    while (written < length) {
        ssize_t count = pwrite(fd, (const char *)token + written, length - written,
                               (off_t)(TRIAD_LANE_TOKEN_OFFSET + written));
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return count < 0 ? errno : EIO;
        written += (size_t)count;
    }
    return 0;
}

int triad_lane_open_peer(int pid, int fd, const void *token, size_t length) {
    if (length > TRIAD_LANE_TOKEN_MAX) return -EINVAL;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
    int opened;
    // The descriptor may be anything of another process (a terminal, a device): never let it become this process's
    // controlling terminal, and never wait in open.
    do {
        opened = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (opened < 0 && errno == EINTR);
    if (opened < 0) return -errno;
    // Only a lane will do: a regular file (a memfd) sealed against shrinking, so the peer cannot truncate it under
    // this mapping.
    struct stat status;
    int seals = fstat(opened, &status) == 0 && S_ISREG(status.st_mode) ? fcntl(opened, F_GET_SEALS) : -1;
    if (seals < 0 || (seals & F_SEAL_SHRINK) == 0 || (seals & F_SEAL_SEAL) == 0) {
        close(opened);
        return -EBADF;
    }
    // And only the peer's own: a process of the same pid on another machine could hold a lane at the same number.
    char found[TRIAD_LANE_TOKEN_MAX];
    size_t filled = 0;
    while (filled < length) {
        ssize_t count = pread(opened, found + filled, length - filled, (off_t)(TRIAD_LANE_TOKEN_OFFSET + filled));
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) break;
        filled += (size_t)count;
    }
    if (filled < length || memcmp(found, token, length) != 0) {
        close(opened);
        return -EACCES;
    }
    return opened;
}
