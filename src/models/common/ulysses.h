/* Ulysses sequence parallelism for a DiT, over the ranks of a vs_comm.
 *
 * Rank r holds tokens [t0_r, t0_r + n_r) with all H heads ("token side",
 * [B, n_r, H*D]) around self-attention and heads [h0_r, h0_r + k_r) of all N
 * tokens ("head side", [B, N, k_r*D]) inside it; token and head counts differ
 * by at most one between ranks, the larger shares first. The all-to-all
 * between the sides moves one block per pair of ranks: rank r's tokens of
 * rank d's heads, packed as [B][n_r][k_d*D]; received on d from every r in
 * rank order, these blocks stack to [r][B][n_r][k_d*D], which is the head-side
 * tensor itself when B = 1 (else one strided copy per rank reorders them).
 * Without a communicator the one rank holds everything and nothing moves. */
#ifndef VS_MODELS_COMMON_ULYSSES_H
#define VS_MODELS_COMMON_ULYSSES_H

#include <stdint.h>

#include "core/arena.h"
#include "parallel/comm.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_ulysses {
    vs_comm *comm;         /* NULL: one rank */
    int64_t batch, tokens; /* B, N: the whole sequence */
    int heads, head_dim;   /* H, D of the model */
    int64_t tok0, local;   /* this rank's tokens [tok0, tok0 + local) */
    int head0, local_heads; /* this rank's self-attention heads [head0, head0 + local_heads) */
} vs_ulysses;

/* Part i of n items over `parts` ranks: sizes differ by at most one, the larger ones first. */
void vs_ulysses_split(int64_t n, int parts, int i, int64_t *start, int64_t *count);

/* This rank's shares of B x N tokens and H heads of D; fails when there are fewer tokens than ranks. */
vs_status vs_ulysses_init(vs_ulysses *u, vs_comm *comm, int64_t batch, int64_t tokens, int heads, int head_dim);

/* Token side in [B, n, H*D] -> head side out [B, N, k*D], through `tok` (B*n*H*D elements, free during the
 * call) and, when B > 1, an arena buffer. */
vs_status vs_ulysses_to_heads(const vs_ulysses *u, vs_arena *arena, const vs_tensor *in, vs_tensor *tok,
                              vs_tensor *out);
/* The way back: head side in [B, N, k*D] -> token side out [B, n, H*D]. */
vs_status vs_ulysses_to_tokens(const vs_ulysses *u, vs_arena *arena, const vs_tensor *in, vs_tensor *tok,
                               vs_tensor *out);
/* Every rank's rows of `mine` [B, n_r, Y] -> all of them [B, N, Y] on every rank, in *all (from the arena;
 * `all` may be `mine`, which then becomes the result). */
vs_status vs_ulysses_gather_tokens(const vs_ulysses *u, vs_arena *arena, const vs_tensor *mine, vs_tensor *all);
/* This rank's tokens of `whole` [B, N, K] into `mine` [B, n, K]. */
vs_status vs_ulysses_my_tokens(const vs_ulysses *u, const vs_tensor *whole, vs_tensor *mine);

#ifdef __cplusplus
}
#endif
#endif
