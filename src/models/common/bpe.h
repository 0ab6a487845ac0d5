/* Byte-level BPE tokenizers as the Hugging Face tokenizers library runs them,
 * token for token, in the two flavours HunyuanVideo's text encoders use:
 *   Llama 3   tokenizer.json: added (special) tokens split out first, Llama 3's
 *             pre-tokenizer regex (Split, isolated), bytes mapped to GPT-2's
 *             printable characters, merges by rank with ignore_merges (a whole
 *             word in the vocabulary is one token), "<|begin_of_text|> $A".
 *   CLIP      tokenizer.json, or vocab.json + merges.txt (what transformers'
 *             CLIPTokenizer builds from them): NFC, whitespace runs to one
 *             space, lower case; CLIP's regex (matches kept, gaps dropped);
 *             "</w>" on a word's last symbol; <|startoftext|> $A <|endoftext|>.
 * Other tokenizer.json components are refused with VS_ERR_UNSUPPORTED naming
 * them. docs/hunyuan-text.md lists what is and is not covered. */
#ifndef VS_MODELS_COMMON_BPE_H
#define VS_MODELS_COMMON_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_bpe vs_bpe;

/* `path`: a tokenizer folder (tokenizer.json, else vocab.json + merges.txt;
 * tokenizer_config.json, when present, names the pad token and the padding
 * side) or a tokenizer.json file. */
vs_status vs_bpe_load(vs_bpe **out, const char *path);
/* From memory; `label` names the source in error messages. */
vs_status vs_bpe_load_json(vs_bpe **out, const char *text, size_t len, const char *label);
vs_status vs_bpe_load_vocab_merges(vs_bpe **out, const char *vocab_json, size_t vocab_len, const char *merges,
                                   size_t merges_len, const char *label);
void vs_bpe_free(vs_bpe *tok);

int vs_bpe_vocab_size(const vs_bpe *tok);
/* Id of a vocabulary entry or added token spelled `text`, -1 if none. */
int vs_bpe_token_id(const vs_bpe *tok, const char *text);
/* The padding token (tokenizer_config.json's pad_token) or -1; `right`: pad after the text. */
vs_status vs_bpe_set_padding(vs_bpe *tok, int pad_id, int right);

/* Encodes `len` bytes of UTF-8 with the special tokens around it (the
 * post-processor's template). On success *ids is malloc'ed (free() it). */
vs_status vs_bpe_encode(const vs_bpe *tok, const char *text, size_t len, int32_t **ids, size_t *count);

/* As transformers with padding="max_length", truncation=True: the text's
 * tokens cut to fit between the special tokens, padded to exactly
 * `max_length` on the padding side; mask[i] 1 for tokens, 0 for padding;
 * *count tokens. */
vs_status vs_bpe_encode_padded(const vs_bpe *tok, const char *text, size_t len, int max_length, int32_t *ids,
                               int32_t *mask, int *count);

#ifdef __cplusplus
}
#endif
#endif
