#ifndef TRIAD_LANES_H
#define TRIAD_LANES_H
// Shared-memory lanes of TriadProcesses: the growable segments through which large job and result frames travel
// between a pool and its workers. Every symbol starts with `triad_`.

#include <stddef.h>
#include <stdint.h>

/// Makes an anonymous, close-on-exec memfd of `size` bytes that can grow but never shrink (F_SEAL_SHRINK), so a
/// peer cannot truncate it under the other side's mapping. Returns the descriptor, or -errno.
int triad_lane_memfd_create(size_t size);

/// Grows a lane to `size` bytes. Returns 0 or an errno value.
int triad_lane_grow(int fd, size_t size);

/// Faults in a range of a mapping for writing in one call (MADV_POPULATE_WRITE), which is cheaper than a fault
/// per page; does nothing on kernels before 5.14.
void triad_lane_populate(void *address, size_t length);

/// Where in a lane's header a lane shared with a peer that did not start this process keeps its token, and the
/// longest token.
#define TRIAD_LANE_TOKEN_OFFSET 64
#define TRIAD_LANE_TOKEN_MAX 64

/// Writes `length` bytes (at most `TRIAD_LANE_TOKEN_MAX`) of `token` into the lane's header, for a peer to check.
/// Returns 0 or an errno value (EINVAL for a longer token).
int triad_lane_set_token(int fd, const void *token, size_t length);

/// Opens the lane `fd` of the process `pid` on this machine (through /proc/pid/fd), for a peer that was not started
/// by this process, such as another MPI rank, and checks that its header holds `token` (at most
/// `TRIAD_LANE_TOKEN_MAX` bytes). Returns the new close-on-exec descriptor, or -errno: -EBADF for a descriptor that
/// is not a sealed lane, -EACCES for one that holds another token (another process with the same pid, on another
/// machine), -EINVAL for a longer token.
int triad_lane_open_peer(int pid, int fd, const void *token, size_t length);

#endif
