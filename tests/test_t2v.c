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

static vs_t2v_request small_request(const char *prompt) {
    vs_t2v_request r = vs_t2v_request_default(prompt);
    r.frames = 2, r.height = 16, r.width = 16, r.steps = 2, r.seed = 7;
    return r;
}

TEST(defaults_come_from_the_folder) {
    vs_t2v *m;
    CHECK_OK(vs_t2v_load(MODEL, VS_CPU, &m));
    const vs_t2v_defaults *d = vs_t2v_get_defaults(m);
    CHECK(d->frames == 16 && d->height == 32 && d->width == 32 && d->text_length == 32 && d->steps == 20);
    CHECK(vs_t2v_pixel_space(m));
    /* The model's SVG settings (svg_dense_layers absent: the reference's 0.03); negative arguments take them. */
    CHECK(d->guidance == 4.0f && d->svg_density == 0.4 && d->svg_dense_steps == 0.4f && d->svg_dense_layers == 0.03f);
    const vs_attention_params asked = vs_attention_default_params();
    vs_attention_params a = vs_t2v_resolve_attention(m, &asked);
    CHECK(!strcmp(a.method, "svg") && a.density == 0.4 && a.dense_steps == 0.4f && a.dense_layers == 0.03f);
    a = vs_t2v_resolve_attention(m, &(vs_attention_params){"svg", 0.25, 0, 0.5});
    CHECK(a.density == 0.25 && a.dense_steps == 0 && a.dense_layers == 0.5);
    vs_t2v_free(m);

    /* An SVG default out of range is a format error naming the file, before anything else loads. */
    char dir[] = "/tmp/vs_t2v_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/vidsparse.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"svg_density\": 1.5}\n", f);
    fclose(f);
    CHECK_FAILS(vs_t2v_load(dir, VS_CPU, &m), VS_ERR_FORMAT, "svg_density must be in (0, 1]");
    remove(path);
    rmdir(dir);
    return 0;
}

TEST(generate_is_seeded_and_finite) {
    vs_t2v *m;
    CHECK_OK(vs_t2v_load(MODEL, VS_CPU, &m));
    vs_t2v_request r = small_request("two yellow squares moving up on a black background");
    vs_tensor a, b, c;
    vs_t2v_stats st;
    CHECK_OK(vs_t2v_generate(m, &r, &a, &st));
    CHECK(a.ndim == 4 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 16 && a.shape[3] == 16);
    for (int64_t i = 0; i < vs_tensor_numel(&a); i++) CHECK(isfinite(((float *)a.data)[i]));
    CHECK(st.dit.total_s > 0 && st.dit.attention_s > 0 && st.dit.heads_spatial + st.dit.heads_temporal == 0);
    CHECK_OK(vs_t2v_generate(m, &r, &b, NULL));
    CHECK(!memcmp(a.data, b.data, sizeof(float) * (size_t)vs_tensor_numel(&a)));
    r.seed = 8;
    CHECK_OK(vs_t2v_generate(m, &r, &c, NULL));
    CHECK(memcmp(a.data, c.data, sizeof(float) * (size_t)vs_tensor_numel(&a)) != 0);
    vs_tensor_free(&a);
    vs_tensor_free(&b);
    vs_tensor_free(&c);
    /* SVG: every (batch entry, layer, head) after the dense steps gets a class. 5 steps, 1 dense. */
    r = small_request("a red circle moving left on a blue background");
    r.frames = 8, r.steps = 5;
    r.attention = (vs_attention_params){"svg", 0.25, 0.2, 0.03};
    CHECK_OK(vs_t2v_generate(m, &r, &a, &st));
    CHECK_MSG(st.dit.heads_spatial + st.dit.heads_temporal == 2 * 4 * 2 * 4, "%lld + %lld",
              (long long)st.dit.heads_spatial, (long long)st.dit.heads_temporal);
    vs_tensor_free(&a);
    vs_t2v_free(m);
    return 0;
}

TEST(bad_requests_and_folders) {
    vs_t2v *m;
    CHECK_OK(vs_t2v_load(MODEL, VS_CPU, &m));
    vs_t2v_request r = small_request("a red circle");
    r.height = 15;
    vs_tensor v;
    CHECK_FAILS(vs_t2v_generate(m, &r, &v, NULL), VS_ERR_INVALID_ARG, "multiples of 2");
    r = small_request(NULL);
    CHECK_FAILS(vs_t2v_generate(m, &r, &v, NULL), VS_ERR_INVALID_ARG, "no prompt");
    vs_t2v_free(m);
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
