/* The prompt side of HunyuanVideoPipeline (diffusers), on the tokenizers and
 * encoders of models/common:
 *   Llama:  prompt_template["template"].format(prompt), tokenized with BOS,
 *           padded / truncated to crop_start + max_sequence_length tokens,
 *           hidden_states[-(num_hidden_layers_to_skip + 1)] (vs_llama_load's
 *           skip), then the first crop_start rows and mask entries dropped;
 *   CLIP:   the prompt tokenized to 77 tokens (padded, truncated, EOS kept),
 *           pooler_output.
 * Padding rows of the Llama embeddings (mask 0) are written as zeros: the
 * transformer masks them out as keys. */
#ifndef VS_MODELS_COMMON_TEXT_PROMPT_H
#define VS_MODELS_COMMON_TEXT_PROMPT_H

#include <stdint.h>

#include "models/common/bpe.h"
#include "models/common/clip_text.h"
#include "models/common/llama.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pipeline's DEFAULT_PROMPT_TEMPLATE and its settings. */
extern const char vs_hunyuan_prompt_template[];
enum { VS_HUNYUAN_CROP_START = 95, VS_HUNYUAN_MAX_TOKENS = 256, VS_HUNYUAN_SKIP_LAYERS = 2, VS_HUNYUAN_CLIP_TOKENS = 77 };

/* Python's template.format(prompt) for a template with one "{}" ("{{" and
 * "}}" are literal braces); *out is malloc'ed. */
vs_status vs_prompt_format(const char *template_text, const char *prompt, char **out);

/* The pipeline's Llama token ids and mask, crop_start + max_length of each. */
vs_status vs_llama_prompt_tokens(const vs_bpe *tok, const char *template_text, int crop_start, int max_length,
                                 const char *prompt, int32_t *ids, int32_t *mask);

/* prompt_embeds F32 [max_length, hidden_size] and prompt_attention_mask
 * [max_length] into host memory, for one prompt. */
vs_status vs_llama_prompt_encode(const vs_bpe *tok, const vs_llama *model, const char *template_text, int crop_start,
                                 int max_length, const char *prompt, float *embeds, int32_t *mask);

/* The same from token ids and mask (crop_start + max_length of each, host): the Llama hidden states with
 * the first crop_start rows and mask entries dropped and the padded rows zeroed. */
vs_status vs_llama_encode_cropped(const vs_llama *model, const int32_t *ids, const int32_t *full_mask, int crop_start,
                                  int max_length, float *embeds, int32_t *mask);

/* pooled_prompt_embeds F32 [hidden_size] (host) for one prompt, max_length 77 in the pipeline. */
vs_status vs_clip_prompt_encode(const vs_bpe *tok, const vs_clip_text *model, const char *prompt, int max_length,
                                float *pooled);

#ifdef __cplusplus
}
#endif
#endif
