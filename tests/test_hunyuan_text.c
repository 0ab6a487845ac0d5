/* HunyuanVideo's text side on the CPU in f32: the Llama and CLIP text
 * encoders and the pipeline's prompt handling against transformers and
 * diffusers (rel L2 <= 1e-4), the prompt template, and bad checkpoints. */
#include <unistd.h>

#include "hunyuan_text_checks.h"

TEST(llama_matches_transformers) { return ht_check_llama(VS_CPU, 1e-4); }
TEST(clip_text_matches_transformers) { return ht_check_clip(VS_CPU, 1e-4); }
TEST(prompts_match_the_hunyuan_pipeline) { return ht_check_pipeline_prompts(VS_CPU, 1e-4); }

TEST(prompt_template_formats_like_python) {
    char *out;
    CHECK_OK(vs_prompt_format("a{{b}}<{}>{{}}", "X", &out));
    vs_test_defer(free, out);
    CHECK(!strcmp(out, "a{b}<X>{}"));
    CHECK_FAILS(vs_prompt_format("no field", "X", &out), VS_ERR_INVALID_ARG, "0 \"{}\" fields");
    CHECK_FAILS(vs_prompt_format("{}{}", "X", &out), VS_ERR_INVALID_ARG, "2 \"{}\" fields");
    CHECK_FAILS(vs_prompt_format("a{b}", "X", &out), VS_ERR_INVALID_ARG, "lone '{'");
    CHECK(strstr(vs_hunyuan_prompt_template, "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>"));
    return 0;
}

/* A temporary copy of a model folder whose config.json is `config`; the weights are linked. */
static const char *folder_with_config(const char *src, const char *config) {
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/vs_hytext_XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    vs_test_remove(dir);
    char path[160], target[4200], cwd[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(config, f);
    fclose(f);
    vs_test_remove(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    snprintf(target, sizeof target, "%s/%s/model.safetensors", cwd, src);
    if (symlink(target, path)) return NULL;
    vs_test_remove(path);
    return dir;
}

TEST(bad_checkpoints_fail_clearly) {
    vs_llama *m;
    vs_clip_text *c;
    CHECK_FAILS(vs_llama_load(&m, "tests/data/no-such-dir", VS_CPU, 2), VS_ERR_NOT_FOUND, "config.json");
    CHECK(m == NULL);
    CHECK_FAILS(vs_llama_load(&m, HT_DATA "text_encoder", VS_CPU, 4), VS_ERR_INVALID_ARG, "outside 0..3");
    const char *base = "{\"vocab_size\": 3011, \"hidden_size\": 64, \"intermediate_size\": 88, \"num_attention_heads\": 4, "
                       "\"num_key_value_heads\": 2, \"head_dim\": 16, ";
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s\"num_hidden_layers\": 5}", base); /* a layer the weights lack */
    const char *dir = folder_with_config(HT_DATA "text_encoder", cfg);
    CHECK(dir);
    CHECK_FAILS(vs_llama_load(&m, dir, VS_CPU, 0), VS_ERR_NOT_FOUND, "layers.4.self_attn.q_proj.weight");
    snprintf(cfg, sizeof cfg, "%s\"num_hidden_layers\": 4, \"hidden_act\": \"gelu\"}", base);
    CHECK(dir = folder_with_config(HT_DATA "text_encoder", cfg));
    CHECK_FAILS(vs_llama_load(&m, dir, VS_CPU, 0), VS_ERR_UNSUPPORTED, "hidden_act \"gelu\"");
    snprintf(cfg, sizeof cfg, "%s\"num_hidden_layers\": 4, \"rope_scaling\": {\"rope_type\": \"yarn\"}}", base);
    CHECK(dir = folder_with_config(HT_DATA "text_encoder", cfg));
    CHECK_FAILS(vs_llama_load(&m, dir, VS_CPU, 0), VS_ERR_UNSUPPORTED, "\"yarn\"");
    CHECK(dir = folder_with_config(HT_DATA "text_encoder", "{\"vocab_size\": 3011, \"hidden_size\": 32, \"intermediate_size\": "
                                   "88, \"num_attention_heads\": 4, \"num_hidden_layers\": 4, \"head_dim\": 16}"));
    CHECK_FAILS(vs_llama_load(&m, dir, VS_CPU, 2), VS_ERR_SHAPE, "embed_tokens.weight");
    CHECK(dir = folder_with_config(HT_DATA "text_encoder_2", "{\"vocab_size\": 2408, \"hidden_size\": 48, \"intermediate_size\""
                                   ": 72, \"num_attention_heads\": 3, \"num_hidden_layers\": 3, \"hidden_act\": \"gelu\"}"));
    CHECK_FAILS(vs_clip_text_load(&c, dir, VS_CPU), VS_ERR_UNSUPPORTED, "hidden_act \"gelu\"");
    CHECK(dir = folder_with_config(HT_DATA "text_encoder_2", "{\"vocab_size\": 2408, \"hidden_size\": 48, \"intermediate_size\""
                                   ": 64, \"num_attention_heads\": 3, \"num_hidden_layers\": 3}"));
    CHECK_FAILS(vs_clip_text_load(&c, dir, VS_CPU), VS_ERR_SHAPE, "fc1.weight");
    CHECK(c == NULL);
    /* bad tokens */
    CHECK_OK(vs_clip_text_load(&c, HT_DATA "text_encoder_2", VS_CPU));
    vs_test_defer(ht_free_clip, c);
    float pooled[48];
    int32_t ids[78] = {0};
    CHECK_FAILS(vs_clip_text_encode(c, ids, 1, 78, pooled, NULL), VS_ERR_INVALID_ARG, "max_position_embeddings");
    ids[3] = 5000;
    CHECK_FAILS(vs_clip_text_encode(c, ids, 1, 10, pooled, NULL), VS_ERR_INVALID_ARG, "outside the vocabulary");
    return 0;
}

RUN_TESTS(T(llama_matches_transformers), T(clip_text_matches_transformers), T(prompts_match_the_hunyuan_pipeline),
          T(prompt_template_formats_like_python), T(bad_checkpoints_fail_clearly))
