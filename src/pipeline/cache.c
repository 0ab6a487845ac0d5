/* The step-cache policies (cache.h): one table per policy, looked up by name. */
#include "pipeline/cache.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "ops/ops.h"

struct vs_step_cache {
    const struct cache_policy *policy;
    double threshold;
    vs_teacache_fit fit;
    int steps, branches;
    int warmup;          /* EasyCache: steps that always run first */
    int64_t n;           /* latent values of one branch */
    float *delta;        /* branches x n: output - latents of the last run */
    int runs;            /* runs so far */
    double accumulated;  /* EasyCache, TeaCache: the change summed since the last run */
    /* EasyCache: the previous step's latents; the last run's latents and prompt-branch output; the rate
     * k = mean|v - v_run| / mean|x - x_run| between the last two runs */
    float *prev_x, *run_x, *run_out;
    int have_prev_x;
    double k;
    int have_k;
    /* TeaCache: the previous step's signal (on the device and in the dtype the family gives it), and the
     * relative L1 change of this step's from it, reduced where the signals are */
    vs_tensor prev_signal;
    double signal_change;
};

typedef struct cache_policy {
    const char *name;
    double default_threshold; /* negative: the model's (TeaCache's fit) */
    int needs_signal;
    /* Whether step `step` runs the DiT (state updated as the method does before its pass); a policy that
     * needs the signal finds its change from the previous step's in c->signal_change. */
    int (*decide)(vs_step_cache *c, int step, const float *x);
    /* Optional: what the method learns from a run (x and the prompt branch's output). */
    void (*learn)(vs_step_cache *c, const float *x, const float *out);
} cache_policy;

/* mean |a - b| (b NULL: mean |a|), in double. */
static double mean_abs(const float *a, const float *b, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += fabs((double)a[i] - (b ? (double)b[i] : 0.0));
    return n ? sum / (double)n : 0.0;
}

static int is_end(const vs_step_cache *c, int step) { return step >= c->steps - 1; }

/* ---- none ---- */

static int none_decide(vs_step_cache *c, int step, const float *x) {
    (void)c, (void)step, (void)x;
    return 1;
}

/* ---- EasyCache (EasyCache4Wan2.1/easycache_generate.py's rule, decided on the prompt's branch for both) ----
 * The first steps (Wan's script: 10 of 50, steps / 5 unless the family sets its own: EasyCache4HunyuanVideo's
 * 5) and the last step run. After that the step's
 * predicted output change k * mean|x_t - x_{t-1}| / mean|v_run| accumulates, and the DiT runs (and the sum
 * restarts) once the sum reaches the threshold. Without a rate k yet, the step runs. */

static int easycache_decide(vs_step_cache *c, int step, const float *x) {
    int run = 1;
    if (step < c->warmup || is_end(c, step)) {
        c->accumulated = 0;
    } else if (c->have_prev_x && c->runs && c->have_k) {
        c->accumulated += c->k * mean_abs(x, c->prev_x, c->n) / mean_abs(c->run_out, NULL, c->n);
        run = !(c->accumulated < c->threshold); /* NaN (a zero output) runs */
        if (run) c->accumulated = 0;
    }
    memcpy(c->prev_x, x, sizeof(float) * (size_t)c->n);
    c->have_prev_x = 1;
    return run;
}

static void easycache_learn(vs_step_cache *c, const float *x, const float *out) {
    if (c->runs) {
        const double dx = mean_abs(x, c->run_x, c->n);
        if (dx > 0) c->k = mean_abs(out, c->run_out, c->n) / dx, c->have_k = 1;
    }
    memcpy(c->run_x, x, sizeof(float) * (size_t)c->n);
    memcpy(c->run_out, out, sizeof(float) * (size_t)c->n);
}

/* ---- TeaCache (TeaCache4Wan2.1/teacache_generate.py's default mode: the time embedding, one retained
 * step) ----
 * The first and the last step run. After that the fitted polynomial of the relative L1 change of the
 * signal from the previous step accumulates, and the DiT runs (the sum restarting) once it reaches the
 * threshold. The reference decides each branch on its own signal; both branches of a text-to-video step
 * share the timestep, hence the signal and the decision. */

static double teacache_rescale(const vs_teacache_fit *fit, double d) {
    double y = 0;
    for (int i = 0; i < 5; i++) y = y * d + fit->coefficients[i]; /* numpy.poly1d's Horner order */
    return y;
}

static int teacache_decide(vs_step_cache *c, int step, const float *x) {
    (void)x;
    int run = 1;
    if (step < 1 || is_end(c, step)) {
        c->accumulated = 0;
    } else {
        c->accumulated += teacache_rescale(&c->fit, c->signal_change);
        run = !(c->accumulated < c->threshold);
        if (run) c->accumulated = 0;
    }
    return run;
}

/* ---- FORA (prathebaselva/FORA's static cache: it counts steps down to 0 and computes at the first and
 * wherever the count is a multiple of N) ---- */

static int fora_decide(vs_step_cache *c, int step, const float *x) {
    (void)x;
    return step == 0 || (c->steps - 1 - step) % (int)c->threshold == 0;
}

static const cache_policy policies[] = {
    {"none", 0, 0, none_decide, NULL},
    {"easycache", 0.05, 0, easycache_decide, easycache_learn},
    {"teacache", -1, 1, teacache_decide, NULL},
    {"fora", 3, 0, fora_decide, NULL},
};
enum { POLICY_COUNT = (int)(sizeof policies / sizeof policies[0]) };

const char *vs_cache_policy_name(int i) { return i >= 0 && i < POLICY_COUNT ? policies[i].name : NULL; }

static vs_status find_policy(const char *name, const cache_policy **out) {
    if (!name) name = "none";
    char known[128] = "";
    for (int i = 0; i < POLICY_COUNT; i++) {
        if (!strcmp(name, policies[i].name)) {
            *out = &policies[i];
            return VS_OK;
        }
        const size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", policies[i].name);
    }
    return vs_fail(VS_ERR_INVALID_ARG, "unknown cache policy '%s' (known: %s)", name, known);
}

vs_status vs_cache_resolve(const vs_cache_settings *in, vs_dit *dit, vs_cache_settings *out, vs_teacache_fit *fit) {
    const cache_policy *p;
    VS_TRY(find_policy(in->policy, &p));
    vs_teacache_fit teacache;
    memset(&teacache, 0, sizeof teacache);
    if (p->needs_signal && dit) VS_TRY(vs_dit_teacache(dit, NULL, NULL, &teacache));
    double threshold = in->threshold;
    int warmup = in->warmup;
    const vs_generation_defaults *family = dit ? &vs_dit_family(dit)->defaults : NULL;
    if (p->learn == easycache_learn && family) {
        if (threshold < 0 && family->easycache_threshold > 0) threshold = family->easycache_threshold;
        if (warmup <= 0) warmup = family->easycache_warmup;
    }
    if (p == &policies[0]) {
        threshold = 0;
    } else if (threshold < 0) {
        threshold = p->default_threshold >= 0 ? p->default_threshold : teacache.threshold;
    } else if (p->decide == fora_decide ? !(threshold >= 1 && threshold <= 1000 && threshold == floor(threshold))
                                        : !(threshold > 0)) {
        return vs_fail(VS_ERR_INVALID_ARG, "cache policy %s: threshold %g must be %s (negative: the default)",
                       p->name, threshold,
                       p->decide == fora_decide ? "a whole number of steps N in [1, 1000] (the DiT runs every N-th)"
                                                : "positive");
    }
    if (p->needs_signal && !dit && !(threshold > 0))
        return vs_fail(VS_ERR_INVALID_ARG, "cache policy teacache: its default threshold comes from the model");
    *out = (vs_cache_settings){.policy = p->name, .threshold = threshold, .warmup = warmup > 0 ? warmup : 0};
    if (fit) *fit = teacache;
    return VS_OK;
}

vs_status vs_step_cache_create(const vs_cache_settings *settings, const vs_teacache_fit *fit, int steps, int64_t n,
                               int branches, vs_step_cache **out) {
    *out = NULL;
    const cache_policy *p;
    VS_TRY(find_policy(settings->policy, &p));
    if (steps < 1 || n < 1 || branches < 1 || branches > 2)
        return vs_fail(VS_ERR_INVALID_ARG, "step cache: %d steps, %lld values, %d branches", steps, (long long)n,
                       branches);
    if (p->needs_signal && !fit)
        return vs_fail(VS_ERR_INVALID_ARG, "cache policy %s needs the model's published fit", p->name);
    vs_step_cache *c = calloc(1, sizeof *c);
    if (!c) return vs_fail(VS_ERR_OOM, "out of memory");
    c->policy = p, c->threshold = settings->threshold, c->steps = steps, c->n = n, c->branches = branches;
    c->warmup = settings->warmup > 0 ? settings->warmup : steps / 5;
    if (fit) c->fit = *fit;
    const size_t bytes = sizeof(float) * (size_t)n;
    int ok = p == &policies[0] || (c->delta = malloc(bytes * (size_t)branches)) != NULL;
    if (p->learn == easycache_learn)
        ok = ok && (c->prev_x = malloc(bytes)) && (c->run_x = malloc(bytes)) && (c->run_out = malloc(bytes));
    if (!ok) {
        vs_step_cache_free(c);
        return vs_fail(VS_ERR_OOM, "out of memory for the step cache (%d x %lld values)", 3 + branches, (long long)n);
    }
    *out = c;
    return VS_OK;
}

void vs_step_cache_free(vs_step_cache *c) {
    if (!c) return;
    free(c->delta);
    free(c->prev_x);
    free(c->run_x);
    free(c->run_out);
    vs_tensor_free(&c->prev_signal);
    free(c);
}

int vs_step_cache_needs_signal(const vs_step_cache *c) { return c->policy->needs_signal; }

vs_status vs_step_cache_decide(vs_step_cache *c, int step, const float *x, const vs_tensor *signal, int *run) {
    *run = 1;
    if (step < 0 || step >= c->steps) return vs_fail(VS_ERR_INVALID_ARG, "step cache: step %d of %d", step, c->steps);
    vs_tensor *prev = &c->prev_signal;
    if (c->policy->needs_signal) {
        const int64_t n = signal && signal->data ? vs_tensor_numel(signal) : 0;
        if (n < 1 || (prev->data && (n != vs_tensor_numel(prev) || signal->device != prev->device ||
                                     signal->dtype != prev->dtype)))
            return vs_fail(VS_ERR_INVALID_ARG, "cache policy %s: step %d has no signal like the last (%lld values)",
                           c->policy->name, step, (long long)(prev->data ? vs_tensor_numel(prev) : n));
        if (prev->data) {
            VS_TRY(vs_op_rel_l1(signal, prev, &c->signal_change));
        } else {
            VS_TRY(vs_tensor_alloc(prev, signal->dtype, signal->device, signal->ndim, signal->shape));
        }
    }
    /* Nothing cached yet (the policies run their first step anyway): run. */
    *run = c->policy->decide(c, step, x) || !c->runs;
    if (c->policy->needs_signal) VS_TRY(vs_op_copy(prev, signal));
    return VS_OK;
}

void vs_step_cache_store(vs_step_cache *c, const float *x, const float *out) {
    if (c->policy->learn) c->policy->learn(c, x, out);
    if (c->delta)
        for (int b = 0; b < c->branches; b++)
            for (int64_t i = 0; i < c->n; i++) c->delta[b * c->n + i] = out[b * c->n + i] - x[i];
    c->runs++;
}

void vs_step_cache_reuse(const vs_step_cache *c, const float *x, float *out) {
    for (int b = 0; b < c->branches; b++)
        for (int64_t i = 0; i < c->n; i++) out[b * c->n + i] = x[i] + c->delta[b * c->n + i];
}
