/* HunyuanVideo as a model family on the CPU: the tiny random HunyuanVideoPipeline folder of
 * tools/make_hunyuan_pipeline_fixtures.py against diffusers given the same initial noise (latents with
 * embedded guidance, with another embedded scale, and with true CFG), the family's defaults and scheduler,
 * and bad folders and sizes giving one-line errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hunyuan_pipeline_check.h"
#include "models/common/text_prompt.h"
#include "pipeline/scheduler.h"

/* Latents (embedded guidance 6 and 3.5, true CFG 3) and decoded frames from diffusers' initial noise. */
TEST(pipeline_matches_diffusers) { return hp_check_against_diffusers(VS_CPU, 1e-4); }

TEST(defaults_and_scheduler_are_the_pipelines) {
    const vs_family *family = NULL;
    vs_generation_defaults d;
    CHECK_OK(vs_family_detect(HP_DIR, &family));
    CHECK_OK(vs_family_defaults(family, HP_DIR, &d));
    CHECK(d.frames == 129 && d.height == 720 && d.width == 1280 && d.steps == 50 && d.guidance <= 1.0f &&
          d.embedded_guidance == 6.0f && d.text_length == 256 && d.linear_sigmas);
    CHECK(!strcmp(d.attention.method, "svg") && d.attention.density == 0.25 && d.attention.dense_steps == 0.1 &&
          d.attention.dense_layers == 0.03);
    /* FlowMatchEuler with the folder's shift on sigmas linspace(1, 0, 4)[:-1]: shift s / (1 + (shift - 1) s) */
    vs_scheduler_config cfg;
    CHECK_OK(vs_scheduler_config_for(HP_DIR, d.scheduler, &cfg));
    CHECK(cfg.kind == VS_SCHEDULER_EULER && cfg.shift == 7.0);
    cfg.linear_sigmas = 1;
    vs_scheduler *s = NULL;
    CHECK_OK(vs_scheduler_create(&cfg, 3, 1, &s));
    const float want[4] = {1.0f, 7.0f * (2.0f / 3) / (1 + 6.0f * (2.0f / 3)), 7.0f * (1.0f / 3) / (1 + 6.0f / 3), 0};
    for (int i = 0; i <= 3; i++) CHECK_MSG(fabsf(vs_scheduler_sigma(s, i) - want[i]) < 1e-6f, "sigma %d", i);
    CHECK(vs_scheduler_timestep(s, 0) == 1000.0f);
    vs_scheduler_free(s);
    /* the 13B preset's latent grid; sizes that are not multiples of 16 or 1 + 4k frames are refused */
    vs_dit_info info;
    int64_t shape[5];
    CHECK_OK(family->dit_info(HP_DIR, &info));
    CHECK(info.text_dim == 64 && info.pooled_dim == 48 && info.num_layers == 3);
    CHECK_OK(family->latent_shape(&info, &family->reference_vae, 9, 32, 48, shape));
    CHECK(shape[2] == 3 && shape[3] == 4 && shape[4] == 6);
    CHECK_FAILS(family->latent_shape(&info, &family->reference_vae, 9, 40, 48, shape), VS_ERR_INVALID_ARG,
                "multiples of 16");
    CHECK_FAILS(family->latent_shape(&info, &family->reference_vae, 10, 32, 48, shape), VS_ERR_INVALID_ARG,
                "1 + 4 k frames");
    return 0;
}

TEST(bad_folders_are_named) {
    vs_text_encoder *text = NULL;
    /* a folder of a model no family runs (a bare LlamaModel), or a pipeline missing its components */
    CHECK_FAILS(vs_text_encoder_load("tests/data/hunyuan_text", VS_CPU, &text), VS_ERR_UNSUPPORTED, "LlamaModel");
    char dir[] = "/tmp/vs_hypipe_XXXXXX";
    CHECK(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/model_index.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{\"_class_name\": \"HunyuanVideoPipeline\"}", f);
    fclose(f);
    CHECK_FAILS(vs_text_encoder_load(dir, VS_CPU, &text), VS_ERR_NOT_FOUND, "tokenizer");
    vs_dit *dit = NULL;
    CHECK_FAILS(vs_dit_load(dir, VS_CPU, &dit), VS_ERR_NOT_FOUND, "config.json");
    CHECK(!text && !dit);
    remove(path);
    rmdir(dir);
    return 0;
}

/* The random encoders bench generate uses, at tiny sizes: finite embeddings, the padding zeroed. */
TEST(random_text_encoders_encode) {
    const vs_llama_config lc = {300, 32, 48, 3, 4, 2, 8, 1e-5f, 10000.0f, 0, 0, 0, 0};
    const vs_clip_text_config cc = {300, 24, 40, 2, 3, 77, 2, 1, 1e-5f};
    vs_llama *llama = NULL;
    vs_clip_text *clip = NULL;
    CHECK_FAILS(vs_llama_random(&llama, &lc, VS_CPU, 3, 1), VS_ERR_INVALID_ARG, "outside 0..2");
    CHECK_OK(vs_llama_random(&llama, &lc, VS_CPU, 2, 1));
    CHECK_OK(vs_clip_text_random(&clip, &cc, VS_CPU, 2));
    int32_t ids[20], mask[20], cropped_mask[12], clip_ids[77];
    for (int i = 0; i < 20; i++) ids[i] = (i * 37) % 300, mask[i] = i < 13;
    for (int i = 0; i < 77; i++) clip_ids[i] = i < 10 ? i + 5 : 299;
    float embeds[12 * 32], pooled[24];
    vs_status s = vs_llama_encode_cropped(llama, ids, mask, 8, 12, embeds, cropped_mask);
    if (s == VS_OK) s = vs_clip_text_encode(clip, clip_ids, 1, 77, pooled, NULL);
    vs_llama_free(llama);
    vs_clip_text_free(clip);
    CHECK_OK(s);
    for (int i = 0; i < 12 * 32; i++) CHECK_MSG(isfinite(embeds[i]) && (i < 5 * 32 || embeds[i] == 0), "row %d", i / 32);
    for (int i = 0; i < 12; i++) CHECK(cropped_mask[i] == (i < 5));
    for (int i = 0; i < 24; i++) CHECK(isfinite(pooled[i]) && pooled[i] != 0);
    return 0;
}

RUN_TESTS(T(pipeline_matches_diffusers), T(defaults_and_scheduler_are_the_pipelines), T(bad_folders_are_named),
          T(random_text_encoders_encode))
