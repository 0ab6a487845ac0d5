/* Prompt to text embeddings, as the diffusers Wan pipeline does it
 * (WanPipeline._get_t5_prompt_embeds). */
#ifndef VS_MODELS_WAN_PROMPT_H
#define VS_MODELS_WAN_PROMPT_H

#include "models/common/tokenizer.h"
#include "models/common/umt5.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The negative prompt the diffusers Wan pipeline uses when none is given. */
#define VS_WAN_DEFAULT_NEGATIVE_PROMPT ""
/* The pipeline's max_sequence_length default. */
#define VS_WAN_TEXT_LENGTH 512

/* diffusers' prompt_clean: HTML character references unescaped twice, the
 * text stripped, runs of whitespace made one space. Differences: ftfy's
 * fix_text (used when ftfy is installed) is not applied, and of the named
 * references only amp, lt, gt, quot, apos and nbsp are known (numeric ones
 * all are). *out is malloc'ed. */
vs_status vs_wan_prompt_clean(const char *prompt, char **out);

/* Cleans, tokenizes (padded/truncated to max_length), encodes with the
 * padding mask, keeps the rows of real tokens and zeroes the rest:
 * out[max_length * d_model]. *count (may be NULL) receives the real tokens. */
vs_status vs_wan_encode_prompt(const vs_tokenizer *tok, const vs_umt5 *encoder, const char *prompt, int max_length,
                               float *out, int *count);


#ifdef __cplusplus
}
#endif
#endif
