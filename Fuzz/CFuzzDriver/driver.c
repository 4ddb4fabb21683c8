#include "CFuzzDriver.h"

#ifdef TRIAD_FUZZING
// libFuzzer's entry for programs that have a main of their own, as every SwiftPM executable does.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

int triad_fuzz_run(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size)) {
    return LLVMFuzzerRunDriver(argc, argv, test);
}
#else
int triad_fuzz_run(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size)) {
    (void)argc;
    (void)argv;
    (void)test;
    return -1;
}
#endif
