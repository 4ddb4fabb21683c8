#define _GNU_SOURCE
#include "triad_threads.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int triad_monitor_init(triad_monitor_t *monitor) {
    int rc = pthread_mutex_init(&monitor->mutex, NULL);
    if (rc != 0) return rc;
    pthread_condattr_t attr;
    rc = pthread_condattr_init(&attr);
    if (rc != 0) return rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&monitor->cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

void triad_monitor_destroy(triad_monitor_t *monitor) {
    pthread_cond_destroy(&monitor->cond);
    pthread_mutex_destroy(&monitor->mutex);
}

void triad_monitor_lock(triad_monitor_t *monitor) { pthread_mutex_lock(&monitor->mutex); }

int triad_monitor_trylock(triad_monitor_t *monitor) { return pthread_mutex_trylock(&monitor->mutex) == 0; }

void triad_monitor_unlock(triad_monitor_t *monitor) { pthread_mutex_unlock(&monitor->mutex); }

void triad_monitor_wait(triad_monitor_t *monitor) { pthread_cond_wait(&monitor->cond, &monitor->mutex); }

int triad_monitor_wait_until(triad_monitor_t *monitor, uint64_t deadline_ns) {
    struct timespec deadline;
    deadline.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    deadline.tv_nsec = (long)(deadline_ns % 1000000000ull);
    int rc = pthread_cond_timedwait(&monitor->cond, &monitor->mutex, &deadline);
    return rc == ETIMEDOUT ? 1 : 0;
}

void triad_monitor_signal(triad_monitor_t *monitor) { pthread_cond_signal(&monitor->cond); }

void triad_monitor_broadcast(triad_monitor_t *monitor) { pthread_cond_broadcast(&monitor->cond); }

uint64_t triad_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static __thread int32_t triad_cached_tid = 0;

int32_t triad_thread_id(void) {
    if (triad_cached_tid == 0) triad_cached_tid = (int32_t)syscall(SYS_gettid);
    return triad_cached_tid;
}

static __thread uint64_t triad_tag = 0;

uint64_t triad_thread_tag(void) { return triad_tag; }

void triad_thread_set_tag(uint64_t tag) { triad_tag = tag; }

void triad_thread_set_name(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = '\0';
    pthread_setname_np(pthread_self(), short_name);
}

int triad_thread_pin(int32_t tid, int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity((pid_t)tid, sizeof set, &set) == 0 ? 0 : errno;
}

int triad_thread_cpu(void) { return sched_getcpu(); }

int triad_thread_allowed_cpus(int *cpus, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        if (count < capacity) cpus[count] = cpu;
        count++;
    }
    return count;
}

void triad_thread_yield(void) { sched_yield(); }
