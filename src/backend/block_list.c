#include "backend/block_list.h"

#include <stdlib.h>

#include "core/status.h"

void vs_attn_block_list_free(vs_attn_block_list *blocks) {
    if (!blocks) return;
    free(blocks->row_ptr);
    free(blocks->col_idx);
    *blocks = (vs_attn_block_list){0};
}

/* A tail longer than this many blocks is not taken: the band path copies its tokens next to the sink (and the
 * memory plans count the copy, vs_attn_band_scratch_max). */
static int longest_tail(int nb) { return nb / 8 + 2; }

/* The (sink, half, tail) of row i when its key blocks are [0, sink), [i - half, i + half] and [tail, nb) with
 * gaps between the three (the tail may be empty: tail = nb); 0 when the row has another shape. */
static int clean_band_row(const vs_attn_blocks *b, int i, vs_attn_band *p) {
    const int32_t *col = b->col_idx + b->row_ptr[i];
    const int n = b->row_ptr[i + 1] - b->row_ptr[i], nb = b->num_k_blocks;
    int s = 0;
    while (s < n && col[s] == s) s++; /* the run that starts at key block 0 */
    int e = s;
    while (e + 1 < n && col[e + 1] == col[e] + 1) e++; /* the band: col[s] .. col[e] */
    if (s == 0 || s >= n || col[s] <= s) return 0;
    const int lo = col[s], hi = col[e], tail = e + 1 < n ? col[e + 1] : nb;
    if (n - (e + 1) != nb - tail) return 0; /* sorted and distinct: then the tail runs unbroken to the end */
    if (hi >= tail - 1 || (hi - lo) % 2 || lo + (hi - lo) / 2 != i || nb - tail > longest_tail(nb)) return 0;
    *p = (vs_attn_band){i, 1, s, (hi - lo) / 2, tail};
    return 1;
}

/* Whether row i's key blocks are exactly those p describes for it (vs_attn_band in block_list.h). */
static int fits_band(const vs_attn_blocks *b, const vs_attn_band *p, int i) {
    const int lo = vs_attn_band_lo(p, i), hi = vs_attn_band_hi(p, i), nb = b->num_k_blocks;
    const int32_t *col = b->col_idx + b->row_ptr[i];
    if (lo > hi || b->row_ptr[i + 1] - b->row_ptr[i] != p->sink + (hi - lo + 1) + (nb - p->tail)) return 0;
    int k = 0;
    for (int j = 0; j < p->sink; j++)
        if (col[k++] != j) return 0;
    for (int j = lo; j <= hi; j++)
        if (col[k++] != j) return 0;
    for (int j = p->tail; j < nb; j++)
        if (col[k++] != j) return 0;
    return 1;
}

vs_attn_band vs_attn_find_band(const vs_attn_blocks *blocks) {
    vs_attn_band best = {0, 0, 0, 0, blocks->num_k_blocks};
    for (int i = 0; i < blocks->num_q_blocks; i++) {
        vs_attn_band run;
        if (!clean_band_row(blocks, i, &run)) continue;
        while (run.first > 0 && fits_band(blocks, &run, run.first - 1)) run.first--, run.count++;
        while (run.first + run.count < blocks->num_q_blocks && fits_band(blocks, &run, run.first + run.count))
            run.count++;
        if (run.count > best.count) best = run;
        i = run.first + run.count - 1; /* the rows of this run are done */
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
    const size_t token_bytes = 2 * (size_t)heads * head_dim, block_bytes = token_bytes * VS_ATTN_BLOCK;
    vs_attn_band_scratch s;
    s.rest_entries = after ? (before + 3) / 4 * 4 + after : before;
    s.gathered = token_bytes * (size_t)(2 * vs_attn_band_tail_tokens(rows, seq_len)) + 3 * block_bytes * (size_t)nb;
    s.part = block_bytes * (size_t)rows->count;
    s.lse = sizeof(float) * (size_t)rows->count * VS_ATTN_BLOCK * heads;
    s.rest = block_bytes * (size_t)s.rest_entries;
    return s;
}

size_t vs_attn_band_scratch_total(const vs_attn_band_scratch *s) { return s->gathered + 2 * (s->part + s->lse) + s->rest; }

size_t vs_attn_band_scratch_max(int seq_len, int heads, int head_dim) {
    /* A band of c of the nb blocks leaves at most nb - c + 3 rest entries, so the outputs (2 part + rest) take
     * at most 2c + nb - c + 3 <= 2 nb + 3 blocks: the whole list as the band, plus 3 blocks; the tail copied
     * twice is at most longest_tail(nb) blocks. */
    const int nb = (seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    const vs_attn_band whole = {0, nb, 0, 0, nb};
    vs_attn_band_scratch s = vs_attn_band_scratch_of(&whole, seq_len, heads, head_dim);
    const size_t block_bytes = 2 * (size_t)heads * head_dim * VS_ATTN_BLOCK;
    s.gathered += 2 * block_bytes * (size_t)longest_tail(nb);
    s.rest = 3 * block_bytes;
    return vs_attn_band_scratch_total(&s);
}
