#include "interrupt.h"

#include <signal.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
void gc_stop_set(gc_stop_flag *flag, int bits) { __atomic_fetch_or(flag, bits, __ATOMIC_SEQ_CST); }
void gc_stop_clear(gc_stop_flag *flag, int bits) { __atomic_fetch_and(flag, ~bits, __ATOMIC_SEQ_CST); }
#else /* a volatile read-modify-write: enough where int stores are atomic */
void gc_stop_set(gc_stop_flag *flag, int bits) { *flag |= bits; }
void gc_stop_clear(gc_stop_flag *flag, int bits) { *flag &= ~bits; }
#endif

/* The word of the main-thread call that SIGINT goes to (NULL: none routed). */
static gc_stop_flag *volatile sigint_target = NULL;

static void on_sigint(int sig)
{
    gc_stop_flag *target = sigint_target;
    (void)sig;
    if (target) gc_stop_set(target, GC_STOP_SIGINT);
}

#if defined(_WIN32)
static void (*previous_handler)(int) = SIG_DFL;

int gc_sigint_route(gc_stop_flag *flag)
{
    sigint_target = flag;
    previous_handler = signal(SIGINT, on_sigint);
    if (previous_handler != SIG_ERR) return 0;
    sigint_target = NULL;
    return -1;
}

void gc_sigint_unroute(void)
{
    signal(SIGINT, previous_handler);
    sigint_target = NULL;
}
#else
/* sigaction, not signal(): restoring with signal() would add SA_RESTART to Python's handler,
 * and a Ctrl-C during a blocking read or join would then wait for the call to return. */
static struct sigaction previous;

int gc_sigint_route(gc_stop_flag *flag)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigint_target = flag;
    if (sigaction(SIGINT, &sa, &previous) == 0) return 0;
    sigint_target = NULL;
    return -1;
}

void gc_sigint_unroute(void)
{
    sigaction(SIGINT, &previous, NULL);
    sigint_target = NULL;
}
#endif
