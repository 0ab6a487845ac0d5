/* The device-memory plan of a text-to-video generation: which components stay
 * loaded, from each stage's need (models/family.h: weights and working memory,
 * estimated from the configurations before anything is loaded) and a budget.
 *
 *   resident   all three components loaded at once and kept between generations,
 *              when their weights plus the largest stage's working memory fit;
 *   staged     each component loaded when its stage starts; the text encoder freed
 *              after encoding, the DiT kept through the decode only when it fits
 *              beside the VAE (else freed first), the VAE tiled when its untiled
 *              work does not fit alone, everything freed at the end;
 *   refused    when even one stage alone does not fit: a one-line error naming the
 *              stage and the numbers, before anything is loaded.
 *
 * Every stage also counts the memory in use before loading (the CUDA context,
 * other buffers) and an allowance for library workspaces (cuBLASLt, cuDNN). */
#ifndef VS_PIPELINE_MEMORY_PLAN_H
#define VS_PIPELINE_MEMORY_PLAN_H

#include <stddef.h>

#include "models/family.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The workspace allowance per stage: cuBLASLt's and cuDNN's plans for the DiT's GEMMs and attention and
 * the VAE's convolutions. */
#define VS_PLAN_WORKSPACE ((size_t)1 << 30)

typedef struct vs_memory_plan {
    size_t budget, in_use;                 /* bytes: the limit, and what was in use before loading */
    vs_stage_memory need[VS_STAGE_COUNT];  /* from the family */
    size_t peak[VS_STAGE_COUNT];           /* planned device memory in use during each stage */
    int resident;                          /* 1: everything loaded and kept */
    int keep_dit_for_decode;               /* staged: the DiT stays loaded while the VAE decodes */
    int tile_vae;                          /* staged: the VAE decodes tile by tile (its untiled work does not fit) */
} vs_memory_plan;

/* The plan for `need` within `budget` bytes (0: no limit, resident) of device memory, `in_use` of which
 * were taken before loading; fails with VS_ERR_OOM naming the stage that cannot fit and its numbers. */
vs_status vs_memory_plan_make(const vs_stage_memory need[VS_STAGE_COUNT], size_t budget, size_t in_use,
                              vs_memory_plan *out);

/* "text encoding", "denoising", "VAE decoding". */
const char *vs_stage_name(vs_stage stage);

#ifdef __cplusplus
}
#endif
#endif
