#define _GNU_SOURCE
#include "triad_crash.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

// Written by one thread (the one that starts jobs) and read only by the signal handler; a torn name in a report is
// harmless, a lock in a signal handler is not.
static char identity[256];
static char job[256];
static volatile size_t jobLength;

void triad_crash_set_identity(const char *text) {
    strncpy(identity, text, sizeof(identity) - 1);
    identity[sizeof(identity) - 1] = 0;
}

void triad_crash_set_job(const char *name, size_t length) {
    if (length > sizeof(job) - 1) length = sizeof(job) - 1;
    if (length > 0) memcpy(job, name, length);
    jobLength = length;
}

static void put(const char *text, size_t length) {
    while (length > 0) {
        ssize_t written = write(2, text, length);
        if (written <= 0) {
            if (written < 0 && errno == EINTR) continue;
            return;
        }
        text += written;
        length -= (size_t)written;
    }
}

static void report(int signal) {
    int saved = errno;
    char number[12];
    int at = (int)sizeof(number);
    int value = signal;
    do {
        number[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && at > 0);
    put("triad: ", 7);
    put(identity, strlen(identity));
    put(" crashed with signal ", 21);
    put(number + at, sizeof(number) - (size_t)at);

    
    size_t length = jobLength;
    if (length > 0) {
        put(" while running job ", 19);
        put(job, length);
    } else {
        put(" between jobs", 13);
    }
    put("\n", 1);
    // Die of the same signal, as the process would have without the report.
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(signal, &action, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(signal);
    errno = saved;
}

int triad_crash_install(void) {
    static const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = report;
    action.sa_flags = SA_NODEFER;
    sigemptyset(&action.sa_mask);
    for (size_t index = 0; index < sizeof(signals) / sizeof(signals[0]); index++) {
        if (sigaction(signals[index], &action, NULL) != 0) return errno;
    }
    return 0;
}
