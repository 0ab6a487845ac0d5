/* HunyuanVideo as a model family on CUDA (bf16): the tiny HunyuanVideoPipeline folder of
 * tests/test_hunyuan_pipeline.c against diffusers' f32 output from the same noise at rel L2 2e-2 (latents with
 * embedded guidance 6 and 3.5 and with true CFG 3, decoded frames), and the random 13B text side. */
#include <math.h>

#include "hunyuan_pipeline_check.h"

TEST(pipeline_matches_diffusers_on_cuda) { return hp_check_against_diffusers(VS_CUDA, 2e-2); }

/* bench generate's random text side at the released sizes (Llama 3 8B, CLIP-L): shapes, mask, finite values. */
TEST(random_13b_text_encoders_on_cuda) {
    vs_text_encoder *text = NULL;
    CHECK_OK(vs_text_encoder_random("hunyuan13b", VS_CUDA, 7, &text));
    vs_test_defer(hp_free_text, text);
    vs_text_embedding *e = vs_test_malloc(sizeof *e);
    CHECK(e);
    memset(e, 0, sizeof *e);
    vs_test_defer(hp_free_embedding, e);
    CHECK_OK(vs_text_encode(text, "a cat", 256, e));
    CHECK(e->hidden.shape[1] == 256 && e->hidden.shape[2] == 4096 && e->pooled.shape[1] == 768);
    int valid = 0;
    for (int i = 0; i < 256; i++) valid += ((const int32_t *)e->mask.data)[i];
    CHECK_MSG(valid == 6, "%d valid tokens", valid);
    const float *h = e->hidden.data, *p = e->pooled.data;
    for (int64_t i = 0; i < 6 * 4096; i++) CHECK_MSG(isfinite(h[i]), "hidden %lld", (long long)i);
    for (int i = 0; i < 768; i++) CHECK(isfinite(p[i]));
    return 0;
}

RUN_TESTS(T(pipeline_matches_diffusers_on_cuda), T(random_13b_text_encoders_on_cuda))
