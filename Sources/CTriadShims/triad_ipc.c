#define _GNU_SOURCE
#include "triad_ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int triad_ipc_memfd_create(const char *name, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -errno;
    while (ftruncate(fd, (off_t)size) != 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

int triad_ipc_shm_create(const char *name, size_t size) {
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    // shm_open applies the umask; make sure of 0600 whatever it is.
    (void)fchmod(fd, 0600);
    while (ftruncate(fd, (off_t)size) != 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        close(fd);
        shm_unlink(name);
        return -saved;
    }
    return fd;
}

int triad_ipc_shm_open(const char *name) {
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int triad_ipc_shm_unlink(const char *name) {
    return shm_unlink(name) == 0 ? 0 : errno;
}

void *triad_ipc_map(int fd, size_t size) {
    void *address = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return address == MAP_FAILED ? NULL : address;
}

int64_t triad_ipc_file_size(int fd) {
    struct stat info;
    if (fstat(fd, &info) != 0) return -errno;
    return (int64_t)info.st_size;
}

ssize_t triad_ipc_send_with_fd(int socket, const void *bytes, size_t length, int fd) {
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = length};
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof(int));
    for (;;) {
        ssize_t sent = sendmsg(socket, &message, MSG_NOSIGNAL);
        if (sent >= 0) return sent;
        if (errno != EINTR) return -errno;
    }
}

ssize_t triad_ipc_recv_with_fds(int socket, void *bytes, size_t capacity, int *fds, int maxFds, int *fdCount) {
    struct iovec iov = {.iov_base = bytes, .iov_len = capacity};
    union {
        char buffer[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } control;
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    *fdCount = 0;
    ssize_t received;
    for (;;) {
        received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
        if (received >= 0) break;
        if (errno != EINTR) return -errno;
    }
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL;
         header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t index = 0; index < count; index++) {
            int fd;
            memcpy(&fd, CMSG_DATA(header) + index * sizeof(int), sizeof(int));
            if (*fdCount < maxFds) {
                fds[(*fdCount)++] = fd;
            } else {
                close(fd);
            }
        }
    }
    return received;
}

ssize_t triad_ipc_write(int fd, const void *bytes, size_t length, int isSocket) {
    if (isSocket) {
        for (;;) {
            ssize_t written = send(fd, bytes, length, MSG_NOSIGNAL);
            if (written >= 0) return written;
            if (errno != EINTR) return -errno;
        }
    }
    // A pipe has no MSG_NOSIGNAL: block SIGPIPE in this thread around the write, and consume the SIGPIPE that a
    // closed reader raises, so that the process's signal disposition is never touched.
    sigset_t pipeSignal, previousMask, pending;
    sigemptyset(&pipeSignal);
    sigaddset(&pipeSignal, SIGPIPE);
    sigpending(&pending);
    int wasPending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeSignal, &previousMask);
    ssize_t written;
    int saved = 0;
    for (;;) {
        written = write(fd, bytes, length);
        if (written >= 0) break;
        saved = errno;
        if (saved != EINTR) break;
    }
    if (written < 0 && saved == EPIPE && !wasPending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeSignal, NULL, &zero) == -1 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &previousMask, NULL);
    return written >= 0 ? written : -saved;
}

int triad_ipc_process_start(pid_t pid, uint64_t *startTime, int *isZombie) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ESRCH;
    char text[1024];
    ssize_t length = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (length <= 0) return ESRCH;
    text[length] = 0;
    // The command name is in parentheses and may hold spaces or parentheses: parse after the last ')'.
    char *cursor = strrchr(text, ')');
    if (cursor == NULL) return ESRCH;
    cursor += 2;  // ") " then field 3, the state
    *isZombie = (*cursor == 'Z' || *cursor == 'X');
    for (int field = 3; field < 22; field++) {
        cursor = strchr(cursor, ' ');
        if (cursor == NULL) return ESRCH;
        cursor++;
    }
    *startTime = strtoull(cursor, NULL, 10);
    return 0;
}

int triad_ipc_mutex_init(pthread_mutex_t *mutex) {
    pthread_mutexattr_t attributes;
    int result = pthread_mutexattr_init(&attributes);
    if (result != 0) return result;
    result = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    if (result == 0) result = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    if (result == 0) result = pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ERRORCHECK);
    if (result == 0) result = pthread_mutex_init(mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
    return result;
}

int triad_ipc_mutex_lock(pthread_mutex_t *mutex) { return pthread_mutex_lock(mutex); }

int triad_ipc_mutex_trylock(pthread_mutex_t *mutex) { return pthread_mutex_trylock(mutex); }

int triad_ipc_mutex_consistent(pthread_mutex_t *mutex) { return pthread_mutex_consistent(mutex); }

int triad_ipc_mutex_unlock(pthread_mutex_t *mutex) { return pthread_mutex_unlock(mutex); }

int triad_ipc_futex_wait(uint32_t *word, uint32_t expected, int64_t timeoutNanoseconds) {
    struct timespec timeout;
    struct timespec *limit = NULL;
    if (timeoutNanoseconds >= 0) {
        timeout.tv_sec = (time_t)(timeoutNanoseconds / 1000000000);
        timeout.tv_nsec = (long)(timeoutNanoseconds % 1000000000);
        limit = &timeout;
    }
    // FUTEX_WAIT (not private: the word is shared between processes) measures a relative timeout on
    // CLOCK_MONOTONIC.
    long result = syscall(SYS_futex, word, FUTEX_WAIT, expected, limit, NULL, 0);
    if (result == 0) return 0;
    if (errno == EAGAIN) return 0;
    return errno;
}

int triad_ipc_futex_wake(uint32_t *word, int count) {
    long result = syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
    return result < 0 ? -errno : (int)result;
}

uint32_t triad_ipc_atomic_load32(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }

void triad_ipc_atomic_store32(uint32_t *word, uint32_t value) { __atomic_store_n(word, value, __ATOMIC_SEQ_CST); }

uint32_t triad_ipc_atomic_add32(uint32_t *word, uint32_t delta) {
    return __atomic_fetch_add(word, delta, __ATOMIC_SEQ_CST);
}

uint32_t triad_ipc_atomic_sub32(uint32_t *word, uint32_t delta) {
    return __atomic_fetch_sub(word, delta, __ATOMIC_SEQ_CST);
}

void triad_ipc_advise_huge_pages(void *buffer, size_t length) {
    const uintptr_t huge = 2u << 20;
    uintptr_t start = ((uintptr_t)buffer + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)buffer + length) & ~(huge - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
}

void triad_ipc_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int64_t triad_ipc_monotonic_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}
