/*
 * gradcore's pool of worker threads and its thread settings (see pool.h for the contract,
 * kernels.h for gc_set_num_threads and the thread limit).
 *
 * The pool: worker threads started on demand (at most GC_MAX_THREADS - 1, kept for the
 * life of the process), one job at a time. A job's state lives here, not with its caller:
 *   claim     generation << 32 | next task: a worker claims a task only for the job it
 *             joined, so one that wakes late, after its job ended, finds the generation
 *             changed and touches nothing of that job's caller;
 *   finished  tasks finished; the thread that finishes the last one wakes the caller.
 * The caller therefore waits only for tasks that some thread is running, never for a
 * thread that has nothing to do.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include "pool.h"

#include <stdlib.h>
#include <time.h>

#include "kernels.h"

#if defined(GC_THREADS) && (defined(__GNUC__) || defined(__clang__))
#define GC_POOL 1
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GC_THREAD_LOCAL __thread
#elif defined(_MSC_VER)
#define GC_THREAD_LOCAL __declspec(thread)
#else
#define GC_THREAD_LOCAL _Thread_local
#endif

/* ---------------------------------------------------------------- settings */

static volatile int gc_threads = 0; /* 0: the default (the CPUs this process may run on) */
/* Limit for the calls made from this thread (0: none), e.g. one thread per job. */
static GC_THREAD_LOCAL int gc_thread_limit = 0;

gc_status gc_set_thread_limit(int n)
{
    if (n < 0) return GC_ERR_ARGUMENT;
    gc_thread_limit = n;
    return GC_OK;
}

int gc_get_thread_limit(void) { return gc_thread_limit; }

gc_status gc_set_num_threads(int n)
{
    if (n < 0) return GC_ERR_ARGUMENT;
    gc_threads = n > GC_MAX_THREADS ? GC_MAX_THREADS : n;
    return GC_OK;
}

#ifdef GC_POOL
/* The CPUs this process may run on (its affinity mask on Linux), at least 1. */
static int available_cpus(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > GC_MAX_THREADS ? GC_MAX_THREADS : (int)n;
}

int gc_get_num_threads(void)
{
    int n = gc_threads > 0 ? gc_threads : available_cpus();
    if (gc_thread_limit > 0 && n > gc_thread_limit) n = gc_thread_limit;
    return n < 1 ? 1 : n > GC_MAX_THREADS ? GC_MAX_THREADS : n;
}

/* ---------------------------------------------------------------- the pool */

/* pool_lock guards `pool` but for claim and finished */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER; /* workers wait for a job here */
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER; /* a caller, for its last tasks */

static struct {
    pthread_t thread[GC_MAX_THREADS - 1];
    int n_workers; /* started; 0 again in a forked child */
    int busy;      /* a caller has the pool */
    /* the job */
    uint32_t gen; /* its generation, new for every job */
    int seats;    /* pool threads that may still join it */
    int next_slot;
    gc_task task;
    void *ctx;
    int64_t n_tasks;
    uint64_t claim;   /* atomic: gen << 32 | next task to claim */
    int64_t finished; /* atomic: tasks finished */
} pool;

/* A job as a joining thread copied it. */
typedef struct {
    uint32_t gen;
    gc_task task;
    void *ctx;
    int64_t n_tasks;
} job;

/* The next task of job j, or -1 when none is left or the job is over. */
static int64_t claim_task(const job *j)
{
    uint64_t c = __atomic_load_n(&pool.claim, __ATOMIC_ACQUIRE);
    do {
        if ((uint32_t)(c >> 32) != j->gen || (int64_t)(c & 0xffffffffu) >= j->n_tasks)
            return -1;
    } while (!__atomic_compare_exchange_n(&pool.claim, &c, c + 1, 1, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return (int64_t)(c & 0xffffffffu);
}

/*
 * A worker that finished its tasks polls for the next job before it sleeps. Waking a
 * thread that sleeps on a condition variable took 40-60 us on a 2-core KVM guest (an
 * interrupt to the other virtual CPU); the next job (the next epoch of a full-batch
 * training, say) often comes a few tens of us later. So a worker first reads the claim
 * word for at most GC_POLL_NS, pausing in between, and only then sleeps as before: the job
 * is checked under the lock either way, so polling changes when a worker notices a job,
 * never what it does. Bounded, it costs another process on the worker's core at most
 * GC_POLL_NS per job. The caller does not poll: once nothing is left to claim it sleeps at
 * once, so that its core is free for a worker the OS descheduled (a caller that polled as
 * well gained little more on idle cores and, measured on busy ones, was no better).
 */
#define GC_POLL_NS 100000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Polls for up to GC_POLL_NS until a job after generation gen is posted. */
static void poll_for_job(uint32_t gen)
{
    const int64_t end = now_ns() + GC_POLL_NS;
    for (int i = 1; (uint32_t)(__atomic_load_n(&pool.claim, __ATOMIC_ACQUIRE) >> 32) == gen; i++) {
        if (i % 64 == 0 && now_ns() > end) return;
        cpu_pause();
    }
}

/* Runs tasks of j until none is left to claim; the last task finished wakes the caller. */
static void work(const job *j, int slot)
{
    for (int64_t t; (t = claim_task(j)) >= 0;) {
        j->task(j->ctx, t, slot);
        if (__atomic_add_fetch(&pool.finished, 1, __ATOMIC_ACQ_REL) == j->n_tasks) {
            pthread_mutex_lock(&pool_lock);
            pthread_cond_broadcast(&pool_done);
            pthread_mutex_unlock(&pool_lock);
        }
    }
}

static void *worker_main(void *arg)
{
    uint32_t joined = 0; /* the generation of the last job this thread joined */
    (void)arg;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        while (!(pool.busy && pool.gen != joined && pool.seats > 0))
            pthread_cond_wait(&pool_wake, &pool_lock);
        const job j = {pool.gen, pool.task, pool.ctx, pool.n_tasks};
        const int slot = pool.next_slot++;
        joined = pool.gen;
        pool.seats--;
        pthread_mutex_unlock(&pool_lock);
        work(&j, slot);
        poll_for_job(j.gen);
        pthread_mutex_lock(&pool_lock);
    }
    return NULL;
}

/* Starts pool threads until there are `want` (under the lock); returns how many there are.
 * They block every signal: signals go to the process's own threads. */
static int start_workers(int want)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.n_workers < want &&
           pthread_create(&pool.thread[pool.n_workers], NULL, worker_main, NULL) == 0)
        pool.n_workers++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.n_workers < want ? pool.n_workers : want;
}

/* fork(): the parent holds the lock across it, so the child's copy of the pool is not
 * in the middle of a change; the child has none of the threads and starts afresh. */
static void before_fork(void) { pthread_mutex_lock(&pool_lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&pool_lock); }
static void after_fork_child(void)
{
    pthread_mutex_init(&pool_lock, NULL);
    pthread_cond_init(&pool_wake, NULL);
    pthread_cond_init(&pool_done, NULL);
    pool.n_workers = 0;
    pool.busy = 0;
    pool.seats = 0;
}

static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;
static void install_fork_handlers(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Takes the pool for job j with up to `helpers` pool threads and posts it, setting
 * j->gen; returns the number of helpers it may get (0: the pool is busy or has no
 * threads, and nothing was posted). */
static int post_job(job *j, int helpers)
{
    pthread_once(&fork_handlers_once, install_fork_handlers);
    pthread_mutex_lock(&pool_lock);
    if (pool.busy || (helpers = start_workers(helpers)) == 0) {
        pthread_mutex_unlock(&pool_lock);
        return 0;
    }
    pool.busy = 1;
    j->gen = ++pool.gen;
    pool.seats = helpers;
    pool.next_slot = 1;
    pool.task = j->task;
    pool.ctx = j->ctx;
    pool.n_tasks = j->n_tasks;
    __atomic_store_n(&pool.finished, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.claim, (uint64_t)pool.gen << 32, __ATOMIC_RELEASE);
    if (helpers == pool.n_workers) pthread_cond_broadcast(&pool_wake);
    else
        for (int h = 0; h < helpers; h++) pthread_cond_signal(&pool_wake);
    pthread_mutex_unlock(&pool_lock);
    return helpers;
}

void gc_pool_run(gc_task task, void *ctx, int64_t n_tasks, int n_slots)
{
    const int helpers = n_slots - 1 < n_tasks - 1 ? n_slots - 1 : (int)(n_tasks - 1);
    job j = {0, task, ctx, n_tasks};
    if (helpers < 1 || post_job(&j, helpers) == 0) {
        for (int64_t t = 0; t < n_tasks; t++) task(ctx, t, 0);
        return;
    }
    work(&j, 0);
    pthread_mutex_lock(&pool_lock);
    while (__atomic_load_n(&pool.finished, __ATOMIC_ACQUIRE) < n_tasks)
        pthread_cond_wait(&pool_done, &pool_lock);
    pool.busy = 0;
    pool.seats = 0;
    pthread_mutex_unlock(&pool_lock);
}

#else /* no threads: every task on the calling thread */

int gc_get_num_threads(void) { return 1; }

void gc_pool_run(gc_task task, void *ctx, int64_t n_tasks, int n_slots)
{
    (void)n_slots;
    for (int64_t t = 0; t < n_tasks; t++) task(ctx, t, 0);
}
#endif
