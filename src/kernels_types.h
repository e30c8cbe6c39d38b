/*
 * Instantiates kernels_impl.h for double (suffix f64) and float (suffix f32) at the
 * instruction-set level the includer has defined in GC_ISA (name suffix) and GC_VBYTES
 * (vector width in bytes). Included by kernels.c once per level.
 */
#define REAL double
#define GC_SFX f64
#define GC_IREAL int64_t
#define EXP exp
#include "kernels_impl.h"
#undef REAL
#undef GC_SFX
#undef GC_IREAL
#undef EXP

#define REAL float
#define GC_SFX f32
#define GC_IREAL int32_t
#define EXP expf
#include "kernels_impl.h"
#undef REAL
#undef GC_SFX
#undef GC_IREAL
#undef EXP
