#include "pipeline/scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/status.h"
#include "core/threadpool.h"
#include "io/path.h"
#include "pipeline/noise.h"

/* ---- configuration -------------------------------------------------------------- */

vs_scheduler_config vs_scheduler_config_unipc(double flow_shift) {
    vs_scheduler_config c;
    memset(&c, 0, sizeof c);
    c.kind = VS_SCHEDULER_UNIPC;
    c.num_train_timesteps = 1000;
    c.shift = flow_shift;
    c.solver_order = 2;
    c.bh2 = 1;
    c.lower_order_final = 1;
    c.final_sigma_zero = 1;
    return c;
}

static int json_truthy(const vs_json *v) {
    if (!v) return 0;
    switch (vs_json_typeof(v)) {
    case VS_JSON_BOOL: return vs_json_bool(v);
    case VS_JSON_NUMBER: return vs_json_number(v) != 0;
    case VS_JSON_NULL: return 0;
    default: return 1;
    }
}

/* Options whose non-default values change the math in ways this code does not follow. */
static vs_status refuse(const vs_json *root, const char *label, const char *const *keys, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (json_truthy(vs_json_get(root, keys[i])))
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"%s\" is set; this scheduler option is not supported", label,
                           keys[i]);
    return VS_OK;
}

static vs_status get_string(const vs_json *root, const char *label, const char *key, const char *fallback,
                            const char **out) {
    const vs_json *v = vs_json_get(root, key);
    if (!v || vs_json_typeof(v) == VS_JSON_NULL) *out = fallback;
    else if (!(*out = vs_json_string(v, NULL))) return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be a string", label, key);
    return VS_OK;
}

static vs_status get_number(const vs_json *root, const char *label, const char *key, double fallback, double min,
                            double max, double *out) {
    const vs_json *v = vs_json_get(root, key);
    *out = fallback;
    if (v && vs_json_typeof(v) != VS_JSON_NULL) {
        if (vs_json_typeof(v) != VS_JSON_NUMBER) return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be a number", label, key);
        *out = vs_json_number(v);
    }
    if (!(*out >= min && *out <= max))
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" = %g is outside %g..%g", label, key, *out, min, max);
    return VS_OK;
}

static vs_status parse_unipc(const vs_json *root, const char *label, vs_scheduler_config *c) {
    static const char *const refused[] = {"thresholding", "use_karras_sigmas", "use_exponential_sigmas",
                                          "use_beta_sigmas", "use_dynamic_shifting", "shift_terminal",
                                          "solver_p", "rescale_betas_zero_snr"};
    VS_TRY(refuse(root, label, refused, sizeof refused / sizeof refused[0]));
    const vs_json *flow = vs_json_get(root, "use_flow_sigmas");
    if (!json_truthy(flow))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: only flow-matching UniPC (\"use_flow_sigmas\": true) is supported", label);
    const char *pred, *solver, *final;
    VS_TRY(get_string(root, label, "prediction_type", "epsilon", &pred));
    if (strcmp(pred, "flow_prediction") != 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: prediction_type \"%s\" (only \"flow_prediction\")", label, pred);
    const vs_json *x0 = vs_json_get(root, "predict_x0");
    if (x0 && vs_json_typeof(x0) == VS_JSON_BOOL && !vs_json_bool(x0))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"predict_x0\": false is not supported with flow prediction", label);
    double order;
    VS_TRY(get_number(root, label, "solver_order", 2, 1, VS_SCHEDULER_MAX_ORDER, &order));
    if (order != floor(order)) return vs_fail(VS_ERR_FORMAT, "%s: \"solver_order\" must be an integer", label);
    c->solver_order = (int)order;
    VS_TRY(get_string(root, label, "solver_type", "bh2", &solver));
    /* diffusers maps the DPM-Solver names onto bh2. */
    if (!strcmp(solver, "bh1")) c->bh2 = 0;
    else if (!strcmp(solver, "bh2") || !strcmp(solver, "midpoint") || !strcmp(solver, "heun") || !strcmp(solver, "logrho"))
        c->bh2 = 1;
    else return vs_fail(VS_ERR_UNSUPPORTED, "%s: solver_type \"%s\" (bh1 or bh2)", label, solver);
    VS_TRY(get_string(root, label, "final_sigmas_type", "zero", &final));
    if (!strcmp(final, "zero")) c->final_sigma_zero = 1;
    else if (!strcmp(final, "sigma_min")) c->final_sigma_zero = 0;
    else return vs_fail(VS_ERR_FORMAT, "%s: final_sigmas_type \"%s\" (zero or sigma_min)", label, final);
    const vs_json *lof = vs_json_get(root, "lower_order_final");
    c->lower_order_final = lof && vs_json_typeof(lof) == VS_JSON_BOOL ? vs_json_bool(lof) : 1;
    VS_TRY(get_number(root, label, "flow_shift", 1.0, 1e-6, 1e6, &c->shift));
    const vs_json *dis = vs_json_get(root, "disable_corrector");
    if (dis && vs_json_typeof(dis) != VS_JSON_NULL) {
        if (vs_json_typeof(dis) != VS_JSON_ARRAY || vs_json_size(dis) > VS_SCHEDULER_MAX_DISABLED)
            return vs_fail(VS_ERR_FORMAT, "%s: \"disable_corrector\" must be an array of at most %d step indices",
                           label, VS_SCHEDULER_MAX_DISABLED);
        for (size_t i = 0; i < vs_json_size(dis); i++) {
            int64_t step;
            if (!vs_json_int64(vs_json_at(dis, i), &step) || step < 0 || step > 1000000)
                return vs_fail(VS_ERR_FORMAT, "%s: \"disable_corrector\"[%zu] must be a step index", label, i);
            c->disable_corrector[c->num_disable_corrector++] = (int)step;
        }
    }
    return VS_OK;
}

static vs_status parse_euler(const vs_json *root, const char *label, vs_scheduler_config *c) {
    static const char *const refused[] = {"use_dynamic_shifting", "invert_sigmas", "shift_terminal",
                                          "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                                          "stochastic_sampling"};
    VS_TRY(refuse(root, label, refused, sizeof refused / sizeof refused[0]));
    return get_number(root, label, "shift", 1.0, 1e-6, 1e6, &c->shift);
}

static vs_status parse_cogvideox_dpm(const vs_json *root, const char *label, vs_scheduler_config *c) {
    const vs_json *trained = vs_json_get(root, "trained_betas");
    if (trained && vs_json_typeof(trained) != VS_JSON_NULL)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"trained_betas\" is set; this scheduler option is not supported", label);
    const char *schedule, *pred, *spacing;
    VS_TRY(get_string(root, label, "beta_schedule", "scaled_linear", &schedule));
    if (!strcmp(schedule, "scaled_linear")) c->scaled_linear = 1;
    else if (strcmp(schedule, "linear"))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: beta_schedule \"%s\" (scaled_linear or linear)", label, schedule);
    VS_TRY(get_number(root, label, "beta_start", 0.00085, 0, 1, &c->beta_start));
    VS_TRY(get_number(root, label, "beta_end", 0.012, 0, 1, &c->beta_end));
    VS_TRY(get_number(root, label, "snr_shift_scale", 3.0, 1e-6, 1e6, &c->snr_shift_scale));
    VS_TRY(get_string(root, label, "prediction_type", "epsilon", &pred));
    if (!strcmp(pred, "v_prediction")) c->prediction = VS_PREDICT_V;
    else if (!strcmp(pred, "epsilon")) c->prediction = VS_PREDICT_EPSILON;
    else if (!strcmp(pred, "sample")) c->prediction = VS_PREDICT_SAMPLE;
    else return vs_fail(VS_ERR_UNSUPPORTED, "%s: prediction_type \"%s\" (v_prediction, epsilon or sample)", label, pred);
    VS_TRY(get_string(root, label, "timestep_spacing", "leading", &spacing));
    if (!strcmp(spacing, "trailing")) c->spacing = VS_SPACING_TRAILING;
    else if (!strcmp(spacing, "leading")) c->spacing = VS_SPACING_LEADING;
    else if (!strcmp(spacing, "linspace")) c->spacing = VS_SPACING_LINSPACE;
    else return vs_fail(VS_ERR_UNSUPPORTED, "%s: timestep_spacing \"%s\" (trailing, leading or linspace)", label, spacing);
    double offset;
    VS_TRY(get_number(root, label, "steps_offset", 0, 0, 1e6, &offset));
    c->steps_offset = (int)offset;
    c->rescale_zero_snr = json_truthy(vs_json_get(root, "rescale_betas_zero_snr"));
    const vs_json *one = vs_json_get(root, "set_alpha_to_one");
    c->set_alpha_to_one = one && vs_json_typeof(one) != VS_JSON_NULL ? json_truthy(one) : 1;
    /* clip_sample and its range are configured but CogVideoXDPMScheduler.step never clips. */
    return VS_OK;
}

vs_status vs_scheduler_config_parse(const vs_json *root, const char *label, vs_scheduler_config *cfg) {
    *cfg = vs_scheduler_config_unipc(1.0);
    if (!root || vs_json_typeof(root) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: a scheduler config must be a JSON object", label);
    const char *cls;
    VS_TRY(get_string(root, label, "_class_name", "", &cls));
    double steps;
    VS_TRY(get_number(root, label, "num_train_timesteps", 1000, 1, 1e7, &steps));
    cfg->num_train_timesteps = (int)steps;
    if (!strcmp(cls, "UniPCMultistepScheduler")) {
        cfg->kind = VS_SCHEDULER_UNIPC;
        return parse_unipc(root, label, cfg);
    }
    if (!strcmp(cls, "FlowMatchEulerDiscreteScheduler")) {
        cfg->kind = VS_SCHEDULER_EULER;
        return parse_euler(root, label, cfg);
    }
    if (!strcmp(cls, "CogVideoXDPMScheduler")) {
        cfg->kind = VS_SCHEDULER_COGVIDEOX_DPM;
        return parse_cogvideox_dpm(root, label, cfg);
    }
    return vs_fail(VS_ERR_UNSUPPORTED,
                   "%s: scheduler \"%s\" is not supported (UniPCMultistepScheduler, FlowMatchEulerDiscreteScheduler "
                   "or CogVideoXDPMScheduler)",
                   label, cls);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

vs_status vs_scheduler_config_load(const char *path, vs_scheduler_config *cfg) {
    char file[4200];
    snprintf(file, sizeof file, "%s", path);
    if (is_dir(path)) {
        snprintf(file, sizeof file, "%s/scheduler/scheduler_config.json", path);
        if (!vs_is_file(file)) snprintf(file, sizeof file, "%s/scheduler_config.json", path);
    }
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, file));
    vs_status s = vs_scheduler_config_parse(vs_json_root(doc), file, cfg);
    vs_json_free(doc);
    return s;
}

/* ---- the samplers ---------------------------------------------------------------- */

struct vs_scheduler {
    vs_scheduler_config cfg;
    int num_steps, step;
    int64_t numel;
    float *sigmas;    /* [num_steps + 1] */
    float *timesteps; /* [num_steps] */
    /* UniPC state */
    float *outputs[VS_SCHEDULER_MAX_ORDER]; /* data predictions x0 of the last steps, newest last */
    int num_outputs;
    float *x0;          /* this step's data prediction */
    float *last_sample; /* the sample before the last predictor */
    int have_last_sample;
    int this_order, lower_order_nums;
    /* CogVideoX DPM state */
    double *alphas_cumprod; /* [num_train_timesteps] */
    float *old_x0;          /* the previous step's x0 prediction */
    float *noise;           /* the step's noise when vs_scheduler_step draws it */
};

static float shift_sigma_f32(float s, float shift) { return shift * s / (1.0f + (shift - 1.0f) * s); }
static double shift_sigma(double s, double shift) { return shift * s / (1.0 + (shift - 1.0) * s); }

/* numpy.linspace(start, stop, num)[i] */
static double linspace(double start, double stop, int num, int i) {
    if (num == 1) return start;
    if (i == num - 1) return stop;
    return i * ((stop - start) / (num - 1)) + start;
}

static void unipc_schedule(vs_scheduler *s) {
    const int n = s->num_steps, train = s->cfg.num_train_timesteps;
    double *sig = malloc((size_t)n * sizeof *sig);
    for (int i = 0; i < n; i++) sig[i] = shift_sigma(linspace(1.0, 1.0 / train, n + 1, i), s->cfg.shift);
    /* diffusers nudges sigma 1 down so that log(1 - sigma) stays finite. */
    if (fabs(sig[0] - 1.0) < 1e-6) sig[0] -= 1e-6;
    for (int i = 0; i < n; i++) {
        s->timesteps[i] = (float)(int64_t)(sig[i] * train); /* int64 cast: truncation */
        s->sigmas[i] = (float)sig[i];
    }
    s->sigmas[n] = s->cfg.final_sigma_zero ? 0.0f : (float)sig[n - 1];
    free(sig);
}

static void euler_schedule(vs_scheduler *s) {
    const int n = s->num_steps, train = s->cfg.num_train_timesteps;
    const float shift = (float)s->cfg.shift;
    if (s->cfg.linear_sigmas) { /* the pipeline's sigmas (numpy f64, cast to f32), shifted in f32 */
        for (int i = 0; i < n; i++) {
            s->sigmas[i] = shift_sigma_f32((float)linspace(1.0, 0.0, n + 1, i), shift);
            s->timesteps[i] = s->sigmas[i] * (float)train;
        }
        s->sigmas[n] = 0.0f;
        return;
    }
    /* The training sigmas (f32, shifted once) bound the schedule, which is then shifted again. */
    const double sigma_max = shift_sigma_f32((float)train / (float)train, shift);
    const double sigma_min = shift_sigma_f32(1.0f / (float)train, shift);
    for (int i = 0; i < n; i++) {
        double t = linspace(sigma_max * train, sigma_min * train, n, i);
        s->sigmas[i] = (float)shift_sigma(t / train, s->cfg.shift);
        s->timesteps[i] = s->sigmas[i] * (float)train;
    }
    s->sigmas[n] = 0.0f;
}

/* torch.linspace(start, end, n, float64)[i]: the first half counts up from start, the rest down from end. */
static double torch_linspace(double start, double end, int n, int i) {
    if (n == 1) return start;
    const double step = (end - start) / (n - 1);
    return i < n / 2 ? start + step * i : end - step * (n - 1 - i);
}

/* CogVideoXDPMScheduler's alphas_cumprod (float64 as there) and its timesteps. */
static void cogvideox_dpm_schedule(vs_scheduler *s) {
    const vs_scheduler_config *c = &s->cfg;
    const int n = s->num_steps, train = c->num_train_timesteps;
    double prod = 1.0;
    for (int i = 0; i < train; i++) {
        double beta = c->scaled_linear ? torch_linspace(sqrt(c->beta_start), sqrt(c->beta_end), train, i)
                                       : torch_linspace(c->beta_start, c->beta_end, train, i);
        if (c->scaled_linear) beta *= beta;
        prod *= 1.0 - beta;
        s->alphas_cumprod[i] = prod;
    }
    const double shift = c->snr_shift_scale;
    for (int i = 0; i < train; i++) s->alphas_cumprod[i] /= shift + (1.0 - shift) * s->alphas_cumprod[i];
    if (c->rescale_zero_snr) { /* arXiv 2305.08891, algorithm 1: sqrt(alpha bar) shifted to end at 0, rescaled to keep its start */
        const double first = sqrt(s->alphas_cumprod[0]), last = sqrt(s->alphas_cumprod[train - 1]);
        for (int i = 0; i < train; i++) {
            double a = (sqrt(s->alphas_cumprod[i]) - last) * (first / (first - last));
            s->alphas_cumprod[i] = a * a;
        }
    }
    for (int i = 0; i < n; i++) {
        int64_t t;
        if (c->spacing == VS_SPACING_TRAILING) { /* np.round(np.arange(train, 0, -train / n)) - 1 */
            t = (int64_t)nearbyint(train - i * ((double)train / n)) - 1;
        } else if (c->spacing == VS_SPACING_LEADING) {
            t = (int64_t)(n - 1 - i) * (train / n) + c->steps_offset;
        } else { /* np.linspace(0, train - 1, n).round()[::-1] */
            t = (int64_t)nearbyint(linspace(0, train - 1, n, n - 1 - i));
        }
        s->timesteps[i] = (float)t;
        s->sigmas[i] = t >= 0 && t < train ? (float)sqrt(1.0 - s->alphas_cumprod[t]) : 0.0f;
    }
    s->sigmas[n] = 0.0f;
}

vs_status vs_scheduler_create(const vs_scheduler_config *cfg, int num_steps, int64_t numel, vs_scheduler **out) {
    *out = NULL;
    if (num_steps < 1 || num_steps > 100000)
        return vs_fail(VS_ERR_INVALID_ARG, "scheduler: %d steps (1..100000)", num_steps);
    if (numel < 1) return vs_fail(VS_ERR_INVALID_ARG, "scheduler: empty sample");
    if (cfg->solver_order < 1 || cfg->solver_order > VS_SCHEDULER_MAX_ORDER)
        return vs_fail(VS_ERR_INVALID_ARG, "scheduler: solver order %d (1..%d)", cfg->solver_order,
                       VS_SCHEDULER_MAX_ORDER);
    if (cfg->kind == VS_SCHEDULER_COGVIDEOX_DPM && num_steps > cfg->num_train_timesteps)
        return vs_fail(VS_ERR_INVALID_ARG, "scheduler: %d steps exceed the %d training timesteps", num_steps,
                       cfg->num_train_timesteps);
    vs_scheduler *s = calloc(1, sizeof *s);
    if (!s) return vs_fail(VS_ERR_OOM, "out of memory");
    s->cfg = *cfg;
    s->num_steps = num_steps;
    s->numel = numel;
    s->sigmas = malloc((size_t)(num_steps + 1) * sizeof(float));
    s->timesteps = malloc((size_t)num_steps * sizeof(float));
    int ok = s->sigmas && s->timesteps;
    if (cfg->kind == VS_SCHEDULER_COGVIDEOX_DPM) {
        ok = ok && (s->alphas_cumprod = malloc((size_t)cfg->num_train_timesteps * sizeof(double)));
        ok = ok && (s->old_x0 = malloc((size_t)numel * sizeof(float)));
        ok = ok && (s->noise = malloc((size_t)numel * sizeof(float)));
    }
    if (cfg->kind == VS_SCHEDULER_UNIPC) {
        for (int i = 0; i < cfg->solver_order; i++) ok = ok && (s->outputs[i] = malloc((size_t)numel * sizeof(float)));
        ok = ok && (s->x0 = malloc((size_t)numel * sizeof(float)));
        ok = ok && (s->last_sample = malloc((size_t)numel * sizeof(float)));
    }
    if (!ok) {
        vs_scheduler_free(s);
        return vs_fail(VS_ERR_OOM, "out of memory for a scheduler over %lld values", (long long)numel);
    }
    if (cfg->kind == VS_SCHEDULER_UNIPC) unipc_schedule(s);
    else if (cfg->kind == VS_SCHEDULER_EULER) euler_schedule(s);
    else cogvideox_dpm_schedule(s);
    *out = s;
    return VS_OK;
}

void vs_scheduler_free(vs_scheduler *s) {
    if (!s) return;
    free(s->sigmas);
    free(s->timesteps);
    for (int i = 0; i < VS_SCHEDULER_MAX_ORDER; i++) free(s->outputs[i]);
    free(s->x0);
    free(s->last_sample);
    free(s->alphas_cumprod);
    free(s->old_x0);
    free(s->noise);
    free(s);
}

int vs_scheduler_num_steps(const vs_scheduler *s) { return s->num_steps; }
float vs_scheduler_timestep(const vs_scheduler *s, int i) { return s->timesteps[i]; }
float vs_scheduler_sigma(const vs_scheduler *s, int i) { return s->sigmas[i]; }

/* Solves the n x n system a x = b (n <= 3) by Gaussian elimination with partial pivoting. */
static void solve(int n, double a[VS_SCHEDULER_MAX_ORDER][VS_SCHEDULER_MAX_ORDER], double *b, float *x) {
    for (int col = 0; col < n; col++) {
        int pivot = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(a[r][col]) > fabs(a[pivot][col])) pivot = r;
        for (int k = 0; k < n; k++) {
            double t = a[col][k];
            a[col][k] = a[pivot][k], a[pivot][k] = t;
        }
        double t = b[col];
        b[col] = b[pivot], b[pivot] = t;
        for (int r = col + 1; r < n; r++) {
            double f = a[r][col] / a[col][col];
            for (int k = col; k < n; k++) a[r][k] -= f * a[col][k];
            b[r] -= f * b[col];
        }
    }
    double xd[VS_SCHEDULER_MAX_ORDER];
    for (int r = n - 1; r >= 0; r--) {
        double acc = b[r];
        for (int k = r + 1; k < n; k++) acc -= a[r][k] * xd[k];
        xd[r] = acc / a[r][r];
        x[r] = (float)xd[r];
    }
}

static float lambda_of(float sigma) { return logf(1.0f - sigma) - logf(sigma); }

/* The scalars of one UniPC B(h) update from sigma_s0 to sigma_t using `order`
 * data predictions; older ones sit at sigma_prev[0..order-2] (newest first):
 *   x_t = x_coef * x - m0_coef * m0 - res_coef * (sum_k rho_k D_k [+ rho_last (model_t - m0)])
 * with D_k = (m_k - m0) / rk_k. */
typedef struct {
    float x_coef, m0_coef, res_coef;
    float rks[VS_SCHEDULER_MAX_ORDER];
    float rhos[VS_SCHEDULER_MAX_ORDER];
} unipc_coefs;

static void unipc_coefficients(const vs_scheduler *s, float sigma_t, float sigma_s0, const float *sigma_prev,
                               int order, int corrector, unipc_coefs *c) {
    const float alpha_t = 1.0f - sigma_t;
    const float lambda_s0 = lambda_of(sigma_s0);
    const float h = lambda_of(sigma_t) - lambda_s0;
    float rks[VS_SCHEDULER_MAX_ORDER];
    for (int k = 0; k < order - 1; k++) rks[k] = (lambda_of(sigma_prev[k]) - lambda_s0) / h;
    rks[order - 1] = 1.0f;
    const float hh = -h; /* predict_x0 */
    const float h_phi_1 = expm1f(hh);
    const float b_h = s->cfg.bh2 ? expm1f(hh) : hh;
    float h_phi_k = h_phi_1 / hh - 1.0f;
    double r[VS_SCHEDULER_MAX_ORDER][VS_SCHEDULER_MAX_ORDER], b[VS_SCHEDULER_MAX_ORDER];
    int factorial = 1;
    for (int i = 1; i <= order; i++) {
        for (int k = 0; k < order; k++) r[i - 1][k] = powf(rks[k], (float)(i - 1));
        b[i - 1] = h_phi_k * (float)factorial / b_h;
        factorial *= i + 1;
        h_phi_k = h_phi_k / hh - (float)(1.0 / factorial);
    }
    memset(c, 0, sizeof *c);
    memcpy(c->rks, rks, sizeof rks);
    if (corrector) {
        if (order == 1) c->rhos[0] = 0.5f;
        else solve(order, r, b, c->rhos);
    } else if (order == 2) {
        c->rhos[0] = 0.5f;
    } else if (order > 2) {
        solve(order - 1, r, b, c->rhos);
    }
    c->x_coef = sigma_t / sigma_s0;
    c->m0_coef = alpha_t * h_phi_1;
    c->res_coef = alpha_t * b_h;
}

/* x_t = x_coef * x - m0_coef * m0 - res_coef * (sum over the older outputs of rho_k (m_k - m0) / rk_k
 *       [+ rho_last (model_t - m0) for the corrector]). outputs[0..order-1] are newest first. */
static void unipc_update(float *x_t, const float *x, const float *const *outputs, int order, const float *model_t,
                         const unipc_coefs *c, int64_t n) {
    const float *m0 = outputs[0];
    for (int64_t j = 0; j < n; j++) {
        float res = 0.0f;
        for (int k = 0; k < order - 1; k++) res += c->rhos[k] * ((outputs[k + 1][j] - m0[j]) / c->rks[k]);
        if (model_t) res += c->rhos[order - 1] * (model_t[j] - m0[j]);
        float base = c->x_coef * x[j] - c->m0_coef * m0[j];
        x_t[j] = (order > 1 || model_t) ? base - c->res_coef * res : base;
    }
}

static int corrector_disabled(const vs_scheduler *s, int step) {
    for (int i = 0; i < s->cfg.num_disable_corrector; i++)
        if (s->cfg.disable_corrector[i] == step) return 1;
    return 0;
}

static void unipc_step(vs_scheduler *s, const float *model_output, float *sample) {
    const int i = s->step, order_max = s->cfg.solver_order;
    const int64_t n = s->numel;
    const float sigma = s->sigmas[i];
    /* Flow prediction -> data prediction. */
    for (int64_t j = 0; j < n; j++) s->x0[j] = sample[j] - sigma * model_output[j];

    const float *newest_first[VS_SCHEDULER_MAX_ORDER];
    float sigma_prev[VS_SCHEDULER_MAX_ORDER];
    /* Corrector (UniC) with the previous step's order: refines the sample the last predictor produced. */
    if (i > 0 && !corrector_disabled(s, i - 1) && s->have_last_sample) {
        const int order = s->this_order;
        for (int k = 0; k < order; k++) newest_first[k] = s->outputs[order_max - 1 - k];
        for (int k = 0; k < order - 1; k++) sigma_prev[k] = s->sigmas[i - (k + 2)];
        unipc_coefs c;
        unipc_coefficients(s, s->sigmas[i], s->sigmas[i - 1], sigma_prev, order, 1, &c);
        unipc_update(sample, s->last_sample, newest_first, order, s->x0, &c, n);
    }
    /* Remember this data prediction (the oldest buffer is recycled). */
    float *oldest = s->outputs[0];
    memmove(s->outputs, s->outputs + 1, (size_t)(order_max - 1) * sizeof s->outputs[0]);
    s->outputs[order_max - 1] = s->x0;
    s->x0 = oldest;

    int order = order_max;
    if (s->cfg.lower_order_final && s->num_steps - i < order) order = s->num_steps - i;
    if (s->lower_order_nums + 1 < order) order = s->lower_order_nums + 1; /* warm-up */
    s->this_order = order;
    memcpy(s->last_sample, sample, (size_t)n * sizeof(float));
    s->have_last_sample = 1;

    /* Predictor (UniP) from sigma(i) to sigma(i+1). */
    for (int k = 0; k < order; k++) newest_first[k] = s->outputs[order_max - 1 - k];
    for (int k = 0; k < order - 1; k++) sigma_prev[k] = s->sigmas[i - (k + 1)];
    unipc_coefs c;
    unipc_coefficients(s, s->sigmas[i + 1], sigma, sigma_prev, order, 0, &c);
    unipc_update(sample, s->last_sample, newest_first, order, NULL, &c, n);
    if (s->lower_order_nums < order_max) s->lower_order_nums++;
}

/* The elementwise part of the CogVideoX DPM update (below), over [begin, end). */
typedef struct {
    const float *model_output, *noise;
    float *sample, *old_x0;
    vs_prediction_type prediction;
    int second_order;
    float sa, sb, mult1, mult2, mult3, mult4, mult_noise;
} dpm_job;

static void dpm_update(void *ctx, int64_t begin, int64_t end) {
    const dpm_job *d = ctx;
    for (int64_t j = begin; j < end; j++) {
        const float x = d->sample[j], m = d->model_output[j];
        float x0;
        switch (d->prediction) {
        case VS_PREDICT_V: x0 = d->sa * x - d->sb * m; break;
        case VS_PREDICT_EPSILON: x0 = (x - d->sb * m) / d->sa; break;
        default: x0 = m; break;
        }
        const float dd = d->second_order ? d->mult3 * x0 - d->mult4 * d->old_x0[j] : x0;
        d->sample[j] = d->mult1 * x - d->mult2 * dd + d->mult_noise * d->noise[j];
        d->old_x0[j] = x0;
    }
}

/* CogVideoXDPMScheduler.step. With alpha bars a (this timestep), a' (the next: t - train/steps, or the
 * final one) and a" (the previous step's timestep), lambda = log sqrt(a / (1 - a)), h = lambda' - lambda:
 *     x0 from the model output (v: sqrt(a) x - sqrt(1 - a) v),
 *     x' = sqrt((1 - a') / (1 - a)) e^-h x - expm1(-2h) sqrt(a') D + sqrt(1 - a') sqrt(1 - e^-2h) noise,
 * with D = x0 on the first step (and when a' is the final alpha), else the second-order
 * D = (1 + 1/2r) x0 - 1/2r x0_previous, r = (lambda - lambda") / h. The scalars are float64 as diffusers'
 * are, the elementwise math f32 in the same order. */
static void cogvideox_dpm_step(vs_scheduler *s, const float *model_output, const float *noise, float *sample) {
    const vs_scheduler_config *c = &s->cfg;
    const int i = s->step, train = c->num_train_timesteps;
    const int t = (int)s->timesteps[i], prev = t - train / s->num_steps;
    const double *ac = s->alphas_cumprod;
    const double a = ac[t];
    const double a_prev = prev >= 0 ? ac[prev] : c->set_alpha_to_one ? 1.0 : ac[0];
    const double lambda = log(sqrt(a / (1 - a))), h = log(sqrt(a_prev / (1 - a_prev))) - lambda;
    const float sa = (float)sqrt(a), sb = (float)sqrt(1 - a);
    const float mult1 = (float)(sqrt((1 - a_prev) / (1 - a)) * exp(-h));
    const float mult2 = (float)(expm1(-2 * h) * sqrt(a_prev));
    const float mult_noise = (float)(sqrt(1 - a_prev) * sqrt(1 - exp(-2 * h)));
    const int second_order = i > 0 && prev >= 0;
    float mult3 = 1, mult4 = 0;
    if (second_order) {
        const double a_back = ac[(int)s->timesteps[i - 1]];
        const double r = (lambda - log(sqrt(a_back / (1 - a_back)))) / h;
        mult3 = (float)(1 + 1 / (2 * r));
        mult4 = (float)(1 / (2 * r));
    }
    dpm_job job = {model_output, noise, sample, s->old_x0, c->prediction, second_order,
                   sa, sb, mult1, mult2, mult3, mult4, mult_noise};
    vs_parallel_for(s->numel, 1 << 16, dpm_update, &job);
}

int vs_scheduler_adds_noise(const vs_scheduler *s) { return s->cfg.kind == VS_SCHEDULER_COGVIDEOX_DPM; }

vs_status vs_scheduler_step(vs_scheduler *s, const float *model_output, float *sample) {
    const float *noise = NULL;
    if (vs_scheduler_adds_noise(s) && s->step < s->num_steps) {
        /* A stream per step: seed, step -> one 64-bit seed (splitmix64's increment keeps them apart). */
        vs_noise_gaussian(s->noise, s->numel, s->cfg.noise_seed + 0x9E3779B97F4A7C15ull * (uint64_t)(s->step + 1));
        noise = s->noise;
    }
    return vs_scheduler_step_noise(s, model_output, noise, sample);
}

vs_status vs_scheduler_step_noise(vs_scheduler *s, const float *model_output, const float *noise, float *sample) {
    if (s->step >= s->num_steps)
        return vs_fail(VS_ERR_INVALID_ARG, "scheduler: all %d steps are done", s->num_steps);
    if (vs_scheduler_adds_noise(s) && !noise)
        return vs_fail(VS_ERR_INVALID_ARG, "scheduler: this sampler's step needs noise");
    if (s->cfg.kind == VS_SCHEDULER_UNIPC) {
        unipc_step(s, model_output, sample);
    } else if (s->cfg.kind == VS_SCHEDULER_COGVIDEOX_DPM) {
        cogvideox_dpm_step(s, model_output, noise, sample);
    } else {
        const float dt = s->sigmas[s->step + 1] - s->sigmas[s->step];
        for (int64_t j = 0; j < s->numel; j++) sample[j] = sample[j] + dt * model_output[j];
    }
    s->step++;
    return VS_OK;
}

double vs_guidance_scale(double guidance, int dynamic, double t, int num_steps) {
    if (!dynamic) return guidance;
    return 1 + guidance * ((1 - cos(M_PI * pow((num_steps - t) / num_steps, 5.0))) / 2);
}

vs_status vs_scheduler_config_for(const char *dir, const char *fallback, vs_scheduler_config *cfg) {
    char file[4200];
    if (dir) {
        snprintf(file, sizeof file, "%s/scheduler/scheduler_config.json", dir);
        if (vs_is_file(file)) return vs_scheduler_config_load(file, cfg);
        VS_WARN("%s has no scheduler/scheduler_config.json: using the model family's default scheduler", dir);
    }
    if (!fallback || !*fallback)
        return vs_fail(VS_ERR_UNSUPPORTED, "the model family has no default scheduler%s", dir ? "" : " (and no folder)");
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse(&doc, fallback, strlen(fallback), "the family's default scheduler"));
    vs_status s = vs_scheduler_config_parse(vs_json_root(doc), "the family's default scheduler", cfg);
    vs_json_free(doc);
    return s;
}
