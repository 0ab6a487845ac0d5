/* The umT5 encoder and the Wan prompt embeddings against transformers and
 * diffusers (tests/data/umt5, written by tools/make_umt5_fixtures.py). */
#include "check.h"
#include "io/safetensors.h"
#include "models/wan/prompt.h"

#define DATA "tests/data/umt5/"

static void close_safetensors(void *st) { vs_safetensors_close(st); }
static void free_umt5(void *m) { vs_umt5_free(m); }
static void free_tokenizer(void *tok) { vs_tokenizer_free(tok); }

TEST(relative_buckets_match_transformers) {
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, DATA "reference.safetensors"));
    vs_test_defer(close_safetensors, st);
    const vs_st_entry *e = vs_safetensors_find(st, "buckets");
    CHECK(e && e->dtype == VS_I32 && e->shape[0] == 1201);
    const int32_t *want = e->data;
    int bad = 0;
    for (int r = -600; r <= 600; r++) {
        int got = vs_umt5_relative_bucket(r, 32, 128);
        if (got != want[r + 600] && bad++ < 5) fprintf(stderr, "  bucket(%d) = %d, want %d\n", r, got, want[r + 600]);
    }
    CHECK(bad == 0);
    return 0;
}

TEST(encoder_matches_transformers_with_padding) {
    vs_umt5 *m;
    CHECK_OK(vs_umt5_load(&m, DATA "text_encoder", VS_CPU));
    vs_test_defer(free_umt5, m);
    const vs_umt5_config *c = vs_umt5_get_config(m);
    CHECK(c->d_model == 64 && c->num_layers == 2 && c->num_heads == 4 && c->d_kv == 16 && c->d_ff == 96);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, DATA "reference.safetensors"));
    vs_test_defer(close_safetensors, st);
    const vs_st_entry *ids = vs_safetensors_find(st, "ids"), *mask = vs_safetensors_find(st, "mask"),
                      *hidden = vs_safetensors_find(st, "hidden");
    CHECK(ids && mask && hidden && ids->shape[1] == 24);
    float *out = vs_test_malloc(24 * 64 * sizeof *out);
    CHECK_OK(vs_umt5_encode(m, ids->data, mask->data, 24, out));
    double err = vs_test_rel_l2_f32(out, hidden->data, 24 * 64);
    printf("  last_hidden_state rel L2 %.2e\n", err);
    CHECK(err < 1e-4);
    int32_t bad_ids[2] = {5, 2000}, ones[2] = {1, 1};
    CHECK_FAILS(vs_umt5_encode(m, bad_ids, ones, 2, out), VS_ERR_INVALID_ARG, "outside the vocabulary");
    return 0;
}

TEST(prompt_embeddings_match_the_wan_pipeline) {
    vs_umt5 *m;
    vs_tokenizer *tok;
    CHECK_OK(vs_umt5_load(&m, DATA "text_encoder", VS_CPU));
    vs_test_defer(free_umt5, m);
    CHECK_OK(vs_tokenizer_load(&tok, DATA "tokenizer"));
    vs_test_defer(free_tokenizer, tok);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, DATA "reference.safetensors"));
    vs_test_defer(close_safetensors, st);
    float *out = vs_test_malloc(512 * 64 * sizeof *out);
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "prompt_%d", k);
        const char *prompt = vs_safetensors_metadata(st, key);
        snprintf(key, sizeof key, "prompt_embeds_%d", k);
        const vs_st_entry *ref = vs_safetensors_find(st, key);
        CHECK(prompt && ref && ref->shape[1] == 512 && ref->shape[2] == 64);
        int n;
        CHECK_OK(vs_wan_encode_prompt(tok, m, prompt, 512, out, &n));
        const float *want = ref->data;
        int ref_n = 0;
        while (ref_n < 512 && want[ref_n * 64] != 0.0f) ref_n++;
        CHECK_MSG(n == ref_n, "prompt %d: %d tokens, reference %d", k, n, ref_n);
        double err = vs_test_rel_l2_f32(out, want, 512 * 64);
        printf("  prompt %d: %d tokens, rel L2 %.2e\n", k, n, err);
        CHECK(err < 1e-4);
        for (int i = n * 64; i < 512 * 64; i++) CHECK(out[i] == 0.0f);
    }
    return 0;
}

TEST(prompt_clean_follows_diffusers) {
    const char *cases[][2] = {
        {"  a \t\n b  ", "a b"},
        {"&amp;amp; &lt;b&gt; &#233;&#x41;", "& <b> \xC3\xA9" "A"},
        {"&ampx &#0; &#128; &#1; &bogus; &#;", "&x \xEF\xBF\xBD \xE2\x82\xAC &bogus; &#;"},
        {"\xE3\x80\x80x\xC2\xA0y\x1f", "x y"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        CHECK_OK(vs_wan_prompt_clean(cases[i][0], &out));
        vs_test_defer(free, out);
        CHECK_MSG(!strcmp(out, cases[i][1]), "case %zu: \"%s\", want \"%s\"", i, out, cases[i][1]);
    }
    return 0;
}

TEST(missing_or_bad_checkpoint_fails_clearly) {
    vs_umt5 *m;
    CHECK_FAILS(vs_umt5_load(&m, "tests/data/no-such-dir", VS_CPU), VS_ERR_NOT_FOUND, "config.json");
    CHECK(m == NULL);
    /* The tokenizer folder has no config.json either. */
    CHECK_FAILS(vs_umt5_load(&m, DATA "tokenizer", VS_CPU), VS_ERR_NOT_FOUND, "umT5");
    return 0;
}

RUN_TESTS(T(relative_buckets_match_transformers), T(encoder_matches_transformers_with_padding),
          T(prompt_embeddings_match_the_wan_pipeline), T(prompt_clean_follows_diffusers),
          T(missing_or_bad_checkpoint_fails_clearly))
