#ifndef C_FUZZ_DRIVER_H
#define C_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with the program's arguments and `test` as the target, and returns its exit status. Only a build
/// with `-DTRIAD_FUZZING` and `-sanitize=fuzzer` links libFuzzer; any other build returns -1.
int triad_fuzz_run(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

#endif
