#ifndef TRIAD_PROCESS_H
#define TRIAD_PROCESS_H
// Process helpers for TriadProcesses: spawning workers, wait-status macros, signals and socket writes that never
// raise SIGPIPE. Every symbol starts with `triad_`.

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <pthread.h>

/// Spawns `path` with posix_spawn (never fork). In the child, `channel_fd` becomes fd 3 and `lifeline_fd` fd 4;
/// every other descriptor from 5 up is closed. SIGINT and SIGPIPE get their default dispositions and the signal
/// mask is cleared. `progress_fd`, when not negative, becomes fd 5. Returns 0 and stores the pid, or an errno value.
int triad_spawn(const char *path, char *const argv[], char *const envp[], int channel_fd, int lifeline_fd,
                int progress_fd, pid_t *pid_out);

/// Makes a shared, close-on-exec memory file of `size` bytes and maps it. Returns the fd (or -1, errno) and stores
/// the mapping in `*address`.
int triad_shared_page_create(size_t size, void **address);

/// Maps an inherited shared memory file of `size` bytes. Returns the address, or NULL (errno).
void *triad_shared_page_map(int fd, size_t size);

/// Unmaps a mapping made by the two functions above.
void triad_shared_page_unmap(void *address, size_t size);

/// Stores and loads a 64-bit value with release and acquire ordering.
void triad_store_release_u64(void *address, unsigned long long value);
unsigned long long triad_load_acquire_u64(const void *address);

/// As `triad_spawn`, and also hands the child `passed_count` more descriptors: `passed_fds[i]` becomes fd 6 + i
/// (fd 5 stays the progress page's slot, closed when there is none), and every descriptor from 6 + passed_count up
/// is closed. `output_fd`, when not negative, becomes the child's standard error. Returns 0 and stores the pid, or an
/// errno value.
int triad_spawn_passing(const char *path, char *const argv[], char *const envp[], int channel_fd, int lifeline_fd,
                        int progress_fd, int output_fd, const int *passed_fds, int passed_count, pid_t *pid_out);

/// Opens a pidfd for `pid`: it polls readable once the process has ended, whoever holds its other descriptors.
/// Returns the descriptor (close-on-exec), or -1 (errno).
int triad_pidfd_open(pid_t pid);

/// Whether the child `pid` has ended (or cannot be waited for), without reaping it. Returns 1 or 0.
int triad_child_has_ended(pid_t pid);

/// Marks every descriptor from `lowest` up close-on-exec, so that a program a job starts inherits none of them.
/// Returns 0.
int triad_cloexec_from(int lowest);

/// Sets PR_SET_PDEATHSIG for the calling thread's process. Returns 0 or an errno value.
int triad_set_parent_death_signal(int signal);

/// Sends up to `count` buffers on a socket without blocking and without SIGPIPE. Returns bytes sent or -1 (errno).
ssize_t triad_send_nonblocking(int fd, const struct iovec *iov, int count);

/// Sends buffers on a socket, blocking, without SIGPIPE. Returns bytes sent or -1 (errno).
ssize_t triad_send_blocking(int fd, const struct iovec *iov, int count);

/// Receives without blocking. Returns bytes received, 0 at end of stream, or -1 (errno, EAGAIN when empty).
ssize_t triad_recv_nonblocking(int fd, void *buffer, size_t length);

/// Makes a connected pair of Unix stream sockets, both close-on-exec. Returns 0 or an errno value.
int triad_socketpair(int fds[2]);

/// Wait-status macros as functions.
int triad_wifexited(int status);
int triad_wexitstatus(int status);
int triad_wifsignaled(int status);
int triad_wtermsig(int status);

/// Sets a signal to be ignored in this process. Returns 0 or an errno value.
int triad_ignore_signal(int signal);

/// Installs `handler` for `signal` with SA_RESTART. Returns 0 or an errno value.
int triad_install_signal_handler(int signal, void (*handler)(int));

/// Unblocks `signal` for the calling thread. Returns 0 or an errno value.
int triad_unblock_signal(int signal);

/// Restores the default action of `signal` and raises it again in this process.
void triad_reraise_default(int signal);

/// Makes a pipe whose both ends are close-on-exec. Returns 0 or an errno value.
int triad_pipe_cloexec(int fds[2]);


/// Makes a non-blocking, close-on-exec eventfd. Returns it, or -1 (errno).
int triad_eventfd(void);


#endif
