/* Weight helpers the DiTs share (HunyuanVideo, CogVideoX): the output layer's
 * rows reordered for vs_op_unpatchify, and seeded random weights for benchmarks
 * and tests. */
#ifndef VS_MODELS_COMMON_DIT_WEIGHTS_H
#define VS_MODELS_COMMON_DIT_WEIGHTS_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* In place: a proj_out weight [C * vol, in] or bias [C * vol] with rows in diffusers' (channel, place in the
 * patch) order, to (place, channel), the order vs_op_unpatchify reads. */
vs_status vs_dit_rows_channel_last(vs_tensor *t, int channels);

/* dst: a new tensor of `shape` filled as torch roughly initialises it, so activations keep their scale through
 * the layers: norm weights (a 1-D tensor named "...norm....weight") uniform in 1 +- 0.1, the rest in
 * +-1/sqrt(fan_in) (1-D: fan_in 1024); `stream` picks the tensor's own numbers from `seed`. */
vs_status vs_dit_random_weight(vs_tensor *dst, const char *name, vs_dtype dtype, vs_device device, int ndim,
                               const int64_t *shape, uint64_t seed, int64_t stream);

#ifdef __cplusplus
}
#endif
#endif
