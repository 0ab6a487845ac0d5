/* HunyuanVideo's text encoders against transformers and diffusers
 * (tests/data/hunyuan_text, tools/make_hunyuan_text_fixtures.py), on one
 * device at one tolerance: tests/test_hunyuan_text.c runs them on the CPU
 * (f32, rel L2 1e-4), tests/gpu/test_hunyuan_text_cuda.c on CUDA (bf16, 2e-2).
 * Outputs start NaN-poisoned; only real tokens' rows are compared (padding
 * rows mean nothing in either implementation). */
#ifndef VS_TEST_HUNYUAN_TEXT_CHECKS_H
#define VS_TEST_HUNYUAN_TEXT_CHECKS_H

#include "check.h"
#include "io/safetensors.h"
#include "models/common/text_prompt.h"

#define HT_DATA "tests/data/hunyuan_text/"

static void ht_close_st(void *st) { vs_safetensors_close(st); }
static void ht_free_llama(void *m) { vs_llama_free(m); }
static void ht_free_clip(void *m) { vs_clip_text_free(m); }
static void ht_free_bpe(void *t) { vs_bpe_free(t); }

static const vs_safetensors *ht_reference(void) {
    vs_safetensors *st = NULL;
    if (vs_safetensors_open(&st, HT_DATA "reference.safetensors") != VS_OK) return NULL;
    vs_test_defer(ht_close_st, st);
    return st;
}

static const char *ht_device_name(vs_device dev) { return dev == VS_CUDA ? "cuda bf16" : "cpu f32"; }

static float *ht_poisoned(int64_t n) {
    float *p = vs_test_malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

/* rel L2 over the rows whose mask is set (mask NULL: all), rows of d values. */
static double ht_masked_rel_l2(const float *got, const float *want, const int32_t *mask, int64_t rows, int64_t d) {
    double num = 0, den = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (mask && !mask[r]) continue;
        for (int64_t i = 0; i < d; i++) {
            double e = (double)got[r * d + i] - want[r * d + i];
            num += e * e;
            den += (double)want[r * d + i] * want[r * d + i];
        }
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* hidden_states[L - skip] (skip 0: after the final norm) for skip 0..3, batch 2 with padding. */
static int ht_check_llama(vs_device dev, double tol) {
    const vs_safetensors *st = ht_reference();
    CHECK(st);
    const vs_st_entry *ids = vs_safetensors_find(st, "llama_ids"), *mask = vs_safetensors_find(st, "llama_mask");
    CHECK(ids && mask && ids->shape[0] == 2 && ids->shape[1] == 40);
    for (int skip = 0; skip < 4; skip++) {
        const int mark = vs_test_mark();
        vs_llama *m;
        CHECK_OK(vs_llama_load(&m, HT_DATA "text_encoder", dev, skip));
        vs_test_defer(ht_free_llama, m);
        const vs_llama_config *c = vs_llama_get_config(m);
        CHECK(c->hidden_size == 64 && c->num_layers == 4 && c->num_kv_heads == 2 && c->rope_factor == 8.0f);
        char key[32];
        snprintf(key, sizeof key, "llama_hidden_%d", 4 - skip);
        const vs_st_entry *want = vs_safetensors_find(st, key);
        CHECK(want && want->shape[2] == 64);
        float *got = ht_poisoned(2 * 40 * 64);
        vs_tensor out = vs_tensor_view(got, VS_F32, VS_CPU, 3, (int64_t[]){2, 40, 64});
        CHECK_OK(vs_llama_encode_batch(m, ids->data, mask->data, 2, 40, &out));
        const double err = ht_masked_rel_l2(got, want->data, mask->data, 80, 64);
        printf("  [%s] Llama hidden_states[%d] (skip %d): rel L2 %.2e\n", ht_device_name(dev), 4 - skip, skip, err);
        CHECK_MSG(err <= tol, "rel L2 %g > %g", err, tol);
        vs_test_release_to(mark);
    }
    return 0;
}

static int ht_check_clip(vs_device dev, double tol) {
    const vs_safetensors *st = ht_reference();
    CHECK(st);
    vs_clip_text *m;
    CHECK_OK(vs_clip_text_load(&m, HT_DATA "text_encoder_2", dev));
    vs_test_defer(ht_free_clip, m);
    const vs_clip_text_config *c = vs_clip_text_get_config(m);
    CHECK(c->hidden_size == 48 && c->num_layers == 3 && c->quick_gelu && c->eos_token_id == 2);
    const vs_st_entry *ids = vs_safetensors_find(st, "clip_ids"), *hidden = vs_safetensors_find(st, "clip_hidden"),
                      *pooled = vs_safetensors_find(st, "clip_pooled");
    CHECK(ids && hidden && pooled && ids->shape[1] == 77);
    float *got_hidden = ht_poisoned(2 * 77 * 48), *got_pooled = ht_poisoned(2 * 48);
    CHECK_OK(vs_clip_text_encode(m, ids->data, 2, 77, got_pooled, got_hidden));
    const double eh = vs_test_rel_l2_f32(got_hidden, hidden->data, 2 * 77 * 48), ep = vs_test_rel_l2_f32(got_pooled, pooled->data, 96);
    printf("  [%s] CLIP last_hidden_state rel L2 %.2e, pooler_output %.2e\n", ht_device_name(dev), eh, ep);
    CHECK(eh <= tol && ep <= tol);
    return 0;
}

/* HunyuanVideoPipeline._get_llama_prompt_embeds and _get_clip_prompt_embeds, prompt to embeddings. */
static int ht_check_pipeline_prompts(vs_device dev, double tol) {
    const vs_safetensors *st = ht_reference();
    CHECK(st);
    vs_llama *llama;
    vs_clip_text *clip;
    vs_bpe *tok, *tok2;
    CHECK_OK(vs_llama_load(&llama, HT_DATA "text_encoder", dev, VS_HUNYUAN_SKIP_LAYERS));
    vs_test_defer(ht_free_llama, llama);
    CHECK_OK(vs_clip_text_load(&clip, HT_DATA "text_encoder_2", dev));
    vs_test_defer(ht_free_clip, clip);
    CHECK_OK(vs_bpe_load(&tok, HT_DATA "llama_tokenizer"));
    vs_test_defer(ht_free_bpe, tok);
    CHECK_OK(vs_bpe_load(&tok2, HT_DATA "clip_tokenizer"));
    vs_test_defer(ht_free_bpe, tok2);
    const int64_t n = VS_HUNYUAN_MAX_TOKENS;
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "prompt_%d", k);
        const char *prompt = vs_safetensors_metadata(st, key);
        snprintf(key, sizeof key, "prompt_embeds_%d", k);
        const vs_st_entry *want = vs_safetensors_find(st, key);
        snprintf(key, sizeof key, "prompt_mask_%d", k);
        const vs_st_entry *want_mask = vs_safetensors_find(st, key);
        snprintf(key, sizeof key, "pooled_%d", k);
        const vs_st_entry *want_pooled = vs_safetensors_find(st, key);
        CHECK(prompt && want && want_mask && want_pooled && want->shape[1] == n && want->shape[2] == 64);
        float *emb = ht_poisoned(n * 64), *pooled = ht_poisoned(48);
        int32_t *mask = vs_test_malloc((size_t)n * sizeof *mask);
        CHECK_OK(vs_llama_prompt_encode(tok, llama, vs_hunyuan_prompt_template, VS_HUNYUAN_CROP_START, (int)n, prompt, emb,
                                        mask));
        CHECK_OK(vs_clip_prompt_encode(tok2, clip, prompt, VS_HUNYUAN_CLIP_TOKENS, pooled));
        int tokens = 0, same_mask = 1;
        for (int64_t i = 0; i < n; i++) {
            same_mask &= mask[i] == ((const int32_t *)want_mask->data)[i];
            tokens += mask[i];
        }
        CHECK_MSG(same_mask, "prompt %d: the attention mask differs", k);
        const double e = ht_masked_rel_l2(emb, want->data, mask, n, 64), ep = vs_test_rel_l2_f32(pooled, want_pooled->data, 48);
        printf("  [%s] prompt %d: %d tokens after the crop, prompt_embeds rel L2 %.2e, pooled %.2e\n", ht_device_name(dev), k,
               tokens, e, ep);
        CHECK(e <= tol && ep <= tol);
    }
    return 0;
}

#endif
