/* CogVideoX 1.5 as a model family on CUDA (bf16): the tiny CogVideoXPipeline and CogVideoXImageToVideoPipeline
 * folders of tests/test_cogvideox_pipeline.c against diffusers' f32 frames from the same seed at rel L2 2e-2,
 * and the random T5-XXL text side bench generate uses. */
#include <math.h>

#include "cogvideox_pipeline_check.h"

TEST(pipeline_matches_diffusers_on_cuda) { return cp_check_against_diffusers(VS_CUDA, 2e-2); }

static void free_text(void *e) { vs_text_encoder_free(e); }
static void free_embedding(void *e) { vs_text_embedding_free(e); }

/* T5-XXL with random weights at its real size: 226 rows of 4096, every one finite (no mask: all take part). */
TEST(random_t5_xxl_on_cuda) {
    vs_text_encoder *text = NULL;
    CHECK_OK(vs_text_encoder_random("cogvideox1.5-5b-i2v", VS_CUDA, 7, &text));
    vs_test_defer(free_text, text);
    vs_text_embedding *e = vs_test_malloc(sizeof *e);
    CHECK(e);
    memset(e, 0, sizeof *e);
    vs_test_defer(free_embedding, e);
    CHECK_OK(vs_text_encode(text, "a cat", 226, e));
    CHECK(e->hidden.shape[1] == 226 && e->hidden.shape[2] == 4096 && !e->mask.data && !e->pooled.data);
    const float *h = e->hidden.data;
    for (int64_t i = 0; i < 226 * 4096; i++) CHECK_MSG(isfinite(h[i]), "hidden %lld", (long long)i);
    return 0;
}

RUN_TESTS(T(pipeline_matches_diffusers_on_cuda), T(random_t5_xxl_on_cuda))
