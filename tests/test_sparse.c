/* The sparse-method layer on the CPU: the registry, the dense warm-up rule, and
 * a model's attention (one state per layer, statistics taken once) giving
 * exactly what the dense kernel and the public vs_attention give. */
#include "check.h"
#include "sparse/sparse_attention.h"

TEST(methods_are_found_by_name) {
    const vs_sparse_method *m;
    CHECK_OK(vs_sparse_method_find("svg", &m));
    CHECK(m == &vs_sparse_method_svg);
    CHECK_OK(vs_sparse_method_find(NULL, &m));
    CHECK(m == &vs_sparse_method_dense);
    CHECK_FAILS(vs_sparse_method_find("SVG", &m), VS_ERR_INVALID_ARG,
                "unknown attention method 'SVG' (known: dense, svg, svg2)");
    CHECK(m == NULL);
    return 0;
}

TEST(warmup_is_the_first_steps_and_layers) {
    vs_attention_params p = {.method = "svg", .density = 0.25, .dense_steps = 0.2, .dense_layers = 0.03};
    CHECK(vs_sparse_warmup_is_dense(&p, 29, 30, 9, 50));  /* floor(0.2 * 50) = 10 dense steps */
    CHECK(!vs_sparse_warmup_is_dense(&p, 0, 30, 10, 50)); /* floor(0.03 * 30) = 0 dense layers */
    CHECK(vs_sparse_warmup_is_dense(&p, 0, 40, 10, 50));  /* floor(0.03 * 40) = 1 */
    CHECK(!vs_sparse_warmup_is_dense(&p, 1, 40, 10, 50));
    CHECK(!vs_sparse_warmup_is_dense(&p, 0, 2, 0, 1)); /* floor(0.2) = 0 */
    /* The products are taken in float, as the Wan forward always has: 0.7f * 90 rounds to 63 dense steps
     * where 0.7 * 90 in double is just below 63. */
    p.dense_steps = 0.7;
    CHECK(vs_sparse_warmup_is_dense(&p, 5, 30, 62, 90) && !vs_sparse_warmup_is_dense(&p, 5, 30, 63, 90));
    return 0;
}

static void free_sparse_attention(void *a) { vs_sparse_attention_free(a); }
static void free_attention(void *a) { vs_attention_free(a); }

/* Tensors from vs_test_tensor, freed after the case. */
typedef struct {
    vs_tensor *q, *k, *v, *o, *ref;
} qkv;

/* Head 0 attends within its frame, head 1 along its place: SVG classes them spatial and temporal. */
static int make_qkv(qkv *t, int F, int P, int H, int D) {
    const int N = F * P;
    int64_t shape[4] = {1, N, H, D};
    vs_tensor **all[] = {&t->q, &t->k, &t->v, &t->o, &t->ref};
    for (int i = 0; i < 5; i++)
        *all[i] = vs_test_tensor();
    for (int i = 0; i < 5; i++)
        CHECK_OK(vs_tensor_alloc(*all[i], VS_F32, VS_CPU, 4, shape));
    unsigned long long rng = 5;
    float *q = t->q->data, *k = t->k->data, *v = t->v->data;
    float *dir = vs_test_malloc(sizeof(float) * (size_t)(F + P) * D); /* a direction per frame, then per place */
    CHECK(dir);
    for (int i = 0; i < (F + P) * D; i++)
        dir[i] = (float)(2 * vs_test_uniform(&rng) - 1);
    for (int i = 0; i < N * H * D; i++)
        v[i] = (float)(2 * vs_test_uniform(&rng) - 1);
    for (int tok = 0; tok < N; tok++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) {
                const int key = h % 2 == 0 ? tok / P : F + tok % P;
                const float shared = 2.5f * dir[key * D + d];
                const int i = (tok * H + h) * D + d;
                q[i] = shared + 0.3f * (float)(2 * vs_test_uniform(&rng) - 1);
                k[i] = shared + 0.3f * (float)(2 * vs_test_uniform(&rng) - 1);
            }
    return 0;
}

static int same(const vs_tensor *a, const vs_tensor *b) {
    return !memcmp(a->data, b->data, sizeof(float) * (size_t)vs_tensor_numel(a));
}

TEST(model_attention_runs_warmup_then_method_per_layer) {
    const int F = 6, P = 150, H = 2, D = 64, layers = 3;
    qkv t;
    CHECK(make_qkv(&t, F, P, H, D) == 0);
    vs_sparse_setup setup = {VS_CPU, 1, H, F * P, D, 1, vs_svg_config_default(F, P, 0, 0.9), {0}};
    /* dense_layers 0.5 of 3: layer 0 dense; dense_steps 0.5 of 4: steps 0 and 1 dense. */
    const vs_attention_params params = {.method = "svg", .density = 0.4, .dense_steps = 0.5, .dense_layers = 0.5};
    vs_sparse_attention *a = NULL;
    CHECK_OK(vs_sparse_attention_create(&a, &setup, &params, layers));
    vs_test_defer(free_sparse_attention, a);
    CHECK(!strcmp(vs_sparse_attention_method(a), "svg"));

    /* The warm-up is the dense kernel, bit for bit, and profiles nothing. */
    CHECK_OK(vs_sparse_attention_dense(a, t.q, t.k, t.v, t.ref, NULL));
    CHECK_OK(vs_sparse_attention_run(a, 2, 1, 4, t.q, t.k, t.v, t.o, NULL));
    CHECK(same(t.o, t.ref));
    CHECK_OK(vs_sparse_attention_run(a, 0, 3, 4, t.q, t.k, t.v, t.o, NULL));
    CHECK(same(t.o, t.ref));
    vs_sparse_stats stats;
    CHECK_OK(vs_sparse_attention_take_stats(a, &stats));
    CHECK(stats.heads_spatial == 0 && stats.heads_temporal == 0);
    CHECK_FAILS(vs_sparse_attention_head_classes(a, 1, NULL, NULL, NULL), VS_ERR_INVALID_ARG, "no SVG run");

    /* After it, each layer keeps its own profile; the density is params', not the config's. */
    CHECK_OK(vs_sparse_attention_run(a, 1, 2, 4, t.q, t.k, t.v, t.o, NULL));
    CHECK(!same(t.o, t.ref));
    uint8_t cls[2];
    CHECK_OK(vs_sparse_attention_head_classes(a, 1, cls, NULL, NULL));
    CHECK_MSG(cls[0] == 0 && cls[1] == 1, "classes %d %d", cls[0], cls[1]);
    CHECK_FAILS(vs_sparse_attention_head_classes(a, 2, cls, NULL, NULL), VS_ERR_INVALID_ARG, "no SVG run");
    CHECK_OK(vs_sparse_attention_run(a, 2, 2, 4, t.q, t.k, t.v, t.o, NULL));
    CHECK_OK(vs_sparse_attention_take_stats(a, &stats));
    CHECK(stats.heads_spatial == 2 && stats.heads_temporal == 2 && stats.density < 0.9);
    CHECK(stats.density == vs_sparse_attention_density(a));
    CHECK_OK(vs_sparse_attention_take_stats(a, &stats));
    CHECK(stats.heads_spatial == 0 && stats.heads_temporal == 0);

    /* One sparse call equals the public attention's run of the same method. */
    vs_attention *pub = NULL;
    CHECK_OK(vs_attention_create(&pub, VS_CPU, 1, H, F * P, D, &params, &setup.video));
    vs_test_defer(free_attention, pub);
    CHECK_OK(vs_attention_run(pub, t.q, t.k, t.v, t.ref, NULL));
    CHECK(same(t.o, t.ref));
    CHECK(vs_attention_density(pub) == vs_sparse_attention_density(a));

    CHECK_FAILS(vs_sparse_attention_run(a, 3, 2, 4, t.q, t.k, t.v, t.o, NULL), VS_ERR_INVALID_ARG,
                "layer 3 of 3");
    const vs_attention_params unresolved = {.method = "svg", .density = 0.4, .dense_steps = -1, .dense_layers = 0};
    CHECK_FAILS(vs_sparse_attention_create(&a, &setup, &unresolved, layers), VS_ERR_INVALID_ARG, "resolved");
    return 0;
}

TEST(dense_method_keeps_nothing) {
    const int F = 2, P = 64, H = 2, D = 64;
    qkv t;
    CHECK(make_qkv(&t, F, P, H, D) == 0);
    vs_sparse_setup setup = {VS_CPU, 1, H, F * P, D, 0, {0}, {0}};
    vs_sparse_attention *a = NULL;
    CHECK_OK(vs_sparse_attention_create(&a, &setup, NULL, 2));
    vs_test_defer(free_sparse_attention, a);
    CHECK(!strcmp(vs_sparse_attention_method(a), "dense") && vs_sparse_attention_density(a) == 1.0);
    CHECK_OK(vs_sparse_attention_dense(a, t.q, t.k, t.v, t.ref, NULL));
    CHECK_OK(vs_sparse_attention_run(a, 1, 0, 1, t.q, t.k, t.v, t.o, NULL));
    CHECK(same(t.o, t.ref));
    vs_sparse_stats stats;
    CHECK_OK(vs_sparse_attention_take_stats(a, &stats));
    CHECK(stats.density == 1.0 && stats.heads_spatial == 0 && stats.heads_temporal == 0);
    CHECK_FAILS(vs_sparse_attention_head_classes(a, 0, NULL, NULL, NULL), VS_ERR_INVALID_ARG,
                "keeps no head classes");
    return 0;
}

RUN_TESTS(T(methods_are_found_by_name), T(warmup_is_the_first_steps_and_layers),
          T(model_attention_runs_warmup_then_method_per_layer), T(dense_method_keeps_nothing))
