// Measures how fast this process can stream memory: the roofline that
// decoding (which reads every weight once per step) is held against.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace gs {

// Sums a freshly written buffer of `bytes` with the threads of `pool` (null:
// this thread) `reps` times; returns the best time of one pass, in seconds.
// Callers running several processes at once start them together (a barrier)
// and combine bytes / slowest time.
double TimeMemoryRead(int64_t bytes, ThreadPool* pool, int reps = 3);

}  // namespace gs
