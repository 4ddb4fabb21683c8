#include "triad_common.h"

#include <errno.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

int triad_set_timer_slack(unsigned long nanoseconds) {
#if defined(__linux__)
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0) == 0 ? 0 : errno;
#else
    (void)nanoseconds;
    return 0;
#endif
}

void triad_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
