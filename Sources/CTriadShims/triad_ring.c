#define _GNU_SOURCE
#include "include/triad_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// The control block: each field on its own cache line, so the writer's stores never invalidate the reader's line.
struct triad_ring_control {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic uint32_t flags[2];
    _Alignas(64) _Atomic uint32_t reader_spins;
};

_Static_assert(sizeof(struct triad_ring_control) <= TRIAD_RING_CONTROL_SIZE, "the control block outgrew its room");
// Atomics shared between processes must be lock-free: a lock would live in one process only.
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2, "the ring needs lock-free atomics");

static size_t ring_span(size_t capacity) { return TRIAD_RING_CONTROL_SIZE + capacity; }

static int is_power_of_two(size_t value) { return value != 0 && (value & (value - 1)) == 0; }

int triad_ring_memfd_create(size_t capacity) {
    if (!is_power_of_two(capacity)) return -EINVAL;
    int fd = memfd_create("triad-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    while (ftruncate(fd, (off_t)(2 * ring_span(capacity))) != 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        close(fd);
        return -saved;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

void *triad_ring_map(int fd, size_t *capacity) {
    struct stat info;
    if (fstat(fd, &info) != 0 || info.st_size <= 2 * TRIAD_RING_CONTROL_SIZE || info.st_size % 2 != 0) return NULL;
    // The memfd must be sealed against resizing, or a peer could truncate it under this mapping.
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) return NULL;
    size_t each = (size_t)info.st_size / 2 - TRIAD_RING_CONTROL_SIZE;
    if (!is_power_of_two(each)) return NULL;
    void *mapping = mmap(NULL, (size_t)info.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED) return NULL;
    *capacity = each;
    return mapping;
}

void triad_ring_unmap(void *mapping, size_t capacity) { munmap(mapping, 2 * ring_span(capacity)); }

void *triad_ring_at(void *mapping, size_t capacity, int index) {
    return (uint8_t *)mapping + (size_t)index * ring_span(capacity);
}

static struct triad_ring_control *control(void *ring) { return (struct triad_ring_control *)ring; }

static uint8_t *data(void *ring) { return (uint8_t *)ring + TRIAD_RING_CONTROL_SIZE; }

size_t triad_ring_writable(const void *ring, size_t capacity, uint64_t head) {
    uint64_t tail = atomic_load_explicit(&control((void *)ring)->tail, memory_order_acquire);
    uint64_t used = head - tail;
    if (used > capacity) return SIZE_MAX;
    return capacity - (size_t)used;
}

size_t triad_ring_readable(const void *ring, size_t capacity, uint64_t tail) {
    uint64_t head = atomic_load_explicit(&control((void *)ring)->head, memory_order_acquire);
    uint64_t available = head - tail;
    if (available > capacity) return SIZE_MAX;
    return (size_t)available;
}

// Where `take` bytes at `position` lie in a ring's data: from `*at` to the end, `*first` bytes, and the rest from the
// data's start.
static void span(uint64_t position, size_t take, size_t capacity, size_t *at, size_t *first) {
    *at = (size_t)(position & (capacity - 1));
    *first = capacity - *at < take ? capacity - *at : take;
}

size_t triad_ring_write(void *ring, size_t capacity, uint64_t *head, const void *bytes, size_t count, int *corrupt) {
    size_t room = triad_ring_writable(ring, capacity, *head);
    if (room == SIZE_MAX) {
        *corrupt = 1;
        return 0;
    }
    size_t take = count < room ? count : room;
    if (take == 0) return 0;
    size_t at, first;
    span(*head, take, capacity, &at, &first);
    memcpy(data(ring) + at, bytes, first);
    memcpy(data(ring), (const uint8_t *)bytes + first, take - first);
    *head += take;
    atomic_store_explicit(&control(ring)->head, *head, memory_order_release);
    return take;
}

size_t triad_ring_read(void *ring, size_t capacity, uint64_t *tail, void *into, size_t count, int *corrupt) {
    size_t available = triad_ring_readable(ring, capacity, *tail);
    if (available == SIZE_MAX) {
        *corrupt = 1;
        return 0;
    }
    size_t take = count < available ? count : available;
    if (take == 0) return 0;
    size_t at, first;
    span(*tail, take, capacity, &at, &first);
    memcpy(into, data(ring) + at, first);
    memcpy((uint8_t *)into + first, data(ring), take - first);
    *tail += take;
    atomic_store_explicit(&control(ring)->tail, *tail, memory_order_release);
    return take;
}

void triad_ring_raise(void *ring, int flag) {
    atomic_store_explicit(&control(ring)->flags[flag & 1], 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
}

void triad_ring_lower(void *ring, int flag) {
    atomic_store_explicit(&control(ring)->flags[flag & 1], 0, memory_order_relaxed);
}

int triad_ring_take(void *ring, int flag) {
    // Pairs with the fence in triad_ring_raise: either the peer sees what was just published, or this sees its flag.
    atomic_thread_fence(memory_order_seq_cst);
    _Atomic uint32_t *word = &control(ring)->flags[flag & 1];
    if (atomic_load_explicit(word, memory_order_relaxed) == 0) return 0;
    return atomic_exchange_explicit(word, 0, memory_order_acq_rel) != 0;
}

// The reader's hint holds 0 when no thread of the reader's side spins, else the spinning thread's CPU plus one, or
// UINT32_MAX when the kernel did not say which CPU that was.
void triad_ring_set_reader_spins(void *ring, int on) {
    uint32_t value = 0;
    if (on) {
        int cpu = sched_getcpu();
        value = cpu >= 0 && cpu < INT32_MAX ? (uint32_t)cpu + 1 : UINT32_MAX;
    }
    atomic_store_explicit(&control(ring)->reader_spins, value, memory_order_relaxed);
}

int triad_ring_reader_spin_place(const void *ring) {
    uint32_t value = atomic_load_explicit(&control((void *)ring)->reader_spins, memory_order_relaxed);
    if (value == 0) return 0;
    if (value == UINT32_MAX) return 1;
    int cpu = sched_getcpu();
    return cpu >= 0 && (uint32_t)cpu + 1 == value ? 2 : 1;
}

int triad_ring_unread(const void *ring) {
    struct triad_ring_control *block = control((void *)ring);
    uint64_t tail = atomic_load_explicit(&block->tail, memory_order_acquire);
    return atomic_load_explicit(&block->head, memory_order_acquire) != tail;
}

void triad_ring_publish(void *ring, int which, uint64_t position) {
    atomic_store_explicit(which == 0 ? &control(ring)->head : &control(ring)->tail, position, memory_order_release);
}
