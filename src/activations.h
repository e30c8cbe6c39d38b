/*
 * The activation functions of gradcore's layers and their derivatives, one number at a
 * time: what the naive kernels use, and what the vector versions (vmath.h) compute lane by
 * lane. Compiled once per floating type (`real`, layers.h).
 *
 * Every derivative is taken from the activation a = phi(z) alone, so the backward pass
 * needs only the activations that the forward pass keeps anyway; PReLU alone needs z (its
 * slope may be any number, so the sign of a does not tell the sign of z), and the layer
 * passes handle it apart (prelu_backward in layers.c).
 *
 *   code              phi(z)                        phi'(z), from a = phi(z)
 *   GC_ACT_SIGMOID    1 / (1 + e^-z)                a (1 - a)
 *   GC_ACT_TANH       tanh z                        1 - a^2
 *   GC_ACT_SOFTSIGN   z / (1 + |z|)                 (1 - |a|)^2
 *   GC_ACT_RELU       z < 0 ? 0 : z                 a > 0 ? 1 : 0
 *   GC_ACT_LEAKY_RELU z < 0 ? 0.01 z : z            a > 0 ? 1 : 0.01
 *   GC_ACT_ELU        z < 0 ? e^z - 1 : z           a > 0 ? 1 : a + 1
 *   GC_ACT_PRELU      z < 0 ? s z : z (s per unit)  z > 0 ? 1 : s
 *   GC_ACT_LINEAR     z                             1
 * (z < 0 ? 0 : z keeps a NaN a NaN, as the sigmoid does, so a diverging network still
 * shows up as a non-finite cost.)
 */
#ifndef GRADCORE_ACTIVATIONS_H
#define GRADCORE_ACTIVATIONS_H

#include <math.h>

#include "kernels.h"
#include "layers.h"

/* The slope of the leaky ReLU for z < 0 (Maas, Hannun & Ng 2013). */
#define GC_LEAKY_SLOPE 0.01

static inline real sigmoid(real z)
{
#ifdef GC_FLOAT32
    return 1.0f / (1.0f + expf(-z));
#else
    return 1.0 / (1.0 + exp(-z));
#endif
}

/* phi(z) for activation `act`; s: the unit's PReLU slope (read for GC_ACT_PRELU only). */
static inline real act_scalar(real z, int act, real s)
{
    switch (act) {
    case GC_ACT_SIGMOID: return sigmoid(z);
#ifdef GC_FLOAT32
    case GC_ACT_TANH: return tanhf(z);
    case GC_ACT_SOFTSIGN: return z / (1.0f + fabsf(z));
    case GC_ACT_ELU: return z < 0 ? expm1f(z) : z;
#else
    case GC_ACT_TANH: return tanh(z);
    case GC_ACT_SOFTSIGN: return z / (1.0 + fabs(z));
    case GC_ACT_ELU: return z < 0 ? expm1(z) : z;
#endif
    case GC_ACT_RELU: return z < 0 ? (real)0 : z;
    case GC_ACT_LEAKY_RELU: return z < 0 ? (real)GC_LEAKY_SLOPE * z : z;
    case GC_ACT_PRELU: return z < 0 ? s * z : z;
    default: return z; /* GC_ACT_LINEAR */
    }
}

/* g phi'(z), the back-propagated g times the derivative, from a = phi(z); not for PReLU.
 * (The sigmoid's is (g a)(1 - a), the order of the book's network2.py.) */
static inline real dact_mul_scalar(real g, real a, int act)
{
    switch (act) {
    case GC_ACT_SIGMOID: return g * a * ((real)1 - a);
    case GC_ACT_TANH: return g * ((real)1 - a * a);
    case GC_ACT_SOFTSIGN: {
        const real c = (real)1 - (a < 0 ? -a : a);
        return g * (c * c);
    }
    case GC_ACT_RELU: return a > 0 ? g : (real)0 * g;
    case GC_ACT_LEAKY_RELU: return a > 0 ? g : (real)GC_LEAKY_SLOPE * g;
    case GC_ACT_ELU: return a > 0 ? g : g * (a + (real)1);
    default: return g; /* GC_ACT_LINEAR */
    }
}

#endif
