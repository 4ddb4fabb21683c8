#ifndef TRIAD_COMMON_H
#define TRIAD_COMMON_H

/// A hint to the CPU that the caller is spinning; every spin-then-park loop in Triad uses it.
void triad_cpu_relax(void);

/// Sets the calling thread's timer slack, in nanoseconds: how late the kernel may end its timed sleeps (50 µs by
/// default). A thread that polls with short sleeps sets it low. Returns 0 or an errno value.
int triad_set_timer_slack(unsigned long nanoseconds);

#endif
