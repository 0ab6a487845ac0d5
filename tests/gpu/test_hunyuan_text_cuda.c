/* HunyuanVideo's text encoders on CUDA (bf16): the transformers / diffusers
 * fixtures of tests/test_hunyuan_text.c at rel L2 2e-2, then CUDA against the
 * CPU f32 path on random checkpoints at the real head sizes (Llama: heads of
 * 128, 4:1 GQA, 351 tokens = the pipeline's 95 + 256, right padding; CLIP-L:
 * 12 heads of 64, 77 tokens), with NaN-poisoned outputs. */
#include <unistd.h>

#include "hunyuan_text_checks.h"
#include "tensor_util.h"

static unsigned long long rng = 0x243f6a8885a308d3ULL;

TEST(llama_fixture_on_cuda) { return ht_check_llama(VS_CUDA, 2e-2); }
TEST(clip_fixture_on_cuda) { return ht_check_clip(VS_CUDA, 2e-2); }
TEST(pipeline_prompts_on_cuda) { return ht_check_pipeline_prompts(VS_CUDA, 2e-2); }

/* A temporary folder with config.json = `config` and model.safetensors of
 * random tensors: names[i] of shapes[i] (2-D, or 1-D when shapes[i][1] == 0;
 * names containing "norm" are near 1, the rest scaled by 1/sqrt(fan-in)). */
static const char *random_checkpoint(const char *config, int count, const char *const *names, const int64_t (*shapes)[2]) {
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/vs_hytext_gpu_XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    vs_test_remove(dir);
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(config, f);
    fclose(f);
    vs_test_remove(path);
    vs_tensor *t = vs_test_malloc((size_t)count * sizeof *t);
    for (int i = 0; i < count; i++) {
        const int ndim = shapes[i][1] ? 2 : 1;
        const int64_t n = shapes[i][0] * (ndim == 2 ? shapes[i][1] : 1);
        const int norm = strstr(names[i], "norm") != NULL, embed = strstr(names[i], "embed") != NULL;
        const float scale = norm ? 0.3f : embed ? 1.0f : 1.0f / sqrtf((float)(ndim == 2 ? shapes[i][1] : 16));
        float *x = vs_test_free_later(random_array(&rng, n, -1.7f * scale, 1.7f * scale));
        if (!x) return NULL;
        for (int64_t k = 0; norm && k < n; k++) x[k] += 1.0f;
        t[i] = vs_tensor_view(x, VS_F32, VS_CPU, ndim, shapes[i]);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (vs_safetensors_write(path, (size_t)count, names, t, 0, NULL, NULL) != VS_OK) return NULL;
    vs_test_remove(path);
    return dir;
}

TEST(llama_cuda_matches_cpu_at_real_head_sizes) {
    enum { L = 2, V = 1000, D = 512, FF = 1376, N = 351, B = 2 };
    static char names[2 + 9 * L][64];
    int64_t shapes[2 + 9 * L][2];
    const char *ptrs[2 + 9 * L];
    int k = 0;
#define ADD(a, b, ...) (snprintf(names[k], 64, __VA_ARGS__), shapes[k][0] = a, shapes[k][1] = b, k++)
    ADD(V, D, "embed_tokens.weight");
    ADD(D, 0, "norm.weight");
    for (int l = 0; l < L; l++) {
        ADD(D, D, "layers.%d.self_attn.q_proj.weight", l);
        ADD(D / 4, D, "layers.%d.self_attn.k_proj.weight", l);
        ADD(D / 4, D, "layers.%d.self_attn.v_proj.weight", l);
        ADD(D, D, "layers.%d.self_attn.o_proj.weight", l);
        ADD(FF, D, "layers.%d.mlp.gate_proj.weight", l);
        ADD(FF, D, "layers.%d.mlp.up_proj.weight", l);
        ADD(D, FF, "layers.%d.mlp.down_proj.weight", l);
        ADD(D, 0, "layers.%d.input_layernorm.weight", l);
        ADD(D, 0, "layers.%d.post_attention_layernorm.weight", l);
    }
#undef ADD
    for (int i = 0; i < k; i++) ptrs[i] = names[i];
    const char *dir = random_checkpoint("{\"vocab_size\": 1000, \"hidden_size\": 512, \"intermediate_size\": 1376, "
                                        "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 1, "
                                        "\"rms_norm_eps\": 1e-5, \"rope_theta\": 500000.0}", k, ptrs, (const int64_t(*)[2])shapes);
    CHECK(dir);
    int32_t *ids = vs_test_malloc(B * N * sizeof *ids), *mask = vs_test_malloc(B * N * sizeof *mask);
    for (int i = 0; i < B * N; i++) {
        ids[i] = (int32_t)(vs_test_uniform(&rng) * V);
        mask[i] = i < N || i % N < 200; /* the second sequence: 200 tokens, then padding */
    }
    for (int skip = 0; skip < 2; skip++) {
        vs_llama *cpu, *gpu;
        CHECK_OK(vs_llama_load(&cpu, dir, VS_CPU, skip));
        vs_test_defer(ht_free_llama, cpu);
        CHECK_OK(vs_llama_load(&gpu, dir, VS_CUDA, skip));
        vs_test_defer(ht_free_llama, gpu);
        float *want = ht_poisoned(B * N * D), *got = ht_poisoned(B * N * D);
        vs_tensor w = vs_tensor_view(want, VS_F32, VS_CPU, 3, (int64_t[]){B, N, D});
        vs_tensor *dev = vs_test_tensor(); /* output on the device this time */
        CHECK_OK(vs_tensor_alloc(dev, VS_F32, VS_CUDA, 3, (int64_t[]){B, N, D}));
        CHECK_OK(poison(dev));
        CHECK_OK(vs_llama_encode_batch(cpu, ids, mask, B, N, &w));
        CHECK_OK(vs_llama_encode_batch(gpu, ids, mask, B, N, dev));
        float *back = vs_test_free_later(to_host(dev));
        CHECK(back);
        memcpy(got, back, sizeof(float) * B * N * D);
        const double err = ht_masked_rel_l2(got, want, mask, B * N, D);
        printf("  Llama 2 layers, heads 4 x 128 (1 kv head), %d tokens, skip %d: CUDA vs CPU rel L2 %.2e\n", N, skip, err);
        CHECK_MSG(err <= 2e-2, "rel L2 %g", err);
    }
    return 0;
}

TEST(clip_cuda_matches_cpu_at_clip_l_sizes) {
    enum { L = 2, V = 800, D = 768, FF = 3072, N = 77, B = 2 };
    static char names[4 + 16 * L][80];
    int64_t shapes[4 + 16 * L][2];
    const char *ptrs[4 + 16 * L];
    int k = 0;
#define ADD(a, b, ...) (snprintf(names[k], 80, __VA_ARGS__), shapes[k][0] = a, shapes[k][1] = b, k++)
    ADD(V, D, "text_model.embeddings.token_embedding.weight");
    ADD(N, D, "text_model.embeddings.position_embedding.weight");
    ADD(D, 0, "text_model.final_layer_norm.weight");
    ADD(D, 0, "text_model.final_layer_norm.bias");
    for (int l = 0; l < L; l++) {
        const char *proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
        for (int p = 0; p < 4; p++) {
            ADD(D, D, "text_model.encoder.layers.%d.self_attn.%s.weight", l, proj[p]);
            ADD(D, 0, "text_model.encoder.layers.%d.self_attn.%s.bias", l, proj[p]);
        }
        ADD(FF, D, "text_model.encoder.layers.%d.mlp.fc1.weight", l);
        ADD(FF, 0, "text_model.encoder.layers.%d.mlp.fc1.bias", l);
        ADD(D, FF, "text_model.encoder.layers.%d.mlp.fc2.weight", l);
        ADD(D, 0, "text_model.encoder.layers.%d.mlp.fc2.bias", l);
        ADD(D, 0, "text_model.encoder.layers.%d.layer_norm1.weight", l);
        ADD(D, 0, "text_model.encoder.layers.%d.layer_norm1.bias", l);
        ADD(D, 0, "text_model.encoder.layers.%d.layer_norm2.weight", l);
        ADD(D, 0, "text_model.encoder.layers.%d.layer_norm2.bias", l);
    }
#undef ADD
    for (int i = 0; i < k; i++) ptrs[i] = names[i];
    const char *dir = random_checkpoint("{\"vocab_size\": 800, \"hidden_size\": 768, \"intermediate_size\": 3072, "
                                        "\"num_hidden_layers\": 2, \"num_attention_heads\": 12, \"max_position_embeddings\": 77, "
                                        "\"hidden_act\": \"quick_gelu\", \"eos_token_id\": 799}", k, ptrs, (const int64_t(*)[2])shapes);
    CHECK(dir);
    int32_t ids[B * N];
    for (int i = 0; i < B * N; i++) ids[i] = (int32_t)(vs_test_uniform(&rng) * (V - 1));
    ids[20] = ids[N + 76] = V - 1; /* the EOS of each sequence */
    vs_clip_text *cpu, *gpu;
    CHECK_OK(vs_clip_text_load(&cpu, dir, VS_CPU));
    vs_test_defer(ht_free_clip, cpu);
    CHECK_OK(vs_clip_text_load(&gpu, dir, VS_CUDA));
    vs_test_defer(ht_free_clip, gpu);
    float *want = ht_poisoned(B * N * D), *got = ht_poisoned(B * N * D), *pw = ht_poisoned(B * D), *pg = ht_poisoned(B * D);
    CHECK_OK(vs_clip_text_encode(cpu, ids, B, N, pw, want));
    CHECK_OK(vs_clip_text_encode(gpu, ids, B, N, pg, got));
    const double eh = vs_test_rel_l2_f32(got, want, B * N * D), ep = vs_test_rel_l2_f32(pg, pw, B * D);
    printf("  CLIP-L sizes, 2 layers, 77 tokens: CUDA vs CPU last_hidden_state rel L2 %.2e, pooled %.2e\n", eh, ep);
    CHECK(eh <= 2e-2 && ep <= 2e-2);
    CHECK(!memcmp(pw, want + 20 * D, sizeof(float) * D)); /* pooled: the first EOS row */
    return 0;
}

RUN_TESTS(T(llama_fixture_on_cuda), T(clip_fixture_on_cuda), T(pipeline_prompts_on_cuda),
          T(llama_cuda_matches_cpu_at_real_head_sizes), T(clip_cuda_matches_cpu_at_clip_l_sizes))
