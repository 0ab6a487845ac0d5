/* libFuzzer target: byte-level BPE tokenizers (src/models/common/bpe.h) from
 * arbitrary files, encoding arbitrary text. Input: 'J' tokenizer.json NUL
 * text, or 'V' vocab.json NUL merges.txt NUL text. A file is either refused
 * with a message or loads into a tokenizer that encodes (or refuses invalid
 * UTF-8) without crashes, leaks or undefined behaviour; every id it gives
 * lies inside its vocabulary. Seed corpus: fuzz/corpus/bpe
 * (tools/make_bpe_fixtures.py). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/common/bpe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated part of [*p, end), or all that is left. */
static const char *part(const uint8_t **p, const uint8_t *end, size_t *len) {
    const uint8_t *start = *p, *nul = memchr(start, 0, (size_t)(end - start));
    *len = (size_t)((nul ? nul : end) - start);
    *p = nul ? nul + 1 : end;
    return (const char *)start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || (data[0] != 'J' && data[0] != 'V')) return 0;
    const uint8_t *p = data + 1, *end = data + size;
    size_t a_len, b_len = 0, text_len;
    const char *a = part(&p, end, &a_len), *b = data[0] == 'V' ? part(&p, end, &b_len) : NULL;
    const char *text = part(&p, end, &text_len);
    vs_bpe *tok;
    vs_status s = data[0] == 'J' ? vs_bpe_load_json(&tok, a, a_len, "fuzz.json")
                                 : vs_bpe_load_vocab_merges(&tok, a, a_len, b, b_len, "fuzz vocab");
    if (s != VS_OK) return 0;
    int32_t *ids;
    size_t n;
    if (vs_bpe_encode(tok, text, text_len, &ids, &n) == VS_OK) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= vs_bpe_vocab_size(tok)) __builtin_trap();
        free(ids);
    }
    int32_t padded[16], mask[16];
    int count;
    if (vs_bpe_set_padding(tok, 0, text_len % 2) == VS_OK &&
        vs_bpe_encode_padded(tok, text, text_len, 16, padded, mask, &count) == VS_OK && (count < 0 || count > 16))
        __builtin_trap();
    vs_bpe_free(tok);
    return 0;
}
