/* The public attention API on the CPU: the method registry, dense matches the
 * f64 reference, SVG profiles heads and runs the masked kernel, misuse gives
 * clear errors. */
#include "backend/cpu/attention_cpu.h"
#include "check.h"

static void free_attention(void *a) { vs_attention_free(a); }

static void fill(float *x, int64_t n, unsigned long long *rng) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(2 * vs_test_uniform(rng) - 1);
}

TEST(methods_are_listed_by_name) {
    CHECK(!strcmp(vs_attention_method_name(0), "dense") && !strcmp(vs_attention_method_name(1), "svg"));
    CHECK(vs_attention_method_name(2) == NULL && vs_attention_method_name(-1) == NULL);
    vs_attention_params p = vs_attention_default_params();
    CHECK(!strcmp(p.method, "svg") && p.density < 0 && p.dense_steps < 0 && p.dense_layers < 0);
    return 0;
}

TEST(dense_matches_f64_reference) {
    const int B = 2, N = 300, H = 3, D = 64;
    int64_t shape[4] = {B, N, H, D}, n = (int64_t)B * N * H * D;
    vs_tensor *q = vs_test_tensor(), *k = vs_test_tensor(), *v = vs_test_tensor(), *o = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(q, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(k, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(v, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(o, VS_F32, VS_CPU, 4, shape));
    unsigned long long rng = 7;
    fill(q->data, n, &rng), fill(k->data, n, &rng), fill(v->data, n, &rng);
    for (int64_t i = 0; i < n; i++) ((float *)o->data)[i] = NAN;
    vs_attention *attn;
    CHECK_OK(vs_attention_create(&attn, VS_CPU, B, H, N, D, NULL, NULL));
    vs_test_defer(free_attention, attn);
    CHECK(!strcmp(vs_attention_method(attn), "dense"));
    CHECK_OK(vs_attention_run(attn, q, k, v, o, NULL));
    double *qd = vs_test_malloc(sizeof(double) * n * 4), *kd = qd + n, *vd = kd + n, *od = vd + n;
    for (int64_t i = 0; i < n; i++)
        qd[i] = ((float *)q->data)[i], kd[i] = ((float *)k->data)[i], vd[i] = ((float *)v->data)[i];
    vs_attn_args shape_args = {0};
    shape_args.batch = B, shape_args.heads = H, shape_args.seq_len = N, shape_args.head_dim = D;
    vs_attn_args_contiguous(&shape_args);
    shape_args.scale = 0.125f;
    CHECK_OK(vs_cpu_attention_f64(qd, kd, vd, od, &shape_args));
    double err = vs_test_rel_l2(o->data, od, n);
    CHECK_MSG(err < 1e-5, "rel L2 %g", err);
    CHECK(vs_attention_density(attn) == 1.0);
    CHECK_FAILS(vs_attention_last_profile(attn, NULL, NULL, NULL), VS_ERR_INVALID_ARG, "dense keeps no head classes");
    int64_t spatial = -1, temporal = -1;
    CHECK_OK(vs_attention_take_head_counts(attn, &spatial, &temporal));
    CHECK(spatial == 0 && temporal == 0);
    return 0;
}

TEST(svg_profiles_and_reports_heads) {
    const int F = 6, P = 150, N = F * P, H = 2, D = 64;
    int64_t shape[4] = {1, N, H, D}, n = (int64_t)N * H * D;
    vs_tensor *q = vs_test_tensor(), *k = vs_test_tensor(), *v = vs_test_tensor(), *o = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(q, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(k, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(v, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(o, VS_F32, VS_CPU, 4, shape));
    /* Head 0 attends within its frame (spatial), head 1 along its place (temporal). */
    unsigned long long rng = 11;
    float frame_dir[6][64], place_dir[150][64];
    fill(&frame_dir[0][0], 6 * 64, &rng), fill(&place_dir[0][0], 150 * 64, &rng);
    fill(v->data, n, &rng);
    for (int t = 0; t < N; t++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) {
                float shared = 2.5f * (h == 0 ? frame_dir[t / P][d] : place_dir[t % P][d]);
                int64_t i = ((int64_t)t * H + h) * D + d;
                ((float *)q->data)[i] = shared + 0.3f * (float)(2 * vs_test_uniform(&rng) - 1);
                ((float *)k->data)[i] = shared + 0.3f * (float)(2 * vs_test_uniform(&rng) - 1);
            }
    vs_svg_config cfg = vs_svg_config_default(F, P, 0, 0.4);
    vs_attention *attn;
    const vs_attention_params svg = vs_attention_default_params(); /* density: the config's */
    CHECK_OK(vs_attention_create(&attn, VS_CPU, 1, H, N, D, &svg, &cfg));
    vs_test_defer(free_attention, attn);
    CHECK(!strcmp(vs_attention_method(attn), "svg"));
    CHECK(vs_attention_density(attn) > 0 && vs_attention_density(attn) < 1);
    CHECK_FAILS(vs_attention_last_profile(attn, NULL, NULL, NULL), VS_ERR_INVALID_ARG, "no SVG run");
    CHECK_OK(vs_attention_run(attn, q, k, v, o, NULL));
    uint8_t cls[2];
    float mse_s[2], mse_t[2];
    CHECK_OK(vs_attention_last_profile(attn, cls, mse_s, mse_t));
    CHECK_MSG(cls[0] == 0 && cls[1] == 1, "classes %d %d", cls[0], cls[1]);
    CHECK(mse_s[0] < mse_t[0] && mse_t[1] < mse_s[1]);
    /* The running head counts: one run's choices, then none until the next runs. */
    int64_t spatial = -1, temporal = -1;
    CHECK_OK(vs_attention_take_head_counts(attn, &spatial, &temporal));
    CHECK_MSG(spatial == 1 && temporal == 1, "counts %lld / %lld", (long long)spatial, (long long)temporal);
    CHECK_OK(vs_attention_take_head_counts(attn, &spatial, &temporal));
    CHECK(spatial == 0 && temporal == 0);
    CHECK_OK(vs_attention_run(attn, q, k, v, o, NULL));
    CHECK_OK(vs_attention_run(attn, q, k, v, o, NULL));
    CHECK_OK(vs_attention_take_head_counts(attn, &spatial, &temporal));
    CHECK(spatial == 2 && temporal == 2);
    for (int64_t i = 0; i < n; i++) CHECK(isfinite(((float *)o->data)[i]));
    /* params' density replaces the config's: a denser mask. */
    const double kept = vs_attention_density(attn);
    const vs_attention_params denser = {"svg", 0.8, -1, -1};
    CHECK_OK(vs_attention_create(&attn, VS_CPU, 1, H, N, D, &denser, &cfg));
    vs_test_defer(free_attention, attn);
    CHECK(vs_attention_density(attn) > kept);
    return 0;
}

TEST(misuse_is_reported) {
    vs_attention *attn;
    CHECK_FAILS(vs_attention_create(&attn, VS_CPU, 1, 2, 100, 96, NULL, NULL), VS_ERR_SHAPE, "head_dim 96");
    vs_svg_config cfg = vs_svg_config_default(3, 10, 0, 0.3);
    const vs_attention_params svg = {"svg", -1, 0, 0}, unknown = {"svg2", -1, 0, 0};
    CHECK_FAILS(vs_attention_create(&attn, VS_CPU, 1, 2, 100, 64, &svg, &cfg), VS_ERR_SHAPE, "but the sequence has 100");
    CHECK_FAILS(vs_attention_create(&attn, VS_CPU, 1, 2, 30, 64, &svg, NULL), VS_ERR_INVALID_ARG, "token layout");
    CHECK_FAILS(vs_attention_create(&attn, VS_CPU, 1, 2, 30, 64, &unknown, &cfg), VS_ERR_INVALID_ARG,
                "unknown attention method 'svg2' (known: dense, svg)");
    CHECK_OK(vs_attention_create(&attn, VS_CPU, 1, 2, 30, 64, &svg, &cfg));
    vs_test_defer(free_attention, attn);
    int64_t wrong[4] = {1, 31, 2, 64};
    vs_tensor *t = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(t, VS_F32, VS_CPU, 4, wrong));
    CHECK_FAILS(vs_attention_run(attn, t, t, t, t, NULL), VS_ERR_SHAPE, "q must be [1, 30, 2, 64]");
    return 0;
}

/* A model's layers (vs_attention_create_layers): the warm-up's layers and steps run dense, the others SVG. */
TEST(layers_follow_the_warm_up) {
    const int F = 4, P = 30, N = F * P, H = 2, D = 64;
    int64_t shape[4] = {1, N, H, D}, n = (int64_t)N * H * D;
    vs_tensor *q = vs_test_tensor(), *k = vs_test_tensor(), *v = vs_test_tensor(), *o = vs_test_tensor(),
              *dense_out = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(q, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(k, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(v, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(o, VS_F32, VS_CPU, 4, shape));
    CHECK_OK(vs_tensor_alloc(dense_out, VS_F32, VS_CPU, 4, shape));
    unsigned long long rng = 5;
    fill(q->data, n, &rng), fill(k->data, n, &rng), fill(v->data, n, &rng);
    vs_attention *dense, *attn;
    CHECK_OK(vs_attention_create(&dense, VS_CPU, 1, H, N, D, NULL, NULL));
    vs_test_defer(free_attention, dense);
    CHECK_OK(vs_attention_run(dense, q, k, v, dense_out, NULL));
    const vs_svg_config cfg = vs_svg_config_default(F, P, 0, 0.4);
    /* 3 layers, 4 steps: floor(0.34 * 3) = 1 dense layer, floor(0.5 * 4) = 2 dense steps. */
    const vs_attention_params params = {"svg", 0.4, 0.5, 0.34};
    CHECK_OK(vs_attention_create_layers(&attn, VS_CPU, 1, H, N, D, 3, &params, &cfg));
    vs_test_defer(free_attention, attn);
    int64_t spatial = -1, temporal = -1;
    for (int i = 0; i < n; i++) ((float *)o->data)[i] = NAN;
    CHECK_OK(vs_attention_run_layer(attn, 0, 3, 4, q, k, v, o, NULL)); /* a warm-up layer */
    CHECK(memcmp(o->data, dense_out->data, (size_t)n * sizeof(float)) == 0);
    CHECK_OK(vs_attention_run_layer(attn, 2, 1, 4, q, k, v, o, NULL)); /* a warm-up step */
    CHECK(memcmp(o->data, dense_out->data, (size_t)n * sizeof(float)) == 0);
    CHECK_OK(vs_attention_take_head_counts(attn, &spatial, &temporal));
    CHECK(spatial == 0 && temporal == 0);
    CHECK_OK(vs_attention_run_layer(attn, 1, 2, 4, q, k, v, o, NULL)); /* SVG */
    CHECK_OK(vs_attention_run_layer(attn, 2, 3, 4, q, k, v, o, NULL));
    CHECK_OK(vs_attention_take_head_counts(attn, &spatial, &temporal));
    CHECK_MSG(spatial + temporal == 2 * H, "counts %lld / %lld", (long long)spatial, (long long)temporal);
    for (int64_t i = 0; i < n; i++) CHECK(isfinite(((float *)o->data)[i]));
    CHECK_FAILS(vs_attention_run_layer(attn, 3, 2, 4, q, k, v, o, NULL), VS_ERR_INVALID_ARG, "layer 3 of 3");
    CHECK_FAILS(vs_attention_run_layer(attn, 0, 4, 4, q, k, v, o, NULL), VS_ERR_INVALID_ARG, "step 4 of 4");
    CHECK_FAILS(vs_attention_run_layer(attn, -1, 0, 1, q, k, v, o, NULL), VS_ERR_INVALID_ARG, "layer -1");
    /* Negative warm-up fractions: none, every run SVG. */
    const vs_attention_params no_warm_up = {"svg", 0.4, -1, -1};
    CHECK_OK(vs_attention_create_layers(&attn, VS_CPU, 1, H, N, D, 2, &no_warm_up, &cfg));
    vs_test_defer(free_attention, attn);
    CHECK_OK(vs_attention_run_layer(attn, 0, 0, 1, q, k, v, o, NULL));
    CHECK_OK(vs_attention_take_head_counts(attn, &spatial, &temporal));
    CHECK(spatial + temporal == H);
    CHECK_FAILS(vs_attention_create_layers(&attn, VS_CPU, 1, H, N, D, 0, &params, &cfg), VS_ERR_INVALID_ARG,
                "0 layers");
    return 0;
}

RUN_TESTS(T(methods_are_listed_by_name), T(dense_matches_f64_reference), T(svg_profiles_and_reports_heads), T(misuse_is_reported),
          T(layers_follow_the_warm_up))
