/*
 * Stopping kernels. Every kernel call polls one stop word of its own (a gc_stop_flag) at
 * its mini-batch and chunk boundaries; nothing about stopping is shared between calls.
 *
 * Two things set bits in a call's word:
 *   GC_STOP_REQUESTED  the caller's own stop request (gradcore.StopFlag.set, any thread);
 *   GC_STOP_SIGINT     Ctrl-C, while the call runs in the main thread. Python's own SIGINT
 *                      handler only sets a flag that Python code looks at, and no Python
 *                      code runs until a kernel returns, so for the length of a main-thread
 *                      call gradcore routes SIGINT to that call's word instead.
 */
#ifndef GRADCORE_INTERRUPT_H
#define GRADCORE_INTERRUPT_H

#include "kernels.h"

enum { GC_STOP_REQUESTED = 1, GC_STOP_SIGINT = 2 };

/* *flag |= bits and *flag &= ~bits, atomically (safe in a signal handler). */
void gc_stop_set(gc_stop_flag *flag, int bits);
void gc_stop_clear(gc_stop_flag *flag, int bits);

/* Route SIGINT to *flag (GC_STOP_SIGINT), saving the current disposition exactly; returns
 * 0, or -1 if the handler could not be installed. Main thread only, one call at a time. */
int gc_sigint_route(gc_stop_flag *flag);
/* Put the saved disposition back exactly as it was (handler, mask and flags). */
void gc_sigint_unroute(void);

#endif
