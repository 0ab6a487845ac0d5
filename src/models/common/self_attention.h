/* A DiT's self-attention call, as every family makes it: this rank's q, k, v
 * ([B, n, H*D], the layout the projections write) through the model's sparse
 * attention object (dense in the warm-up, else its method; src/sparse/), with
 * the heads sent to their ranks and back around it under sequence
 * parallelism (models/common/ulysses.h), and the time it takes on the
 * forward's attention clock. */
#ifndef VS_MODELS_COMMON_SELF_ATTENTION_H
#define VS_MODELS_COMMON_SELF_ATTENTION_H

#include "core/arena.h"
#include "core/gpu_timer.h"
#include "models/common/ulysses.h"
#include "sparse/sparse_attention.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a forward's attention time goes: CUDA events around GPU work
 * (timer, read once after the forward), the host clock on the CPU. */
typedef struct vs_attention_clock {
    vs_gpu_timer *timer; /* NULL on the CPU */
    double host_s;       /* CPU: seconds so far */
    double started;      /* CPU: the running interval's start */
} vs_attention_clock;

vs_status vs_attention_clock_start(vs_attention_clock *clock);
vs_status vs_attention_clock_stop(vs_attention_clock *clock);

/* [B, N, H * D] as [B, N, H, D]. */
vs_tensor vs_heads_view(const vs_tensor *t, int heads);

/* out = SelfAttn(q, k, v) for block `layer` at denoising step `step` of `num_steps`. q, k, v, out: this
 * rank's tokens [B, n, H*D]; scratch: [B, n, H*D], free during the call (it packs the exchange). */
vs_status vs_dit_self_attention(const vs_ulysses *u, vs_arena *arena, vs_sparse_attention *attention, int layer,
                                int step, int num_steps, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                vs_tensor *scratch, vs_tensor *out, vs_attention_clock *clock);

#ifdef __cplusplus
}
#endif
#endif
