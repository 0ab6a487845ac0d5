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

/* The whole text stage of a pipeline folder: loads DIR/tokenizer and
 * DIR/text_encoder (the encoder on `device`), encodes `prompt` into cond and,
 * when uncond is given, `negative` into uncond, each allocated here as an F32
 * host tensor [1, max_length, d_model]; frees the encoder before returning. */
vs_status vs_wan_encode_prompts(const char *dir, vs_device device, const char *prompt, const char *negative,
                                int max_length, vs_tensor *cond, vs_tensor *uncond);

#ifdef __cplusplus
}
#endif
#endif
