#include "interrupt.h"

#include <signal.h>

gc_stop_flag gc_interrupt_flag = 0;

static void (*previous_handler)(int) = SIG_DFL;
static int installed = 0;

static void on_sigint(int sig)
{
    (void)sig;
    gc_interrupt_flag = 1;
}

int gc_sigint_install(void)
{
    void (*prev)(int) = signal(SIGINT, on_sigint);
    if (prev == SIG_ERR) return -1;
    previous_handler = prev;
    installed = 1;
    return 0;
}

void gc_sigint_restore(void)
{
    if (installed) {
        signal(SIGINT, previous_handler);
        installed = 0;
    }
}
