/* Prompt to text embeddings, as CogVideoXPipeline (and the image-to-video one) does it
 * (_get_t5_prompt_embeds): the T5 tokenizer pads and truncates the prompt to
 * max_sequence_length (226) ids with EOS, and the T5 encoder runs over all of them
 * with no attention mask, so the padding rows are real outputs the DiT attends to
 * (unlike Wan's, which are masked and zeroed). No prompt cleaning. */
#ifndef VS_MODELS_COGVIDEOX_PROMPT_H
#define VS_MODELS_COGVIDEOX_PROMPT_H

#include "models/common/tokenizer.h"
#include "models/common/umt5.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pipelines' max_sequence_length default (the transformer's max_text_seq_length). */
#define VS_COGVIDEOX_TEXT_LENGTH 226

/* out[max_length * d_model] (host f32): the encoder's output for the padded ids; *count (may be NULL) receives
 * the prompt's own tokens (EOS included). */
vs_status vs_cogvideox_encode_prompt(const vs_tokenizer *tok, const vs_umt5 *encoder, const char *prompt,
                                     int max_length, float *out, int *count);

#ifdef __cplusplus
}
#endif
#endif
