#include "backend/cpu/vae_cpu.h"

#include <math.h>
#include <string.h>

#include "core/threadpool.h"

typedef struct {
    float *x;
    const float *gamma, *bias;
    int c, silu;
    int64_t hw, blocks_per_frame;
    float scale;
} norm_args;

enum { NORM_BLOCK = 256 };

/* Blocks of up to NORM_BLOCK pixels of one frame: the channel loop is outside
 * so every pass reads contiguous memory. */
static void norm_blocks(void *ctx, int64_t begin, int64_t end) {
    const norm_args *g = ctx;
    double ss[NORM_BLOCK];
    float inv[NORM_BLOCK];
    for (int64_t b = begin; b < end; b++) {
        float *base = g->x + b / g->blocks_per_frame * g->c * g->hw;
        int64_t p0 = b % g->blocks_per_frame * NORM_BLOCK;
        int n = (int)(g->hw - p0 < NORM_BLOCK ? g->hw - p0 : NORM_BLOCK);
        memset(ss, 0, sizeof ss);
        for (int ch = 0; ch < g->c; ch++) {
            const float *row = base + ch * g->hw + p0;
            for (int p = 0; p < n; p++)
                ss[p] += (double)row[p] * row[p];
        }
        for (int p = 0; p < n; p++) {
            double norm = sqrt(ss[p]);
            inv[p] = (float)(g->scale / (norm > 1e-12 ? norm : 1e-12));
        }
        for (int ch = 0; ch < g->c; ch++) {
            float *row = base + ch * g->hw + p0;
            float gain = g->gamma[ch], shift = g->bias ? g->bias[ch] : 0.0f;
            for (int p = 0; p < n; p++) {
                float v = row[p] * inv[p] * gain + shift;
                row[p] = g->silu ? v / (1.0f + expf(-v)) : v;
            }
        }
    }
}

void vs_cpu_vae_rmsnorm(float *x, const float *gamma, const float *beta, int64_t frames, int c,
                        int64_t pixels, float scale, int silu) {
    int64_t per_frame = (pixels + NORM_BLOCK - 1) / NORM_BLOCK;
    norm_args g = {x, gamma, beta, c, silu, pixels, per_frame, scale};
    vs_parallel_for(frames * per_frame, 1 + 4096 / (c * NORM_BLOCK), norm_blocks, &g);
}
