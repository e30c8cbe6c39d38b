/*
 * Ctrl-C while a kernel runs without the GIL: Python's own SIGINT handler only sets a flag
 * that Python code looks at, and no Python code runs until the kernel returns. While a long
 * kernel runs in the main thread, gradcore installs this handler instead; it sets
 * gc_interrupt_flag, which the epoch loops poll at every mini-batch boundary.
 */
#ifndef GRADCORE_INTERRUPT_H
#define GRADCORE_INTERRUPT_H

#include "kernels.h"

extern gc_stop_flag gc_interrupt_flag;

/* Install the handler (saving the previous one); returns 0 on success, -1 if it failed. */
int gc_sigint_install(void);
/* Put the previous handler back. */
void gc_sigint_restore(void);

#endif
