/* Loading a video VAE's f32 weights by name, as the Wan and CogVideoX VAEs do: from safetensors,
 * recording which entries were read so that weights the config does not describe are caught, or
 * seeded random ones (roughly torch's initialisation) for benchmarks. */
#ifndef VS_MODELS_COMMON_VAE_WEIGHTS_H
#define VS_MODELS_COMMON_VAE_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/safetensors.h"
#include "vidsparse.h"

typedef struct vs_vae_weights {
    const vs_safetensors *st; /* NULL: seeded random weights */
    uint64_t seed;
    const char **used; /* names read so far (pointing into st) */
    size_t n_used, cap_used;
} vs_vae_weights;

/* *out = the stored tensor `name` as f32 of exactly `shape`, or random: uniform in +-1/sqrt(fan_in)
 * (biases, ndim 1: +-0.1), and 1 +- 0.1 when norm_scale. */
vs_status vs_vae_weight(vs_vae_weights *w, const char *name, int ndim, const int64_t *shape, int norm_scale,
                        vs_tensor *out);
/* Every stored weight whose name starts with one of the n prefixes was read; else VS_ERR_FORMAT
 * "weight NAME is not part of the <what> config.json describes". */
vs_status vs_vae_weights_check_used(const vs_vae_weights *w, const char *const *prefixes, int n, const char *what);
void vs_vae_weights_release(vs_vae_weights *w);

/* buf = printf(fmt, ...), failing rather than truncating. */
vs_status VS_PRINTF(3, 4) vs_vae_name(char *buf, size_t cap, const char *fmt, ...);

#endif
