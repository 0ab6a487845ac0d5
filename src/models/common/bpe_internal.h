/* Shared between the BPE algorithms (bpe.c) and loading (bpe_load.c). Not a public header. */
#ifndef VS_MODELS_COMMON_BPE_INTERNAL_H
#define VS_MODELS_COMMON_BPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "models/common/bpe.h"
#include "models/common/tokenizer_internal.h" /* vs_tok_utf8_decode, vs_tok_read_file */

typedef struct {
    uint32_t *p;
    size_t len, cap;
} vs_bpe_u32;

/* An added token, matched on the raw text (normalized 0) or after normalization. */
typedef struct {
    char *text;
    size_t len;
    uint32_t *cps;
    size_t n_cps;
    int32_t id;
    int normalized;
} vs_bpe_added;

/* Merge of the pair (key >> 32, key & 0xFFFFFFFF) into `merged`; rank -1: empty slot. */
typedef struct {
    uint64_t key;
    int32_t rank, merged;
} vs_bpe_merge;

struct vs_bpe {
    int clip;          /* CLIP's normalizers and regex; else Llama 3's regex */
    int byte_regex;    /* CLIP: ByteLevel's GPT-2 regex runs after CLIP's (it splits only <|...|> pieces) */
    int eow;           /* "</w>" ends a word's last symbol */
    int ignore_merges; /* a word found whole in the vocabulary is one token */

    char *pool; /* token strings, by id (offset, length); an id without a string has length 0 */
    size_t pool_len;
    uint32_t *tok_off, *tok_len;
    int n_ids;
    int32_t *vocab_slots; /* open addressing over the model's vocabulary: id or -1 */
    uint32_t vocab_mask;
    vs_bpe_merge *merges;
    uint32_t merge_mask;
    int unk_id;

    uint32_t byte_char[256];               /* GPT-2's printable character for each byte */
    int32_t byte_id[256], byte_eow_id[256]; /* its id, and with "</w>" (-1 if absent) */

    vs_bpe_added *added;
    int n_added;

    int32_t prefix[4], suffix[4]; /* special tokens around the text */
    int n_prefix, n_suffix;
    int pad_id, pad_right;
};

int vs_bpe_u32_push(vs_bpe_u32 *v, uint32_t x);
/* Id of the model vocabulary entry spelled s[0..len), or -1. */
int32_t vs_bpe_lookup(const vs_bpe *t, const char *s, size_t len);
/* Index of the longest added token (of that `normalized` kind) at c[0..n), or -1. */
int vs_bpe_match_added(const vs_bpe *t, const uint32_t *c, size_t n, int normalized);

#endif
