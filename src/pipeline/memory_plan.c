#include "pipeline/memory_plan.h"

#include <string.h>

#include "core/status.h"

const char *vs_stage_name(vs_stage stage) {
    static const char *const names[VS_STAGE_COUNT] = {"text encoding", "denoising", "VAE decoding"};
    return stage >= 0 && stage < VS_STAGE_COUNT ? names[stage] : "?";
}

static double gib(size_t bytes) { return (double)bytes / (double)(1ull << 30); }

vs_status vs_memory_plan_make(const vs_stage_memory need[VS_STAGE_COUNT], size_t budget, size_t in_use,
                              vs_memory_plan *out) {
    memset(out, 0, sizeof *out);
    memcpy(out->need, need, sizeof out->need);
    out->budget = budget, out->in_use = in_use;
    const size_t base = in_use + VS_PLAN_WORKSPACE;
    size_t weights = 0, largest_work = 0;
    for (int i = 0; i < VS_STAGE_COUNT; i++) {
        weights += need[i].weights;
        if (need[i].work > largest_work) largest_work = need[i].work;
    }
    /* Resident: every stage runs beside all the weights. */
    if (!budget || base + weights + largest_work <= budget) {
        out->resident = 1;
        for (int i = 0; i < VS_STAGE_COUNT; i++) out->peak[i] = base + weights + need[i].work;
        return VS_OK;
    }
    /* Staged: each stage alone, but the DiT may stay for the decode. */
    for (int i = 0; i < VS_STAGE_COUNT; i++) out->peak[i] = base + need[i].weights + need[i].work;
    const size_t with_dit = out->peak[VS_STAGE_DECODE] + need[VS_STAGE_DENOISE].weights;
    const vs_stage_memory *decode = &need[VS_STAGE_DECODE];
    if (with_dit <= budget) out->keep_dit_for_decode = 1, out->peak[VS_STAGE_DECODE] = with_dit;
    else if (out->peak[VS_STAGE_DECODE] > budget && decode->work_tiled && decode->work_tiled < decode->work)
        out->tile_vae = 1, out->peak[VS_STAGE_DECODE] = base + decode->weights + decode->work_tiled;
    for (int i = 0; i < VS_STAGE_COUNT; i++)
        if (out->peak[i] > budget)
            return vs_fail(VS_ERR_OOM,
                           "GPU memory budget %.2f GiB is too small for %s: it needs %.2f GiB (weights %.2f + "
                           "activations %.2f + workspace allowance %.2f + %.2f already in use)",
                           gib(budget), vs_stage_name((vs_stage)i), gib(out->peak[i]), gib(need[i].weights),
                           gib(out->tile_vae && i == VS_STAGE_DECODE ? need[i].work_tiled : need[i].work),
                           gib(VS_PLAN_WORKSPACE), gib(in_use));
    return VS_OK;
}
