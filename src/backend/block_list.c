#include "backend/block_list.h"

#include <stdlib.h>

#include "core/status.h"

void vs_attn_block_list_free(vs_attn_block_list *blocks) {
    if (!blocks) return;
    free(blocks->row_ptr);
    free(blocks->col_idx);
    *blocks = (vs_attn_block_list){0};
}

/* Row i's (sink, half) when its key blocks are [0, sink) and [i - half, i + half] as vs_attn_band
 * wants; 0 when the row has another shape. */
static int band_row(const vs_attn_blocks *b, int full_blocks, int i, int *sink, int *half) {
    const int32_t *col = b->col_idx + b->row_ptr[i];
    const int n = b->row_ptr[i + 1] - b->row_ptr[i];
    int s = 0;
    while (s < n && col[s] == s) s++; /* the run that starts at key block 0 */
    const int band = n - s, lo = band > 0 ? col[s] : 0, hi = lo + band - 1;
    if (s == 0 || band == 0 || lo <= s || col[n - 1] != hi || (band - 1) % 2 || lo + (band - 1) / 2 != i ||
        hi >= full_blocks || i >= full_blocks)
        return 0;
    *sink = s, *half = (band - 1) / 2;
    return 1;
}

vs_attn_band vs_attn_find_band(const vs_attn_blocks *blocks, int seq_len) {
    vs_attn_band best = {0, 0, 0, 0}, run = {0, 0, 0, 0};
    const int full_blocks = seq_len / VS_ATTN_BLOCK;
    for (int i = 0; i < blocks->num_q_blocks; i++) {
        int sink, half;
        if (!band_row(blocks, full_blocks, i, &sink, &half)) {
            run.count = 0;
            continue;
        }
        if (run.count > 0 && run.sink == sink && run.half == half) run.count++;
        else run = (vs_attn_band){i, 1, sink, half};
        if (run.count > best.count) best = run;
    }
    return best;
}

vs_status vs_attn_blocks_without_rows(const vs_attn_blocks *blocks, int seq_len, int first, int count,
                                     vs_attn_block_list *out) {
    *out = (vs_attn_block_list){0};
    const int nb = blocks->num_q_blocks;
    out->row_ptr = malloc(sizeof(int32_t) * ((size_t)nb + 1));
    out->col_idx = malloc(sizeof(int32_t) * ((size_t)blocks->row_ptr[nb] + 1));
    if (!out->row_ptr || !out->col_idx) {
        vs_attn_block_list_free(out);
        return vs_fail(VS_ERR_OOM, "svg: no memory for a block list of %d rows", nb);
    }
    int32_t n = 0;
    double elements = 0;
    for (int i = 0; i < nb; i++) {
        out->row_ptr[i] = n;
        if (i >= first && i < first + count) continue;
        for (int e = blocks->row_ptr[i]; e < blocks->row_ptr[i + 1]; e++) {
            out->col_idx[n++] = blocks->col_idx[e];
            elements += (double)vs_attn_block_tokens(i, seq_len) * (double)vs_attn_block_tokens(blocks->col_idx[e], seq_len);
        }
    }
    out->row_ptr[nb] = n;
    out->view = (vs_attn_blocks){nb, blocks->num_k_blocks, out->row_ptr, out->col_idx};
    out->density = elements / ((double)seq_len * seq_len);
    return VS_OK;
}

vs_attn_band_scratch vs_attn_band_scratch_of(const vs_attn_band *rows, int seq_len, int heads, int head_dim) {
    const int nb = (seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    /* The rows outside the band: those before it from entry 0, those after it from the next multiple of 4. */
    const int before = rows->count ? rows->first : nb, after = rows->count ? nb - rows->first - rows->count : 0;
    const size_t block_bytes = 2 * (size_t)heads * head_dim * VS_ATTN_BLOCK; /* 128 tokens of 16-bit values */
    vs_attn_band_scratch s;
    s.rest_entries = after ? (before + 3) / 4 * 4 + after : before;
    s.all = block_bytes * (size_t)nb;
    s.part = block_bytes * (size_t)rows->count;
    s.lse = sizeof(float) * (size_t)rows->count * VS_ATTN_BLOCK * heads;
    s.rest = block_bytes * (size_t)s.rest_entries;
    return s;
}

size_t vs_attn_band_scratch_total(const vs_attn_band_scratch *s) { return 3 * s->all + 2 * (s->part + s->lse) + s->rest; }

size_t vs_attn_band_scratch_max(int seq_len, int heads, int head_dim) {
    /* A band of c of the nb blocks leaves at most nb - c + 3 rest entries, so the outputs (2 part + rest) take
     * at most 2c + nb - c + 3 <= 2 nb + 3 blocks: the whole list as the band, plus 3 blocks. */
    const int nb = (seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    const vs_attn_band whole = {0, nb, 0, 0};
    vs_attn_band_scratch s = vs_attn_band_scratch_of(&whole, seq_len, heads, head_dim);
    s.rest = 3 * (2 * (size_t)heads * head_dim * VS_ATTN_BLOCK);
    return vs_attn_band_scratch_total(&s);
}
