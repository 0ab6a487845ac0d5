/* The T5-family text side of a diffusers pipeline folder (Wan's umT5, CogVideoX's T5 v1.1): the tokenizer
 * (tokenizer/) and the encoder (text_encoder/), or for benchmarks a random encoder without a tokenizer, whose
 * prompts map to ids byte by byte. The functions have the family table's signatures (models/family.h), so a
 * family names them directly; each family encodes prompts its pipeline's way. */
#ifndef VS_MODELS_COMMON_T5_TEXT_H
#define VS_MODELS_COMMON_T5_TEXT_H

#include <stdint.h>

#include "models/common/tokenizer.h"
#include "models/common/umt5.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_t5_text {
    vs_tokenizer *tokenizer; /* NULL for a random encoder */
    vs_umt5 *encoder;
} vs_t5_text;

/* dir/tokenizer and dir/text_encoder into a new vs_t5_text (*out). */
vs_status vs_t5_text_load(const char *dir, vs_device device, void **out);
/* A random encoder of `config`'s shape and no tokenizer. */
vs_status vs_t5_text_random(const vs_umt5_config *config, vs_device device, uint64_t seed, void **out);
void vs_t5_text_free(void *text);
vs_status vs_t5_text_set_precision(void *text, vs_precision precision);

/* The ids of a prompt without a tokenizer: byte i + 3 (past the pad, end and unknown ids), then the end id (1),
 * then padding (0), max_length in all; mask (may be NULL) 1 up to the end id, 0 after. Returns how many are not
 * padding. The encoder's work is the same for any ids. */
int vs_t5_byte_ids(const char *prompt, int max_length, int32_t *ids, int32_t *mask);

#ifdef __cplusplus
}
#endif
#endif
