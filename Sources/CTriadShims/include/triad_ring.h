#ifndef TRIAD_RING_H
#define TRIAD_RING_H
// Shared-memory rings of TriadProcesses: one single-producer, single-consumer byte ring per direction between a
// pool and each of its workers, carrying the same frames as a socket would. Every symbol starts with `triad_`.
//
// A ring is a control block of four cache lines (the bytes written, the bytes read, and a flag per side saying it
// is about to park) followed by a power-of-two data area. Each side keeps its own position in a local variable and
// only ever reads the other side's from shared memory, checking it before use: a peer that scribbles on the control
// block is reported as corrupt, never trusted.

#include <stddef.h>
#include <stdint.h>

/// The bytes before a ring's data area.
#define TRIAD_RING_CONTROL_SIZE 256

/// Makes an anonymous, close-on-exec memfd holding two rings of `capacity` bytes each (a power of two), sealed so
/// that neither side can resize it. Returns the descriptor, or -errno.
int triad_ring_memfd_create(size_t capacity);

/// Maps both rings of a memfd made by `triad_ring_memfd_create`, whatever its capacity. Returns the mapping and
/// stores each ring's capacity in `capacity`, or returns NULL if the descriptor is not such a memfd.
void *triad_ring_map(int fd, size_t *capacity);

/// Unmaps what `triad_ring_map` mapped.
void triad_ring_unmap(void *mapping, size_t capacity);

/// The ring `index` (0: parent to worker, 1: worker to parent) of a mapping.
void *triad_ring_at(void *mapping, size_t capacity, int index);

/// Copies up to `count` bytes into the ring, as many as it has room for, and publishes them. `*head` is the
/// writer's own count of bytes written, advanced by the bytes written, which are returned. Sets `*corrupt` if the
/// reader's position is impossible.
size_t triad_ring_write(void *ring, size_t capacity, uint64_t *head, const void *bytes, size_t count, int *corrupt);

/// Copies up to `count` published bytes out of the ring and frees their room. `*tail` is the reader's own count of
/// bytes read, advanced by the bytes read, which are returned. Sets `*corrupt` if the writer's position is
/// impossible.
size_t triad_ring_read(void *ring, size_t capacity, uint64_t *tail, void *into, size_t count, int *corrupt);

/// The bytes the reader at `tail` could read now; SIZE_MAX if the writer's position is impossible.
size_t triad_ring_readable(const void *ring, size_t capacity, uint64_t tail);

/// The room the writer at `head` has now; SIZE_MAX if the reader's position is impossible.
size_t triad_ring_writable(const void *ring, size_t capacity, uint64_t head);

/// The flags a side raises before it parks: 0, the reader waits for bytes; 1, the writer waits for room.
/// Raising is a sequentially consistent store followed by a full fence, so the check that follows it and the
/// peer's publication cannot both miss each other.
void triad_ring_raise(void *ring, int flag);

/// Lowers a flag this side raised.
void triad_ring_lower(void *ring, int flag);

/// Called by the peer after it published bytes (flag 0) or freed room (flag 1): returns 1 and lowers the flag if
/// the other side had raised it, so the caller wakes it exactly once.
int triad_ring_take(void *ring, int flag);

/// Says whether a thread of the reader's side is spinning for this ring's bytes now (`on` 1, with the CPU the calling
/// thread runs on) or no longer (0): a hint, which the writer's side reads with
/// `triad_ring_reader_spin_place` to keep spinning itself while its peer, on another CPU, will answer at once.
/// Nothing depends on it for correctness.
void triad_ring_set_reader_spins(void *ring, int on);

/// Where a thread of the reader's side spins now, by the hint set with `triad_ring_set_reader_spins`: 0 if none
/// does, 1 on another CPU than the calling thread's (or one the kernel did not name), 2 on the calling thread's CPU.
/// A side that spins for its peer helps only a peer on another CPU: one on the same CPU cannot run until the spin
/// ends.
int triad_ring_reader_spin_place(const void *ring);

/// Whether the ring holds bytes its reader has not read, by the positions both sides published: for threads other
/// than the reader.
int triad_ring_unread(const void *ring);

/// Publishes `position` as the ring's written (`which` 0) or read (`which` 1) position, whatever it is: for tests
/// and fuzzing of the other side's defences only.
void triad_ring_publish(void *ring, int which, uint64_t position);

#endif
