#ifndef TRIAD_CRASH_H
#define TRIAD_CRASH_H
// A last word before a crash: a process that runs jobs for others (an MPI rank) writes one line to stderr naming
// itself and the job it was running when a fatal signal hit it, then dies of that signal as it would have.
#include <stddef.h>

// Sets who this process is, for example "rank 2 on host node7 (pid 1234)". Copied; at most 255 bytes are kept.
void triad_crash_set_identity(const char *text);
// Sets the job now running; `length` bytes of `name` are copied (at most 255). A length of 0 means none.
void triad_crash_set_job(const char *name, size_t length);
// Installs the report on SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT and SIGTRAP. Returns 0 or an errno value.
int triad_crash_install(void);
#endif
