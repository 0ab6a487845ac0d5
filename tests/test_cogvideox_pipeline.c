/* CogVideoX 1.5 as a model family on the CPU: the tiny random CogVideoXPipeline and
 * CogVideoXImageToVideoPipeline folders of tools/make_cogvideox_pipeline_fixtures.py against diffusers from
 * the same seed, the family's defaults and scheduler, and the image-to-video errors. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cogvideox_pipeline_check.h"
#include "pipeline/scheduler.h"

/* Decoded frames of the whole pipeline, text to video and image to video. */
TEST(pipeline_matches_diffusers) {
    return cp_check_against_diffusers(VS_CPU, 1e-4, (const double[CP_RUNS]){1e-4, 1e-4, 1e-4});
}

TEST(defaults_and_scheduler_are_the_pipelines) {
    const vs_family *family = NULL;
    vs_generation_defaults d;
    CHECK_OK(vs_family_detect(CP_DIR "i2v", &family));
    CHECK(!strcmp(family->name, "cogvideox"));
    CHECK_OK(vs_family_defaults(family, CP_DIR "i2v", &d));
    CHECK(d.frames == 81 && d.height == 768 && d.width == 1360 && d.steps == 50 && d.guidance == 6.0f &&
          d.text_length == 226 && d.fps == 16 && d.embedded_guidance == 0);
    CHECK(!strcmp(d.attention.method, "svg") && d.attention.density == 0.25 && d.attention.dense_steps == 0.2 &&
          d.attention.dense_layers == 0.025);
    /* the folder's scheduler, and the family's fallback (random weights) the same */
    vs_scheduler_config folder, fallback;
    CHECK_OK(vs_scheduler_config_for(CP_DIR "i2v", d.scheduler, &folder));
    CHECK_OK(vs_scheduler_config_for(NULL, d.scheduler, &fallback));
    CHECK(folder.kind == VS_SCHEDULER_COGVIDEOX_DPM && fallback.kind == VS_SCHEDULER_COGVIDEOX_DPM);
    CHECK(folder.prediction == VS_PREDICT_V && fallback.prediction == VS_PREDICT_V && folder.rescale_zero_snr &&
          fallback.rescale_zero_snr && folder.spacing == VS_SPACING_TRAILING && fallback.spacing == VS_SPACING_TRAILING);
    return 0;
}

/* The memory plan's needs on CUDA from the configurations alone (nothing loads): the tiny folder's, and the
 * released sizes of bench generate: T5-XXL 4.76 G and the 5B DiT's parameters in bf16, the VAE's tiles. */
TEST(memory_needs_come_from_the_configs) {
    const vs_family *family = NULL;
    CHECK_OK(vs_family_detect(CP_DIR "i2v", &family));
    vs_stage_memory need[VS_STAGE_COUNT];
    const int64_t tiny[5] = {2, 4, 4, 8, 12}, real[5] = {2, 16, 22, 96, 170};
    CHECK_OK(family->memory_need(CP_DIR "i2v", NULL, VS_CUDA, VS_PRECISION_DEFAULT, tiny, 226, need));
    for (int i = 0; i < VS_STAGE_COUNT; i++) CHECK_MSG(need[i].weights > 0 && need[i].work > 0, "stage %d", i);
    CHECK_OK(family->memory_need(NULL, "cogvideox1.5-5b-i2v", VS_CUDA, VS_PRECISION_DEFAULT, real, 226, need));
    const double gib = (double)(1u << 30);
    printf("  1.5 I2V at 768x1360, 81 frames: text %.1f + %.2f GiB, DiT %.1f + %.1f GiB, VAE %.2f + %.1f GiB\n",
           need[0].weights / gib, need[0].work / gib, need[1].weights / gib, need[1].work / gib, need[2].weights / gib,
           need[2].work / gib);
    CHECK(need[0].weights / gib > 8.5 && need[0].weights / gib < 10.5);  /* 4.76 G parameters */
    CHECK(need[1].weights / gib > 9.0 && need[1].weights / gib < 11.5);  /* about 5.6 G parameters */
    CHECK(need[2].weights / gib > 0.3 && need[2].weights / gib < 1.0);
    CHECK_FAILS(family->memory_need(NULL, "cogvideox1.5-5b", VS_CUDA, VS_PRECISION_FP8, real, 226, need),
                VS_ERR_UNSUPPORTED, "bf16");
    return 0;
}

static void free_t2v(void *m) { vs_t2v_free(m); }
static void free_image(void *img) { vs_image_free(img); }

/* A text-to-video model given an image, an image-to-video model given none: one line each, nothing made. */
TEST(image_requests_are_checked) {
    vs_t2v *t2v = NULL, *i2v = NULL;
    CHECK_OK(vs_t2v_load(CP_DIR "t2v", VS_CPU, &t2v));
    vs_test_defer(free_t2v, t2v);
    CHECK_OK(vs_t2v_load(CP_DIR "i2v", VS_CPU, &i2v));
    vs_test_defer(free_t2v, i2v);
    vs_image *image = vs_test_malloc(sizeof *image);
    CHECK(image);
    memset(image, 0, sizeof *image);
    vs_test_defer(free_image, image);
    CHECK_OK(vs_image_load(CP_IMAGE, image));
    vs_t2v_request r = vs_t2v_request_default(CP_PROMPT);
    r.frames = 9, r.height = 32, r.width = 48, r.steps = 1;
    vs_tensor *video = vs_test_tensor();
    r.image = image;
    CHECK_FAILS(vs_t2v_generate(t2v, &r, video, NULL), VS_ERR_INVALID_ARG, "takes no image");
    CHECK(!video->data);
    r.image = NULL;
    CHECK_FAILS(vs_t2v_generate(i2v, &r, video, NULL), VS_ERR_INVALID_ARG, "give the first frame");
    CHECK(!video->data);
    /* 81 frames is 1 + 4 k; 80 is not */
    r.image = image, r.frames = 8;
    CHECK_FAILS(vs_t2v_generate(i2v, &r, video, NULL), VS_ERR_INVALID_ARG, "1 + 4 k frames");
    return 0;
}

/* The padding frames the family puts before the video's latent frames (patch_size_t 2), and their dropping as
 * vs_t2v_generate and `decode` do it: the first n frames gone, the rest in order; a count out of range refused. */
TEST(padding_frames_are_dropped) {
    const vs_family *family = NULL;
    vs_dit_info dit;
    vs_vae_info vae;
    CHECK_OK(vs_family_detect(CP_DIR "i2v", &family));
    CHECK_OK(family->dit_info(CP_DIR "i2v", &dit));
    CHECK_OK(family->vae_info(CP_DIR "i2v/vae", &vae));
    CHECK(vs_family_padding_frames(family, &dit, &vae, 9) == 1);  /* 3 latent frames -> 4 */
    CHECK(vs_family_padding_frames(family, &dit, &vae, 13) == 0); /* 4 */
    CHECK(vs_family_padding_frames(family, &dit, NULL, 9) == 0);
    int channels = -1;
    CHECK_OK(vs_family_image_channels(family, &dit, &channels));
    CHECK(channels == dit.in_channels - dit.out_channels && channels > 0);
    vs_tensor *x = vs_test_tensor(), *y = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(x, VS_F32, VS_CPU, 5, (int64_t[]){1, 2, 4, 1, 3}));
    for (int i = 0; i < 24; i++) ((float *)x->data)[i] = (float)i;
    CHECK_OK(vs_t2v_drop_leading_frames(x, 1, y));
    CHECK(y->ndim == 5 && y->shape[1] == 2 && y->shape[2] == 3 && y->shape[4] == 3);
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 9; i++) CHECK(((float *)y->data)[c * 9 + i] == (float)(c * 12 + 3 + i));
    vs_tensor z = {0};
    CHECK_FAILS(vs_t2v_drop_leading_frames(x, 4, &z), VS_ERR_SHAPE, "drop 4 leading frames of 4");
    CHECK_FAILS(vs_t2v_drop_leading_frames(x, -1, &z), VS_ERR_SHAPE, "drop -1");
    CHECK(!z.data);
    CHECK_FAILS(vs_t2v_check_image_kind("m", 0, 1), VS_ERR_INVALID_ARG, "m is a text-to-video model");
    CHECK_FAILS(vs_t2v_check_image_kind("m", 4, 0), VS_ERR_INVALID_ARG, "give the first frame");
    CHECK_OK(vs_t2v_check_image_kind("m", 4, 1));
    return 0;
}

/* A pipeline folder missing its components: each load names what is missing. */
TEST(missing_components_are_named) {
    char dir[] = "/tmp/vs_cogpipe_XXXXXX";
    CHECK(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/model_index.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{\"_class_name\": \"CogVideoXImageToVideoPipeline\"}", f);
    fclose(f);
    vs_text_encoder *text = NULL;
    vs_dit *dit = NULL;
    vs_t2v *m = NULL;
    CHECK_FAILS(vs_text_encoder_load(dir, VS_CPU, &text), VS_ERR_NOT_FOUND, "tokenizer");
    CHECK_FAILS(vs_dit_load(dir, VS_CPU, &dit), VS_ERR_NOT_FOUND, "transformer/config.json");
    CHECK_FAILS(vs_t2v_load(dir, VS_CPU, &m), VS_ERR_NOT_FOUND, "a CogVideoX model");
    CHECK(!text && !dit && !m);
    remove(path);
    rmdir(dir);
    return 0;
}

static void free_pipeline(void *p) { vs_pipeline_free(p); }

/* The public API's first frame as pixels: a video from them; both a file and pixels, or pixels of no size,
 * refused with one line and no video. */
TEST(public_api_takes_pixels) {
    vs_pipeline_params params = vs_pipeline_default_params();
    params.device = VS_PIPELINE_CPU;
    params.attention.method = "dense";
    vs_pipeline *p = NULL;
    CHECK_OK(vs_pipeline_load(&p, CP_DIR "i2v", &params));
    vs_test_defer(free_pipeline, p);
    CHECK(vs_pipeline_get_info(p).takes_image);
    uint8_t rgb[6 * 8 * 3];
    for (int i = 0; i < 6 * 8 * 3; i++) rgb[i] = (uint8_t)(i * 5);
    vs_generate_request r = vs_generate_default_request();
    r.prompt = CP_PROMPT, r.frames = 9, r.height = 32, r.width = 48, r.steps = 1;
    r.image_rgb = rgb, r.image_width = 8, r.image_height = 6;
    vs_video *video = NULL;
    CHECK_OK(vs_pipeline_generate(p, &r, &video));
    CHECK(video && video->frames == 9 && video->width == 48 && video->height == 32);
    vs_video_free(video);
    video = NULL;
    r.image_path = CP_IMAGE;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &video), VS_ERR_INVALID_ARG, "not both");
    r.image_path = NULL, r.image_width = 0;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &video), VS_ERR_INVALID_ARG, "image pixels of 0 x 6");
    CHECK(!video);
    return 0;
}

RUN_TESTS(T(pipeline_matches_diffusers), T(defaults_and_scheduler_are_the_pipelines), T(memory_needs_come_from_the_configs),
          T(image_requests_are_checked), T(padding_frames_are_dropped), T(public_api_takes_pixels),
          T(missing_components_are_named))
