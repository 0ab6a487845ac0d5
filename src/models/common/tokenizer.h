/* The umT5 tokenizer: a SentencePiece unigram model, loaded either from a
 * sentencepiece `spiece.model` (protobuf) or from a Hugging Face
 * `tokenizer.json`, and reproducing the library that reads each format
 * token for token:
 *   spiece.model   -> sentencepiece: precompiled charsmap (longest match),
 *                     dummy prefix, extra-whitespace removal, U+2581 escaping,
 *                     Viterbi over the whole string, byte fallback, EOS.
 *   tokenizer.json -> tokenizers: added (special) tokens split first, then
 *                     normalizers (Precompiled per grapheme cluster, Strip,
 *                     Replace), pre-tokenizers (WhitespaceSplit, Metaspace),
 *                     Viterbi per word, byte fallback or fused unknowns, and
 *                     the TemplateProcessing post-processor (EOS).
 * The two libraries differ on some inputs (docs/text-encoder.md lists how);
 * the Wan pipeline uses tokenizer.json, so a folder holding both loads that. */
#ifndef VS_MODELS_COMMON_TOKENIZER_H
#define VS_MODELS_COMMON_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_tokenizer vs_tokenizer;

/* `path`: a folder holding tokenizer.json or spiece.model (tokenizer.json
 * preferred), or one of those files. */
vs_status vs_tokenizer_load(vs_tokenizer **out, const char *path);
/* From memory; `label` names the source in error messages. */
vs_status vs_tokenizer_load_spm(vs_tokenizer **out, const void *data, size_t len, const char *label);
vs_status vs_tokenizer_load_json(vs_tokenizer **out, const char *text, size_t len, const char *label);
void vs_tokenizer_free(vs_tokenizer *tok);

int vs_tokenizer_vocab_size(const vs_tokenizer *tok);
int vs_tokenizer_pad_id(const vs_tokenizer *tok);
/* The piece of `id` (NULL when out of range); `len` receives its byte length. */
const char *vs_tokenizer_piece(const vs_tokenizer *tok, int id, size_t *len);

/* Encodes `len` bytes of UTF-8 text, with the end-of-sequence token
 * appended as the reference library does. On success *ids is malloc'ed
 * (free() it) and holds *count ids. */
vs_status vs_tokenizer_encode(const vs_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                              size_t *count);

/* As the Wan pipeline calls its tokenizer: truncated to `max_length` tokens
 * (the EOS kept last), padded with the pad id to exactly `max_length`;
 * mask[i] is 1 for real tokens and 0 for padding; *count real tokens. */
vs_status vs_tokenizer_encode_padded(const vs_tokenizer *tok, const char *text, size_t len, int max_length,
                                     int32_t *ids, int32_t *mask, int *count);

#ifdef __cplusplus
}
#endif
#endif
