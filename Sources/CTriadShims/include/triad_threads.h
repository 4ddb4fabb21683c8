#ifndef TRIAD_THREADS_H
#define TRIAD_THREADS_H
// pthread helpers for TriadThreads: a mutex with a condition variable on CLOCK_MONOTONIC, thread ids and a CPU pause hint. Every symbol starts with `triad_`.

#include <pthread.h>
#include <stdint.h>

/// A mutex and a condition variable whose timed waits use CLOCK_MONOTONIC, so wall-clock jumps do not shorten
/// or stretch a timeout.
typedef struct triad_monitor {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
} triad_monitor_t;

/// Initialises `monitor`. Returns 0 or an errno value.
int triad_monitor_init(triad_monitor_t *monitor);
/// Destroys `monitor`; nobody may hold or wait on it.
void triad_monitor_destroy(triad_monitor_t *monitor);
void triad_monitor_lock(triad_monitor_t *monitor);
/// Returns 1 if the mutex was taken, 0 if it is held elsewhere.
int triad_monitor_trylock(triad_monitor_t *monitor);
void triad_monitor_unlock(triad_monitor_t *monitor);
/// Waits for a signal; the caller holds the mutex. Spurious wake-ups happen: re-check the condition.
void triad_monitor_wait(triad_monitor_t *monitor);
/// Waits for a signal until the monotonic clock reaches `deadline_ns`. Returns 0 when woken (perhaps spuriously)
/// and 1 when the deadline has passed.
int triad_monitor_wait_until(triad_monitor_t *monitor, uint64_t deadline_ns);
void triad_monitor_signal(triad_monitor_t *monitor);
void triad_monitor_broadcast(triad_monitor_t *monitor);

/// The monotonic clock in nanoseconds.
uint64_t triad_monotonic_ns(void);

/// The kernel's id of the calling thread (gettid), cached per thread.
int32_t triad_thread_id(void);

/// A per-thread number that TriadThreads sets on the threads it starts (0 elsewhere).
uint64_t triad_thread_tag(void);
void triad_thread_set_tag(uint64_t tag);

/// Sets the calling thread's name as tools show it (at most 15 bytes are kept).
void triad_thread_set_name(const char *name);

/// Keeps thread `tid` (0 for the calling thread) on one CPU from now on; threads it starts later inherit that.
/// Returns 0, or the error number.
int triad_thread_pin(int32_t tid, int cpu);

/// The CPU the calling thread runs on, or -1 if the kernel does not say.
int triad_thread_cpu(void);

/// Writes up to `capacity` of the CPUs the calling thread may run on, lowest first, into `cpus`; returns how many
/// there are in all (written or not), or -1 if the kernel does not say.
int triad_thread_allowed_cpus(int *cpus, int capacity);


/// Gives up the CPU to another runnable thread.
void triad_thread_yield(void);

#endif
