/* The Wan forward's intermediates (vs_wan_model_set_probe) against a fixture's
 * (tools/make_wan_fixtures.py saves diffusers' under the same names), for
 * tests/test_wan.c and tests/gpu/test_wan_cuda.c: the first that diverges names
 * the block and sub-layer where the forward goes wrong. */
#ifndef VS_TEST_WAN_INTERMEDIATES_H
#define VS_TEST_WAN_INTERMEDIATES_H

#include <stdio.h>

#include "check.h"
#include "io/safetensors.h"

typedef struct {
    const vs_safetensors *st; /* the fixture */
    double tol;               /* on the relative L2 error */
    int seen;                 /* intermediates the forward showed */
    char first_bad[160];      /* the first to diverge, be missing or differ in size; "" while none */
} wan_intermediates;

/* Compares intermediate `name`, n host values (NULL: they could not be read), with the fixture's. */
static inline void wan_intermediate_check(wan_intermediates *c, const char *name, const float *got, int64_t n) {
    c->seen++;
    if (c->first_bad[0]) return;
    vs_tensor ref = {0};
    double err = NAN;
    if (!got)
        snprintf(c->first_bad, sizeof c->first_bad, "%s: could not be read", name);
    else if (vs_safetensors_load(c->st, name, VS_F32, VS_CPU, 0, NULL, &ref) != VS_OK)
        snprintf(c->first_bad, sizeof c->first_bad, "%s: %s", name, vs_last_error());
    else if (vs_tensor_numel(&ref) != n)
        snprintf(c->first_bad, sizeof c->first_bad, "%s: %lld values, diffusers has %lld", name, (long long)n,
                 (long long)vs_tensor_numel(&ref));
    else if (!((err = vs_test_rel_l2_f32(got, ref.data, n)) < c->tol))
        snprintf(c->first_bad, sizeof c->first_bad, "%s: rel L2 %g", name, err);
    vs_tensor_free(&ref);
}

#endif
