#define _GNU_SOURCE
#include "include/triad_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/close_range.h>
#include <sys/wait.h>
#include <unistd.h>

int triad_spawn(const char *path, char *const argv[], char *const envp[], int channel_fd, int lifeline_fd,
                int progress_fd, pid_t *pid_out) {
    return triad_spawn_passing(path, argv, envp, channel_fd, lifeline_fd, progress_fd, -1, NULL, 0, pid_out);
}

int triad_spawn_passing(const char *path, char *const argv[], char *const envp[], int channel_fd, int lifeline_fd,
                        int progress_fd, int output_fd, const int *passed_fds, int passed_count, pid_t *pid_out) {
    // Move every descriptor above the fixed child slots first, so that no dup2 into 3, 4, 5... can clobber one.
    int floor = 10 > 6 + passed_count ? 10 : 6 + passed_count;
    int moved[passed_count > 0 ? passed_count : 1];
    int moved_count = 0;
    int result = 0;
    int progress = -1, channel = -1, lifeline = -1;
    if (progress_fd >= 0 && (progress = fcntl(progress_fd, F_DUPFD_CLOEXEC, floor)) < 0) {
        result = errno;
        goto close_fds;
    }
    if ((channel = fcntl(channel_fd, F_DUPFD_CLOEXEC, floor)) < 0) {
        result = errno;
        goto close_fds;
    }
    if ((lifeline = fcntl(lifeline_fd, F_DUPFD_CLOEXEC, floor)) < 0) {
        result = errno;
        goto close_fds;
    }
    for (; moved_count < passed_count; moved_count++) {
        moved[moved_count] = fcntl(passed_fds[moved_count], F_DUPFD_CLOEXEC, floor);
        if (moved[moved_count] < 0) {
            result = errno;
            goto close_fds;
        }
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    result = posix_spawn_file_actions_init(&actions);
    if (result != 0) goto close_fds;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) goto destroy_actions;
    if ((result = posix_spawn_file_actions_adddup2(&actions, channel, 3)) != 0) goto destroy_all;
    if ((result = posix_spawn_file_actions_adddup2(&actions, lifeline, 4)) != 0) goto destroy_all;
    // The worker's standard error goes to the parent's pipe, which forwards it and keeps its last lines. dup2 of a
    // descriptor onto 2 clears close-on-exec on 2, whatever the flag of `output_fd`.
    if (output_fd >= 0 && (result = posix_spawn_file_actions_adddup2(&actions, output_fd, 2)) != 0) goto destroy_all;
    // Slot 5 is the progress page or nothing (glibc ignores closing a descriptor that is not open).
    result = progress >= 0 ? posix_spawn_file_actions_adddup2(&actions, progress, 5)
                           : posix_spawn_file_actions_addclose(&actions, 5);
    if (result != 0) goto destroy_all;
    for (int index = 0; index < passed_count; index++) {
        if ((result = posix_spawn_file_actions_adddup2(&actions, moved[index], 6 + index)) != 0) goto destroy_all;
    }
    if ((result = posix_spawn_file_actions_addclosefrom_np(&actions, 6 + passed_count)) != 0) goto destroy_all;
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    sigemptyset(&empty);
    if ((result = posix_spawnattr_setsigdefault(&attributes, &defaults)) != 0) goto destroy_all;
    if ((result = posix_spawnattr_setsigmask(&attributes, &empty)) != 0) goto destroy_all;
    if ((result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) != 0)
        goto destroy_all;
    result = posix_spawn(pid_out, path, &actions, &attributes, argv, envp);
destroy_all:
    posix_spawnattr_destroy(&attributes);
destroy_actions:
    posix_spawn_file_actions_destroy(&actions);
close_fds:
    for (int index = 0; index < moved_count; index++) close(moved[index]);
    if (channel >= 0) close(channel);
    if (lifeline >= 0) close(lifeline);
    if (progress >= 0) close(progress);
    return result;
}

int triad_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int triad_child_has_ended(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    int result;
    do {
        result = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
    } while (result < 0 && errno == EINTR);
    return result < 0 || info.si_pid != 0;
}

int triad_cloexec_from(int lowest) {
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
    // Kernels before 5.11: mark each open descriptor.
    long highest = sysconf(_SC_OPEN_MAX);
    if (highest < 0 || highest > 65536) highest = 65536;
    for (int fd = lowest; fd < highest; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    return 0;
}

int triad_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0) == 0 ? 0 : errno;
}

static ssize_t send_iov(int fd, const struct iovec *iov, int count, int flags) {
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    message.msg_iov = (struct iovec *)iov;
    message.msg_iovlen = (size_t)count;
    ssize_t sent;
    do {
        sent = sendmsg(fd, &message, flags | MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

ssize_t triad_send_nonblocking(int fd, const struct iovec *iov, int count) {
    return send_iov(fd, iov, count, MSG_DONTWAIT);
}

ssize_t triad_send_blocking(int fd, const struct iovec *iov, int count) { return send_iov(fd, iov, count, 0); }

ssize_t triad_recv_nonblocking(int fd, void *buffer, size_t length) {
    ssize_t received;
    do {
        received = recv(fd, buffer, length, MSG_DONTWAIT);
    } while (received < 0 && errno == EINTR);
    return received;
}

int triad_socketpair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : errno;
}

int triad_wifexited(int status) { return WIFEXITED(status); }
int triad_wexitstatus(int status) { return WEXITSTATUS(status); }
int triad_wifsignaled(int status) { return WIFSIGNALED(status); }
int triad_wtermsig(int status) { return WTERMSIG(status); }

int triad_ignore_signal(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    return sigaction(signal, &action, NULL) == 0 ? 0 : errno;
}

int triad_install_signal_handler(int signal, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(signal, &action, NULL) == 0 ? 0 : errno;
}

void triad_reraise_default(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(signal, &action, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(signal);
}

int triad_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }


int triad_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int triad_unblock_signal(int signal) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int triad_shared_page_create(size_t size, void **address) {
    int fd = memfd_create("triad-progress", MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    void *mapped = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    *address = mapped;
    return fd;
}

void *triad_shared_page_map(int fd, size_t size) {
    void *mapped = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return mapped == MAP_FAILED ? NULL : mapped;
}

void triad_shared_page_unmap(void *address, size_t size) { munmap(address, size); }

void triad_store_release_u64(void *address, unsigned long long value) {
    __atomic_store_n((unsigned long long *)address, value, __ATOMIC_RELEASE);
}

unsigned long long triad_load_acquire_u64(const void *address) {
    return __atomic_load_n((const unsigned long long *)address, __ATOMIC_ACQUIRE);
}
