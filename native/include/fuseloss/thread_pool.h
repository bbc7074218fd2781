// The internal thread pool. Work is split into a fixed number of chunks decided by the kernel from the
// problem size alone (never from the thread count), and chunk results are combined in chunk order, so
// results carry the same bits for any number of threads. The calling thread always works on its own job,
// so a job finishes even if every worker is busy elsewhere or the pool is being resized.
#pragma once
#include <cstddef>

namespace fuseloss {

using ChunkFn = void (*)(void* ctx, size_t chunk);

// Runs fn(ctx, i) for i in [0, chunks), on the pool and the calling thread; returns when all are done.
// Safe to call from several threads at once (async calls queue their jobs side by side).
void parallel_for(size_t chunks, ChunkFn fn, void* ctx);

// Threads used per job, the caller included (>= 1). Safe at any time, also while jobs run.
void set_num_threads(int n);
int num_threads();
int hardware_threads();

}  // namespace fuseloss
