#ifndef C_TRIAD_SHIMS_H
#define C_TRIAD_SHIMS_H
// C helpers for Triad. Every symbol starts with `triad_`.
#include "triad_common.h"
#include "triad_threads.h"
#include "triad_process.h"
#include "triad_ipc.h"
#include "triad_lanes.h"
#include "triad_ring.h"
#include "triad_crash.h"
#endif

