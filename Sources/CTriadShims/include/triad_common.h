#ifndef TRIAD_COMMON_H
#define TRIAD_COMMON_H

/// A hint to the CPU that the caller is spinning; every spin-then-park loop in Triad uses it.
void triad_cpu_relax(void);

#endif
