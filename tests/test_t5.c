/* The T5 v1.1 encoder (CogVideoX's text encoder: models/common/umt5.c with one
 * relative position bias shared by every layer), its SentencePiece tokenizer and
 * vs_cogvideox_encode_prompt
 * against transformers' T5EncoderModel and sentencepiece (the slow T5Tokenizer) as CogVideoXPipeline calls
 * them (tests/data/t5, written by tools/make_t5_fixtures.py): 226 ids padded and
 * not trimmed, the encoder over all of them without a mask. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/safetensors.h"
#include "models/cogvideox/prompt.h"
#include "models/common/tokenizer.h"
#include "models/common/umt5.h"

#define DATA "tests/data/t5/"
enum { LEN = 226, DIM = 64 };

static void close_safetensors(void *st) {
    vs_safetensors_close(st);
}
static void free_encoder(void *m) {
    vs_umt5_free(m);
}
static void free_tokenizer(void *tok) {
    vs_tokenizer_free(tok);
}

TEST(t5_prompt_embeddings_match_the_cogvideox_pipeline) {
    vs_umt5 *m;
    vs_tokenizer *tok;
    CHECK_OK(vs_umt5_load(&m, DATA "text_encoder", VS_CPU));
    vs_test_defer(free_encoder, m);
    const vs_umt5_config *c = vs_umt5_get_config(m);
    CHECK(c->shared_position_bias && c->num_layers == 3 && c->d_model == DIM);
    CHECK_OK(vs_tokenizer_load(&tok, "tests/data/tokenizer/spiece.model"));
    vs_test_defer(free_tokenizer, tok);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, DATA "reference.safetensors"));
    vs_test_defer(close_safetensors, st);
    float *out = vs_test_malloc(LEN * DIM * sizeof *out);
    int32_t ids[LEN], mask[LEN];
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "prompt_%d", k);
        const char *prompt = vs_safetensors_metadata(st, key);
        snprintf(key, sizeof key, "prompt_ids_%d", k);
        const vs_st_entry *want_ids = vs_safetensors_find(st, key);
        snprintf(key, sizeof key, "prompt_embeds_%d", k);
        const vs_st_entry *want = vs_safetensors_find(st, key);
        CHECK(prompt && want_ids && want && want_ids->shape[1] == LEN && want->shape[1] == LEN);
        int n, tokens;
        CHECK_OK(vs_tokenizer_encode_padded(tok, prompt, strlen(prompt), LEN, ids, mask, &n));
        CHECK_MSG(memcmp(ids, want_ids->data, sizeof ids) == 0, "prompt %d: token ids differ from the reference", k);
        /* the pipeline passes no attention mask: the padding is encoded and attended to like the prompt */
        CHECK_OK(vs_cogvideox_encode_prompt(tok, m, prompt, VS_COGVIDEOX_TEXT_LENGTH, out, &tokens));
        CHECK(tokens == n);
        const double err = vs_test_rel_l2_f32(out, want->data, LEN * DIM);
        printf("  prompt %d: %d tokens + %d padding, rel L2 %.2e\n", k, n, LEN - n, err);
        CHECK(err < 1e-4);
    }
    return 0;
}

TEST(t5_has_one_bias_table_and_umt5_one_per_layer) {
    char dir[] = "/tmp/vs_t5_XXXXXX", path[512], weights[512];
    CHECK(mkdtemp(dir));
    vs_test_remove(dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_test_remove(path);
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    vs_test_remove(weights);
    /* the T5 weights under a umT5 config: layer 1's own bias table is missing, and named */
    FILE *src = fopen(DATA "text_encoder/config.json", "rb"), *dst = fopen(path, "wb");
    CHECK(src && dst);
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, src);
    fclose(src);
    text[len] = 0;
    char *type = strstr(text, "\"t5\""), *arch = strstr(text, "\"T5EncoderModel\"");
    CHECK(type && arch);
    memcpy(type, "\"xx\"", 4);
    memcpy(arch, "\"U5EncoderModel\"", 16);
    fwrite(text, 1, len, dst);
    fclose(dst);
    char *target = realpath(DATA "text_encoder/model.safetensors", NULL);
    CHECK(target);
    vs_test_defer(free, target);
    CHECK(symlink(target, weights) == 0);
    vs_umt5 *m = NULL;
    CHECK_FAILS(vs_umt5_load(&m, dir, VS_CPU), VS_ERR_NOT_FOUND,
                "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight");
    /* random T5 encoders (bench generate) make one table too, and encode */
    vs_umt5_config c = {2000, 32, 8, 48, 4, 2, 32, 128, 1e-6f, 1};
    CHECK_OK(vs_umt5_random(&m, &c, VS_CPU, 3));
    vs_test_defer(free_encoder, m);
    int32_t ids[5] = {5, 6, 7, 1, 0}, ones[5] = {1, 1, 1, 1, 1};
    float out[5 * 32];
    CHECK_OK(vs_umt5_encode(m, ids, ones, 5, out));
    size_t w1, a1, w2, a2;
    vs_umt5_memory(&c, VS_CPU, 0, 1, 5, &w1, &a1);
    c.shared_position_bias = 0;
    vs_umt5_memory(&c, VS_CPU, 0, 1, 5, &w2, &a2);
    CHECK(w2 - w1 == 32 * 4 * sizeof(float));
    return 0;
}

RUN_TESTS(T(t5_prompt_embeddings_match_the_cogvideox_pipeline), T(t5_has_one_bias_table_and_umt5_one_per_layer))
