#ifndef TRIAD_IPC_H
#define TRIAD_IPC_H
// C helpers for Triad's inter-process communication: shared memory, descriptor passing, process-shared robust
// mutexes, futexes and atomics on shared memory. Every function returns 0 or a positive errno value unless it says
// otherwise; none of them raises a signal.

#include <stdint.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/types.h>

// Creates an anonymous memory file (memfd) of `size` bytes, close-on-exec. Returns the descriptor or -errno.
int triad_ipc_memfd_create(const char *name, size_t size);

// Creates a named POSIX shared-memory object, exclusively, mode 0600, close-on-exec, `size` bytes.
// Returns the descriptor or -errno.
int triad_ipc_shm_create(const char *name, size_t size);

// Opens an existing named shared-memory object for reading and writing. Returns the descriptor or -errno.
int triad_ipc_shm_open(const char *name);

// Unlinks a named shared-memory object. Returns 0 or errno.
int triad_ipc_shm_unlink(const char *name);

// Maps `size` bytes of `fd` shared, readable and writable. Returns the address or NULL with errno set.
void *triad_ipc_map(int fd, size_t size);

// The size of the file behind `fd`, or -errno.
int64_t triad_ipc_file_size(int fd);

// Creates a one-way pipe, close-on-exec: fds[0] reads, fds[1] writes.

// Sends `length` bytes (at least one) with the descriptor `fd` attached (SCM_RIGHTS) over a Unix socket.
// Returns the bytes sent or -errno. MSG_NOSIGNAL: a closed peer gives -EPIPE, not SIGPIPE.
ssize_t triad_ipc_send_with_fd(int socket, const void *bytes, size_t length, int fd);

// Receives up to `capacity` bytes from a Unix socket, with any descriptors that arrive with them stored
// (close-on-exec) in `fds` (room for `maxFds`; extra ones are closed) and their number in `*fdCount`.
// Returns the bytes received (0 at end of stream) or -errno.
ssize_t triad_ipc_recv_with_fds(int socket, void *bytes, size_t capacity, int *fds, int maxFds, int *fdCount);

// Sends without raising SIGPIPE if `socket` is a socket, and writes if it is not. Returns the bytes or -errno.
ssize_t triad_ipc_write(int fd, const void *bytes, size_t length, int isSocket);

// Reads a process's start time (clock ticks since boot, field 22 of /proc/PID/stat) and whether it is a zombie.
// Returns 0, or ESRCH if there is no such process.
int triad_ipc_process_start(pid_t pid, uint64_t *startTime, int *isZombie);

// Initializes a process-shared, robust, error-checking mutex in shared memory.
int triad_ipc_mutex_init(pthread_mutex_t *mutex);
// Locks the mutex. Returns 0, EOWNERDEAD (the lock is held and the state must be repaired, then made consistent),
// or another errno (ENOTRECOVERABLE).
int triad_ipc_mutex_lock(pthread_mutex_t *mutex);
// Marks a mutex whose previous owner died as consistent again. Call with the lock held after EOWNERDEAD.
// Like triad_ipc_mutex_lock, but returns EBUSY at once if another thread holds the lock.
int triad_ipc_mutex_trylock(pthread_mutex_t *mutex);
int triad_ipc_mutex_consistent(pthread_mutex_t *mutex);
int triad_ipc_mutex_unlock(pthread_mutex_t *mutex);

// Waits on a shared futex word while it still equals `expected`, for at most `timeoutNanoseconds` (negative: no
// limit). Returns 0 when woken or the word changed, ETIMEDOUT, or EINTR.
int triad_ipc_futex_wait(uint32_t *word, uint32_t expected, int64_t timeoutNanoseconds);
// Wakes up to `count` waiters of a shared futex word. Returns the number woken or -errno.
int triad_ipc_futex_wake(uint32_t *word, int count);

// Sequentially consistent atomics on words in shared memory.
uint32_t triad_ipc_atomic_load32(const uint32_t *word);
void triad_ipc_atomic_store32(uint32_t *word, uint32_t value);
uint32_t triad_ipc_atomic_add32(uint32_t *word, uint32_t delta);  // returns the previous value
uint32_t triad_ipc_atomic_sub32(uint32_t *word, uint32_t delta);  // returns the previous value

// The header of a ProcessQueue's shared segment. It is followed by the ready ring (capacity UInt32 slot indices in
// delivery order), the free stack (capacity UInt32), the slot records, then the slots' bytes.
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint32_t capacity;       // slots: the queue's maximum size
    uint32_t slotSize;       // the largest encoded value a slot holds
    uint32_t readyCount;     // values waiting; read without the lock as a hint by spinning consumers
    uint32_t leasedCount;    // values delivered but not yet acknowledged
    uint32_t freeCount;      // entries on the free stack
    uint32_t readyHead;      // the ready ring's first entry
    uint32_t closed;         // 1 once closed
    uint32_t notEmpty;       // futex word: bumped when a value becomes ready, or to wake waiters
    uint32_t notFull;        // futex word: bumped when a slot is freed, or to wake waiters
    uint32_t emptyWaiters;   // consumers parked on notEmpty (a hint; a dead waiter only causes extra wakes)
    uint32_t fullWaiters;    // producers parked on notFull (likewise)
    uint32_t reserved;
    uint64_t nextSequence;   // the delivery order of the next value put
    pthread_mutex_t mutex;   // process-shared and robust
} triad_queue_header;

// One slot's record. `state` is written last when a slot changes hands, so a holder of the lock that dies
// mid-update leaves a state that the next holder can repair from the records alone.
typedef struct {
    uint32_t state;          // 0 free, 1 ready, 2 leased
    int32_t ownerPid;        // the consumer holding a lease
    uint64_t ownerStart;     // its start time, so a reused pid is not mistaken for it
    uint64_t sequence;       // the value's place in delivery order
    uint32_t length;         // the encoded value's bytes
    uint32_t deliveries;     // how many times the value was delivered
} triad_queue_slot;

// Asks for transparent huge pages on the whole 2 MiB pages inside a large, fresh buffer before it is first
// written, so that filling it takes a few page faults instead of one per 4 KiB. Harmless where huge pages are off.
void triad_ipc_advise_huge_pages(void *buffer, size_t length);

// A CPU hint for spin loops.
void triad_ipc_cpu_relax(void);

// CLOCK_MONOTONIC in nanoseconds.
int64_t triad_ipc_monotonic_nanoseconds(void);

#endif
