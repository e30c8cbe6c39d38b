/*
 * gradcore's threads: one small pool of worker threads for the whole process, and the
 * thread settings of kernels.h (gc_set_num_threads, gc_set_thread_limit, ...).
 *
 * A job is n_tasks tasks. The calling thread runs tasks too; pool threads join it, each
 * claiming the next task with an atomic counter until none is left, so a thread that the
 * OS deschedules holds up at most the task it is running. No thread waits by spinning for
 * long: a worker with nothing to do polls for a new job for at most 0.1 ms (GC_POLL_NS in
 * pool.c), then sleeps on a condition variable; the caller, once no task is left to claim,
 * sleeps until the tasks that other threads hold are finished (its core is then free for
 * them).
 *
 * Which thread runs a task changes from call to call; what a task computes must not depend
 * on it (gradcore's gradient sums: one partial sum per task, added in task order). The
 * `slot` a task is given says which of the job's per-thread workspaces the running thread
 * owns for the length of the job: 0 for the caller, 1 .. n_slots-1 for the pool threads.
 *
 * Fork-safe: a child made by fork() starts with no pool threads (pthread_atfork) and makes
 * new ones when a job needs them. A build without threads (GRADCORE_THREADS=OFF, or no
 * pthreads, e.g. MSVC) runs every task on the calling thread.
 */
#ifndef GRADCORE_POOL_H
#define GRADCORE_POOL_H

#include <stdint.h>

/* Most threads one call uses (the caller and GC_MAX_THREADS - 1 pool threads). */
#define GC_MAX_THREADS 64

typedef void (*gc_task)(void *ctx, int64_t task, int slot);

/*
 * Runs task(ctx, t, slot) once for every t in [0, n_tasks) (n_tasks < 2^31) on the calling
 * thread and up to n_slots - 1 pool threads, and returns when all have finished. Runs them
 * all on the calling thread (slot 0) when n_slots or n_tasks is 1, when the pool is busy
 * with another caller's job, or when no pool thread could be started.
 */
void gc_pool_run(gc_task task, void *ctx, int64_t n_tasks, int n_slots);

#endif
