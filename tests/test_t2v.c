/* The text-to-video chain on the committed tiny pipeline (models/vidsparse-tiny),
 * at a reduced size so it runs in a moment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pipeline/t2v.h"

#define MODEL "models/vidsparse-tiny"

static void free_t2v(void *m) { vs_t2v_free(m); }

static vs_t2v_request small_request(const char *prompt) {
    vs_t2v_request r = vs_t2v_request_default(prompt);
    r.frames = 2, r.height = 16, r.width = 16, r.steps = 2, r.seed = 7;
    return r;
}

TEST(defaults_come_from_the_folder) {
    vs_t2v *m;
    CHECK_OK(vs_t2v_load(MODEL, VS_CPU, &m));
    vs_test_defer(free_t2v, m);
    const vs_t2v_defaults *d = vs_t2v_get_defaults(m);
    CHECK(d->frames == 16 && d->height == 32 && d->width == 32 && d->text_length == 32 && d->steps == 20);
    CHECK(vs_t2v_pixel_space(m));
    /* The model's SVG settings (svg_dense_layers absent: the reference's 0.03); negative arguments take them. */
    const vs_attention_params *da = &d->attention;
    CHECK(d->guidance == 4.0f && !strcmp(da->method, "svg") && da->density == 0.4 && da->dense_steps == 0.4 &&
          da->dense_layers == 0.03);
    vs_attention_params a = vs_t2v_resolve_attention(m, &(vs_attention_params){.method = NULL, .density = -1, .dense_steps = -1, .dense_layers = -1});
    CHECK(!strcmp(a.method, "svg") && a.density == 0.4 && a.dense_steps == 0.4 && a.dense_layers == 0.03);
    a = vs_t2v_resolve_attention(m, &(vs_attention_params){.method = "dense", .density = 0.25, .dense_steps = 0, .dense_layers = 0.5});
    CHECK(!strcmp(a.method, "dense") && a.density == 0.25 && a.dense_steps == 0 && a.dense_layers == 0.5);

    /* An SVG default out of range is a format error naming the file, before any component loads. */
    char dir[] = "/tmp/vs_t2v_XXXXXX", path[64], index[64];
    CHECK(mkdtemp(dir) != NULL);
    vs_test_remove(dir); /* after the files in it */
    snprintf(index, sizeof index, "%s/model_index.json", dir);
    FILE *f = fopen(index, "w");
    CHECK(f != NULL);
    vs_test_remove(index);
    fputs("{\"_class_name\": \"WanPipeline\"}\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/vidsparse.json", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    vs_test_remove(path);
    fputs("{\"svg_density\": 1.5}\n", f);
    fclose(f);
    CHECK_FAILS(vs_t2v_load(dir, VS_CPU, &m), VS_ERR_FORMAT, "svg_density must be in (0, 1]");
    return 0;
}

TEST(generate_is_seeded_and_finite) {
    vs_t2v *m;
    CHECK_OK(vs_t2v_load(MODEL, VS_CPU, &m));
    vs_test_defer(free_t2v, m);
    vs_t2v_request r = small_request("two yellow squares moving up on a black background");
    vs_tensor *a = vs_test_tensor(), *b = vs_test_tensor(), *c = vs_test_tensor();
    vs_t2v_stats st;
    CHECK_OK(vs_t2v_generate(m, &r, a, &st));
    CHECK(a->ndim == 4 && a->shape[0] == 2 && a->shape[1] == 3 && a->shape[2] == 16 && a->shape[3] == 16);
    for (int64_t i = 0; i < vs_tensor_numel(a); i++) CHECK(isfinite(((float *)a->data)[i]));
    CHECK(st.dit.total_s > 0 && st.dit.attention_s > 0 && st.dit.heads_spatial + st.dit.heads_temporal == 0);
    CHECK_OK(vs_t2v_generate(m, &r, b, NULL));
    CHECK(!memcmp(a->data, b->data, sizeof(float) * (size_t)vs_tensor_numel(a)));
    r.seed = 8;
    CHECK_OK(vs_t2v_generate(m, &r, c, NULL));
    CHECK(memcmp(a->data, c->data, sizeof(float) * (size_t)vs_tensor_numel(a)) != 0);
    /* SVG: every (batch entry, layer, head) after the dense steps gets a class. 5 steps, 1 dense. */
    r = small_request("a red circle moving left on a blue background");
    r.frames = 8, r.steps = 5;
    r.attention = (vs_attention_params){.method = "svg", .density = 0.25, .dense_steps = 0.2, .dense_layers = 0.03};
    vs_tensor *d = vs_test_tensor();
    CHECK_OK(vs_t2v_generate(m, &r, d, &st));
    CHECK_MSG(st.dit.heads_spatial + st.dit.heads_temporal == 2 * 4 * 2 * 4, "%lld + %lld",
              (long long)st.dit.heads_spatial, (long long)st.dit.heads_temporal);
    return 0;
}

TEST(bad_requests_and_folders) {
    vs_t2v *m;
    CHECK_OK(vs_t2v_load(MODEL, VS_CPU, &m));
    vs_test_defer(free_t2v, m);
    vs_t2v_request r = small_request("a red circle");
    r.height = 15;
    vs_tensor v;
    CHECK_FAILS(vs_t2v_generate(m, &r, &v, NULL), VS_ERR_INVALID_ARG, "multiples of 2");
    r = small_request(NULL);
    CHECK_FAILS(vs_t2v_generate(m, &r, &v, NULL), VS_ERR_INVALID_ARG, "no prompt");
    CHECK_FAILS(vs_t2v_load("tests/data/no-such-model", VS_CPU, &m), VS_ERR_NOT_FOUND, "no-such-model");
    /* tests/data/tiny-wan has no tokenizer. */
    CHECK_FAILS(vs_t2v_load("tests/data/tiny-wan", VS_CPU, &m), VS_ERR_NOT_FOUND, "tiny-wan");
    char dir[4096];
    CHECK_FAILS(vs_t2v_locate("tests/data/no-such-model", dir, sizeof dir), VS_ERR_NOT_FOUND, "no-such-model");
    CHECK_OK(vs_t2v_locate(MODEL, dir, sizeof dir));
    CHECK(!strcmp(dir, MODEL));
    setenv("VS_MODEL_DIR", "tests/data/nowhere", 1);
    CHECK_FAILS(vs_t2v_locate(NULL, dir, sizeof dir), VS_ERR_NOT_FOUND, "VS_MODEL_DIR=tests/data/nowhere");
    unsetenv("VS_MODEL_DIR");
    CHECK_OK(vs_t2v_locate(NULL, dir, sizeof dir));
    CHECK(strstr(dir, "models/vidsparse-tiny") != NULL);
    return 0;
}

RUN_TESTS(T(defaults_come_from_the_folder), T(generate_is_seeded_and_finite), T(bad_requests_and_folders))
