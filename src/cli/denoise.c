#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/ranks.h"
#include "core/log.h"
#include "core/devmem.h"
#include "core/status.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/family.h"
#include "ops/attention.h"
#include "pipeline/denoise.h"
#include "pipeline/memory_plan.h"
#include "pipeline/noise.h"
#include "pipeline/t2v.h"

typedef struct {
    const char *model, *embeds, *negative, *prompt, *negative_prompt, *out, *attention, *scheduler, *device_name,
        *noise, *cache, *cache_record, *image;
    vs_device device;
    int frames, height, width, steps, gpus, max_length;
    int64_t seed;
    double cfg, embedded_guidance, density, shift, cache_threshold, gpu_memory;
    vs_cli_svg2 svg2;
    vs_attention_params svg2_params; /* the SVG2 settings, checked */
    const char *precision_name, *attention_precision;
    vs_precision precision;
} options;

/* The option table drives parsing and --help; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, options *o) {
    const vs_option table[] = {
        {"model", 'm', VS_OPT_STRING, &o->model, "diffusers pipeline folder, or a transformer folder (either layout)",
         "DIR"},
        {"embeds", 0, VS_OPT_STRING, &o->embeds,
         "prompt embeddings: tensor 'prompt_embeds' [1, L, text_dim] (or the file's only tensor), with "
         "'prompt_attention_mask' and 'pooled_prompt_embeds' where the model takes them (HunyuanVideo; 'vidsparse "
         "encode' writes them); its 'negative_prompt_embeds' (and 'negative_...') serve as the negative prompt",
         "FILE"},
        {"negative", 0, VS_OPT_STRING, &o->negative,
         "negative prompt embeddings ('negative_prompt_embeds' or the only tensor)", "FILE"},
        {"prompt", 'p', VS_OPT_STRING, &o->prompt,
         "or the prompt as text, encoded with DIR's tokenizer/ and text_encoder/ as 'vidsparse encode' does", "TEXT"},
        {"negative-prompt", 'n', VS_OPT_STRING, &o->negative_prompt,
         "the negative prompt as text (with -p; default: the model's, \"\" for Wan)", "TEXT"},
        {"image", 0, VS_OPT_STRING, &o->image,
         "the first frame (PNG or JPEG) of an image-to-video model (CogVideoX 1.5 I2V), resized to the video's size "
         "and encoded with DIR's vae/ as generate --image does (the same seed gives generate's video)",
         "FILE"},
        {"max-length", 0, VS_OPT_INT, &o->max_length, "text tokens of -p and -n (2..65536; 0: the model's)", NULL},
        {"frames", 0, VS_OPT_INT, &o->frames,
         "video frames; the latent grid is the model family's (Wan: (frames-1)/4+1 x height/8 x width/8, the VAE's "
         "scale factors read from DIR/vae/config.json when present; 0: the model's default)",
         NULL},
        {"height", 0, VS_OPT_INT, &o->height, "video height in pixels (0: the model's default)", NULL},
        {"width", 0, VS_OPT_INT, &o->width, "video width in pixels (0: the model's default)", NULL},
        {"steps", 0, VS_OPT_INT, &o->steps, "denoising steps (1..10000; 0: the model's default)", NULL},
        {"cfg", 0, VS_OPT_DOUBLE, &o->cfg,
         "classifier-free guidance scale (<= 1 runs the prompt alone; HunyuanVideo: its true CFG; negative: the "
         "model's default)", "G"},
        {"embedded-guidance", 0, VS_OPT_DOUBLE, &o->embedded_guidance,
         "the guidance scale a DiT embeds (HunyuanVideo's guidance_scale; 0: the model's, 6)", "G"},
        {"seed", 0, VS_OPT_INT64, &o->seed, "seeds vidsparse's own Gaussian generator (not torch's: see docs/wan.md)",
         NULL},
        {"noise", 0, VS_OPT_STRING, &o->noise,
         "initial latents instead of seeded noise: tensor 'latents' [1, C, F, H, W] of the size the other options give",
         "FILE"},
        {"attention", 0, VS_OPT_STRING, &o->attention,
         "dense, svg or svg2 (Sparse VideoGen 1 or 2 after the model's dense warm-up: for Wan 20% of the steps and "
         "3% of the layers)",
         "MODE"},
        {"density", 0, VS_OPT_DOUBLE, &o->density, "SVG target kept fraction of the attention map, in (0, 1]", "D"},
        VS_CLI_PRECISION_OPTION(o->precision_name),
        VS_CLI_ATTENTION_PRECISION_OPTION(o->attention_precision),
        VS_CLI_CACHE_OPTIONS(o->cache, o->cache_threshold),
        {"cache-record", 0, VS_OPT_STRING, &o->cache_record,
         "write every step's input latents, prompt-branch output, timestep, TeaCache signal and whether the DiT "
         "ran here (for tools/cache_reference.py)",
         "FILE"},
        VS_CLI_SVG2_OPTIONS(o->svg2),
        {"scheduler", 0, VS_OPT_STRING, &o->scheduler,
         "unipc or euler: override the checkpoint's scheduler (flow UniPC or flow Euler)", "KIND"},
        {"shift", 0, VS_OPT_DOUBLE, &o->shift, "override the flow shift (0: the checkpoint's)", "S"},
        {"device", 0, VS_OPT_STRING, &o->device_name,
         "cuda (bf16, the default when this build has CUDA and a GPU is present) or cpu (f32)", "DEV"},
        {"gpus", 0, VS_OPT_INT, &o->gpus,
         "the DiT sequence-parallel over N GPUs, one process each, through NCCL (0: one GPU, no NCCL)", "N"},
        {"gpu-memory", 0, VS_OPT_DOUBLE, &o->gpu_memory,
         "GiB of GPU memory to plan within: refused before loading when the text encoder or the DiT cannot fit "
         "(0: the device's)",
         "GIB"},
        {"output", 'o', VS_OPT_STRING, &o->out, "where the latents go", "latents.safetensors"},
    };
    const vs_command_spec spec = {
        "denoise",
        "--model DIR (--embeds FILE [--negative FILE] | -p PROMPT [-n NEGATIVE]) [--image FILE] [options] -o OUT",
        "Runs the model's DiT denoising loop from seeded noise (or --noise) and writes the tensor 'latents' "
        "[1, C, F, H, W] as diffusers' output_type=\"latent\" does (CogVideoX 1.5: with the leading padding "
        "frames, counted in the metadata 'padding_frames' that 'vidsparse decode' drops).",
        table, (int)(sizeof table / sizeof table[0])};
    vs_args args;
    const int rc = vs_args_cli(&spec, argc, argv, &args);
    if (rc >= 0) return rc;
    if (args.positional_count) return vs_cli_usage_error("denoise", "unexpected argument '%s'", args.positional[0]);
    if (vs_cli_svg2_apply("denoise", &o->svg2, &o->svg2_params)) return 2;
    if (vs_cli_attention_precision("denoise", o->attention_precision, &o->svg2_params)) return 2;
    if (!o->model || !(o->embeds || o->prompt) || !o->out)
        return vs_cli_usage_error("denoise", "--model, --embeds (or -p) and -o are required");
    if (o->embeds && o->prompt) return vs_cli_usage_error("denoise", "give --embeds or -p, not both");
    if (o->negative && !o->embeds) return vs_cli_usage_error("denoise", "--negative goes with --embeds (-n with -p)");
    if (o->negative_prompt && !o->prompt) return vs_cli_usage_error("denoise", "-n goes with -p (--negative with --embeds)");
    if (o->max_length && (o->max_length < 2 || o->max_length > 65536))
        return vs_cli_usage_error("denoise", "--max-length must be in [2, 65536], not %d", o->max_length);
    if (o->frames < 0 || o->height < 0 || o->width < 0)
        return vs_cli_usage_error("denoise", "--frames, --height and --width must be positive (0: the model's)");
    if (o->steps < 0 || o->steps > 10000) return vs_cli_usage_error("denoise", "--steps must be in [1, 10000], not %d", o->steps);
    if (!(o->embedded_guidance >= 0 && o->embedded_guidance <= 100))
        return vs_cli_usage_error("denoise", "--embedded-guidance must be in [0, 100], not %g", o->embedded_guidance);
    if (o->seed < 0) return vs_cli_usage_error("denoise", "--seed must be >= 0");
    if (!(o->density > 0 && o->density <= 1))
        return vs_cli_usage_error("denoise", "--density must be in (0, 1], not %g", o->density);
    if (o->shift < 0) return vs_cli_usage_error("denoise", "--shift must be positive, not %g", o->shift);
    if (o->gpus < 0 || o->gpus > VS_COMM_MAX_RANKS)
        return vs_cli_usage_error("denoise", "--gpus must be in [0, %d], not %d", VS_COMM_MAX_RANKS, o->gpus);
    if (vs_cli_attention_method("denoise", o->attention)) return 2;
    if (vs_cli_precision("denoise", o->precision_name, &o->precision)) return 2;
    if (vs_cli_cache_policy("denoise", o->cache)) return 2;
    if (o->gpus && o->device_name && strcmp(o->device_name, "cuda"))
        return vs_cli_usage_error("denoise", "--gpus runs on CUDA GPUs, not --device %s", o->device_name);
    if (o->gpus) o->device = VS_CUDA; /* no CUDA call before the rank processes fork */
    else if (vs_cli_device("denoise", o->device_name, &o->device)) return 2;
    if (o->scheduler && strcmp(o->scheduler, "unipc") && strcmp(o->scheduler, "euler"))
        return vs_cli_usage_error("denoise", "--scheduler must be unipc or euler, not '%s'", o->scheduler);
    return -1;
}

/* Tensor `name` of `path`, or its only tensor; as f32 [1, L, D]. */
static vs_status load_embeds(const char *path, const char *name, vs_tensor *out) {
    vs_safetensors *st = NULL;
    VS_TRY(vs_safetensors_open(&st, path));
    const vs_st_entry *e = vs_safetensors_find(st, name);
    if (!e && vs_safetensors_count(st) == 1) e = vs_safetensors_entry(st, 0);
    vs_status s = VS_OK;
    if (!e) s = vs_fail(VS_ERR_NOT_FOUND, "%s: no tensor '%s' (and more than one tensor to choose from)", path, name);
    else if (!((e->ndim == 3 && e->shape[0] == 1) || e->ndim == 2))
        s = vs_fail(VS_ERR_SHAPE, "%s: '%s' must be [1, L, text_dim] or [L, text_dim]", path, e->name);
    else s = vs_safetensors_load(st, e->name, VS_F32, VS_CPU, 0, NULL, out);
    if (s == VS_OK && out->ndim == 2) {
        vs_tensor t = vs_tensor_view(out->data, VS_F32, VS_CPU, 3, (int64_t[]){1, out->shape[0], out->shape[1]});
        t.owned = 1;
        *out = t;
    }
    vs_safetensors_close(st);
    return s;
}

/* One prompt's embeddings from `path`: `prefix`prompt_embeds (or the only tensor), with `prefix`
 * prompt_attention_mask (I32 [1, L]) and `prefix`pooled_prompt_embeds ([1, P]) when the file has them. */
static vs_status load_text(const char *path, const char *prefix, vs_text_embedding *e) {
    char name[64];
    snprintf(name, sizeof name, "%sprompt_embeds", prefix);
    VS_TRY(load_embeds(path, name, &e->hidden));
    vs_safetensors *st = NULL;
    VS_TRY(vs_safetensors_open(&st, path));
    vs_status s = VS_OK;
    snprintf(name, sizeof name, "%sprompt_attention_mask", prefix);
    if (vs_safetensors_find(st, name))
        s = vs_safetensors_load(st, name, VS_I32, VS_CPU, 2, (int64_t[]){1, e->hidden.shape[1]}, &e->mask);
    snprintf(name, sizeof name, "%spooled_prompt_embeds", prefix);
    if (s == VS_OK && vs_safetensors_find(st, name)) s = vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, &e->pooled);
    if (s == VS_OK && e->pooled.data && (e->pooled.ndim != 2 || e->pooled.shape[0] != 1))
        s = vs_fail(VS_ERR_SHAPE, "%s: '%s' must be [1, P]", path, name);
    vs_safetensors_close(st);
    return s;
}

/* --noise: the tensor 'latents' of `path` as f32, of the latent shape the options give. */
static vs_status load_noise(const char *path, const int64_t *shape, vs_tensor *out) {
    vs_safetensors *st = NULL;
    VS_TRY(vs_safetensors_open(&st, path));
    const vs_status s = vs_safetensors_load(st, "latents", VS_F32, VS_CPU, 5, shape, out);
    vs_safetensors_close(st);
    return s;
}

static int has_tensor(const char *path, const char *name) {
    vs_safetensors *st = NULL;
    if (vs_safetensors_open(&st, path) != VS_OK) return 0;
    int found = vs_safetensors_find(st, name) != NULL;
    vs_safetensors_close(st);
    return found;
}

/* The latent grid of the requested video, laid out as the model's family does: with the VAE's scale
 * factors from DIR/vae/config.json (the family's reference VAE when DIR has no vae/), or in pixels for
 * a pixel-space model (3 channels and no vae/); *padding: the leading latent frames of the grid the
 * family drops before decoding. */
static vs_status latent_shape(const options *o, const vs_family *family, const vs_dit_info *info, int64_t shape[5],
                              int *padding) {
    char path[4200];
    snprintf(path, sizeof path, "%s/vae", o->model);
    struct stat sb;
    const int has_vae = stat(path, &sb) == 0, pixels = !has_vae && info->in_channels == 3;
    vs_vae_info vae = family->reference_vae;
    if (has_vae) VS_TRY(family->vae_info(path, &vae));
    *padding = vs_family_padding_frames(family, info, pixels ? NULL : &vae, (int)o->frames);
    return family->latent_shape(info, pixels ? NULL : &vae, (int)o->frames, (int)o->height, (int)o->width, shape);
}

static vs_status scheduler_settings(const options *o, const vs_generation_defaults *d, vs_scheduler_config *cfg) {
    VS_TRY(vs_scheduler_config_for(o->model, d->scheduler, cfg));
    if (o->scheduler) {
        vs_scheduler_kind kind = strcmp(o->scheduler, "euler") ? VS_SCHEDULER_UNIPC : VS_SCHEDULER_EULER;
        if (kind != cfg->kind) {
            /* Keep the training horizon and shift; UniPC takes its default solver settings. */
            vs_scheduler_config other = vs_scheduler_config_unipc(cfg->shift);
            other.kind = kind;
            other.num_train_timesteps = cfg->num_train_timesteps;
            *cfg = other;
        }
    }
    if (o->shift > 0) cfg->shift = o->shift;
    cfg->linear_sigmas = cfg->kind == VS_SCHEDULER_EULER && d->linear_sigmas;
    return VS_OK;
}

/* --gpu-memory (0: the device's memory): the text encoder and the DiT (and with --image the VAE that encodes
 * the first frame: the family's need for its decoding stage, as generate's plan counts that encode), each alone
 * or together as the plan of pipeline/memory_plan.h decides, must fit; refused with the numbers before anything
 * loads. The text encoder and the VAE are freed before the DiT loads either way. */
static vs_status check_memory(const options *o, const vs_family *family, const vs_generation_defaults *d,
                              const vs_dit_info *info, const vs_attention_params *attention,
                              const int64_t shape[5], int cfg) {
    if (o->device == VS_CPU) return VS_OK;
    int64_t batch[5];
    memcpy(batch, shape, sizeof batch);
    batch[0] = cfg ? 2 : 1;
    vs_stage_memory need[VS_STAGE_COUNT];
    const int text_length = o->max_length > 0 ? (int)o->max_length : d->text_length;
    VS_TRY(vs_family_memory_need(family, o->model, NULL, info, o->device, o->precision, attention, batch,
                                 text_length, need));
    if (!o->prompt) need[VS_STAGE_TEXT] = (vs_stage_memory){0};
    if (!o->image) need[VS_STAGE_DECODE] = (vs_stage_memory){0}; /* denoise stops at the latents */
    size_t free_bytes = 0, total = 0;
    VS_TRY(vs_device_mem_info(&free_bytes, &total));
    vs_memory_plan plan;
    return vs_memory_plan_make(need, o->gpu_memory > 0 ? (size_t)(o->gpu_memory * (double)(1ull << 30)) : total,
                               total - free_bytes, &plan);
}

/* The prompt and negative prompt as text, through DIR's text encoder (freed before the DiT loads). */
static vs_status encode_prompts(const options *o, const vs_generation_defaults *d, int cfg, vs_text_embedding *cond,
                                vs_text_embedding *uncond) {
    vs_text_encoder *encoder = NULL;
    VS_TRY(vs_text_encoder_load(o->model, o->device, &encoder));
    const int length = o->max_length > 0 ? (int)o->max_length : d->text_length;
    vs_status s = vs_text_encoder_set_precision(encoder, o->precision);
    if (s == VS_OK) s = vs_text_encode(encoder, o->prompt, length, cond);
    if (s == VS_OK && cfg)
        s = vs_text_encode(encoder, o->negative_prompt ? o->negative_prompt : d->negative_prompt, length, uncond);
    vs_text_encoder_free(encoder);
    return s;
}

/* --image: the first frame's condition for latents of `shape`, through DIR's VAE (on the DiT's device, as
 * generate encodes it; freed before the DiT loads). */
static vs_status image_condition(const options *o, const vs_dit_info *info, const vs_image *image,
                                 const int64_t shape[5], vs_tensor *out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/vae", o->model);
    vs_vae *vae = NULL;
    VS_TRY(vs_vae_load(path, o->device, &vae));
    const vs_status s = vs_t2v_image_condition(vae, info, image, (uint64_t)o->seed, shape, out);
    vs_vae_free(vae);
    return s;
}

/* --cache-record: every step's input latents and prompt-branch output [steps, n], timesteps, whether the
 * DiT ran, and the family's TeaCache signal [steps, dim] where it has one. */
typedef struct {
    vs_dit *dit;
    int steps, filled;
    int64_t n, signal_n;
    vs_tensor latents, output, timesteps, ran, signal;
    vs_status status;
} recording;

static void record_free(recording *r) {
    vs_tensor_free(&r->latents);
    vs_tensor_free(&r->output);
    vs_tensor_free(&r->timesteps);
    vs_tensor_free(&r->ran);
    vs_tensor_free(&r->signal);
}

static vs_status record(recording *r, const vs_denoise_step *st) {
    vs_tensor signal = {0};
    /* the families whose signal needs only the timestep and lies on the host (Wan's time embedding); others
     * record none */
    const vs_dit_input in = {.timesteps = &st->timestep};
    vs_status has_signal = vs_dit_teacache(r->dit, &in, &signal, NULL);
    if (has_signal == VS_OK && (signal.device != VS_CPU || signal.dtype != VS_F32)) has_signal = VS_ERR_UNSUPPORTED;
    if (!r->latents.data) {
        r->n = st->n, r->signal_n = has_signal == VS_OK ? signal.shape[0] : 0;
        const int64_t S = r->steps;
        VS_TRY(vs_tensor_alloc(&r->latents, VS_F32, VS_CPU, 2, (int64_t[]){S, r->n}));
        VS_TRY(vs_tensor_alloc(&r->output, VS_F32, VS_CPU, 2, (int64_t[]){S, r->n}));
        VS_TRY(vs_tensor_alloc(&r->timesteps, VS_F32, VS_CPU, 1, &S));
        VS_TRY(vs_tensor_alloc(&r->ran, VS_I32, VS_CPU, 1, &S));
        if (r->signal_n) VS_TRY(vs_tensor_alloc(&r->signal, VS_F32, VS_CPU, 2, (int64_t[]){S, r->signal_n}));
    }
    const size_t bytes = sizeof(float) * (size_t)r->n;
    memcpy((float *)r->latents.data + st->step * r->n, st->latents, bytes);
    memcpy((float *)r->output.data + st->step * r->n, st->output, bytes);
    ((float *)r->timesteps.data)[st->step] = st->timestep;
    ((int32_t *)r->ran.data)[st->step] = st->ran;
    if (r->signal_n) memcpy((float *)r->signal.data + st->step * r->signal_n, signal.data, sizeof(float) * (size_t)r->signal_n);
    vs_tensor_free(&signal);
    r->filled = st->step + 1;
    return VS_OK;
}

static void record_step(void *user, const vs_denoise_step *st) {
    recording *r = user;
    if (r->status == VS_OK) r->status = record(r, st);
}

static vs_status record_write(const recording *r, const char *path, const vs_cache_settings *cache, double guidance) {
    VS_TRY(r->status);
    if (r->filled != r->steps) return vs_fail(VS_ERR_INVALID_ARG, "%s: %d of %d steps recorded", path, r->filled, r->steps);
    char threshold[32], cfg[32];
    snprintf(threshold, sizeof threshold, "%.17g", cache->threshold);
    snprintf(cfg, sizeof cfg, "%g", guidance);
    const char *names[] = {"latents", "output", "timesteps", "ran", "signal"};
    const vs_tensor tensors[] = {r->latents, r->output, r->timesteps, r->ran, r->signal};
    const char *keys[] = {"policy", "threshold", "guidance"};
    const char *values[] = {cache->policy, threshold, cfg};
    return vs_safetensors_write(path, r->signal_n ? 5 : 4, names, tensors, 3, keys, values);
}

int vs_cmd_denoise(int argc, char **argv) {
    options o = {0};
    o.attention = "dense", o.cfg = -1.0; /* sizes, steps and guidance 0 / -1: the model's */
    o.density = 0.25, o.cache = "none", o.cache_threshold = -1.0;
    o.precision_name = "bf16", o.attention_precision = "bf16";
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;

    vs_dit *dit = NULL;
    vs_text_embedding cond = {0}, uncond = {0};
    vs_tensor latents = {0}, condition = {0};
    vs_image image = {0};
    vs_denoise_settings set;
    memset(&set, 0, sizeof set);
    recording rec;
    memset(&rec, 0, sizeof rec);
    /* --gpus: the rank processes fork here, before any CUDA call. */
    vs_comm *comm = NULL;
    int rank = 0;
    if (o.gpus && (rc = vs_cli_spawn_ranks("denoise", o.gpus, &comm, &rank)) >= 0) return rc;
    const vs_device device = o.device;
    /* The DiT's shape from its config and the memory plan first: a size the model cannot make or a budget it
     * cannot meet fails before anything loads. Then the text encoder runs and is freed, then the DiT loads. */
    const vs_family *family = NULL;
    vs_dit_info info;
    int64_t shape[5];
    int image_channels = 0, padding = 0;
    const char *context = "model";
    vs_generation_defaults defaults;
    vs_status s = vs_family_detect(o.model, &family);
    if (s == VS_OK) s = family->dit_info(o.model, &info);
    if (s == VS_OK) s = vs_family_image_channels(family, &info, &image_channels);
    if (s == VS_OK) s = vs_t2v_check_image_kind(o.model, image_channels, o.image != NULL);
    if (s == VS_OK && o.image) context = "--image", s = vs_image_load(o.image, &image);
    if (s == VS_OK) context = "model";
    if (s == VS_OK) s = vs_family_defaults(family, o.model, &defaults);
    if (s == VS_OK) {
        if (!o.frames) o.frames = defaults.frames;
        if (!o.height) o.height = defaults.height;
        if (!o.width) o.width = defaults.width;
        if (!o.steps) o.steps = defaults.steps;
        if (o.cfg < 0) o.cfg = defaults.guidance;
    }
    const int cfg = o.cfg > 1.0;
    if (s == VS_OK) {
        const vs_status shaped = latent_shape(&o, family, &info, shape, &padding);
        if (shaped == VS_ERR_INVALID_ARG) { /* a size the model cannot make is a usage error */
            rc = vs_cli_usage_error("denoise", "%s", vs_last_error());
            vs_image_free(&image);
            vs_comm_free(comm);
            return rc;
        }
        s = shaped;
    }
    vs_attention_params attention_params = {0};
    if (s == VS_OK) {
        vs_attention_params asked = o.svg2_params;
        asked.method = o.attention, asked.density = o.density, asked.dense_steps = -1,
        asked.dense_layers = -1;
        attention_params = vs_attention_resolve(&asked, &defaults.attention);
        context = "GPU memory", s = check_memory(&o, family, &defaults, &info, &attention_params, shape, cfg);
    }
    if (s == VS_OK && o.prompt) {
        context = "prompt";
        s = encode_prompts(&o, &defaults, cfg, &cond, &uncond);
    } else if (s == VS_OK) {
        context = "embeddings";
        s = load_text(o.embeds, "", &cond);
    }
    if (s == VS_OK && cfg && !o.prompt) {
        const char *neg = o.negative;
        if (!neg && has_tensor(o.embeds, "negative_prompt_embeds")) neg = o.embeds;
        context = "negative embeddings";
        if (!neg) s = vs_fail(VS_ERR_INVALID_ARG, "guidance %g needs negative prompt embeddings (--negative FILE)", o.cfg);
        else s = load_text(neg, "negative_", &uncond);
    }
    if (s == VS_OK && o.image) context = "first frame", s = image_condition(&o, &info, &image, shape, &condition);
    if (s == VS_OK) context = "model", s = vs_dit_load_as(o.model, device, o.precision, &dit);
    if (s == VS_OK) s = vs_dit_set_comm(dit, comm);
    if (s == VS_OK) context = "scheduler", s = scheduler_settings(&o, &defaults, &set.scheduler);
    set.scheduler.noise_seed = (uint64_t)o.seed; /* a stochastic scheduler's per-step noise, as generate seeds it */
    if (s == VS_OK && o.noise) {
        context = "--noise", s = load_noise(o.noise, shape, &latents);
    } else if (s == VS_OK) {
        context = "latents", s = vs_tensor_alloc(&latents, VS_F32, VS_CPU, 5, shape);
        if (s == VS_OK) vs_noise_gaussian(latents.data, vs_tensor_numel(&latents), (uint64_t)o.seed);
    }
    const char *dense_backend = NULL;
    if (s == VS_OK) context = "dense attention", s = vs_attention_dense_backend(device, &dense_backend);
    if (s == VS_OK) {
        set.steps = o.steps;
        set.guidance = (float)o.cfg;
        set.embedded_guidance = o.embedded_guidance > 0 ? (float)o.embedded_guidance : defaults.embedded_guidance;
        set.attention = attention_params;
        set.show_progress = 1;
        set.condition = condition.data ? &condition : NULL;
        context = "--cache";
        s = vs_cache_resolve(&(vs_cache_settings){.policy = o.cache, .threshold = o.cache_threshold}, dit,
                             &set.cache, NULL);
        if (o.cache_record) rec.dit = dit, rec.steps = o.steps, set.on_step = record_step, set.on_step_user = &rec;
    }
    if (s == VS_OK) {
        vs_dit_timing timing = {0};
        VS_INFO("denoising latents [1, %lld, %lld, %lld, %lld] on the %s, %s weights, %d steps, guidance %g, "
                "%s attention (dense: %s)",
                (long long)shape[1], (long long)shape[2], (long long)shape[3], (long long)shape[4],
                device == VS_CUDA ? "GPU (bf16)" : "CPU (f32)", o.precision_name, set.steps, o.cfg, o.attention,
                dense_backend);
        context = "denoise";
        s = vs_denoise(dit, &set, &cond, cfg ? &uncond : NULL, &latents, &timing);
        if (s == VS_OK) {
            const double per_step = timing.total_s / set.steps, attention = timing.attention_s / set.steps;
            VS_INFO("DiT: %.2f s in %d steps, %.3f s per step: attention %.3f s (%.0f%%), the rest %.3f s",
                    timing.total_s, set.steps, per_step, attention,
                    per_step > 0 ? 100.0 * attention / per_step : 0.0, per_step - attention);
            VS_INFO("DiT passes (steps x CFG branches): %lld run, %lld reused (step cache %s)",
                    (long long)timing.passes_run, (long long)timing.passes_reused, set.cache.policy);
        }
        if (s == VS_OK && o.cache_record && rank == 0)
            context = o.cache_record, s = record_write(&rec, o.cache_record, &set.cache, o.cfg);
    }
    if (s == VS_OK && rank == 0) { /* every rank holds the same latents */
        char seed[32], steps[16], guidance[32], padded[16];
        snprintf(seed, sizeof seed, "%lld", (long long)o.seed);
        snprintf(steps, sizeof steps, "%d", o.steps);
        snprintf(guidance, sizeof guidance, "%g", o.cfg);
        snprintf(padded, sizeof padded, "%d", padding);
        /* The initial latents: the seed, or the --noise file they came from; padding_frames (every file): the
         * leading latent frames decode drops; the first frame's file with --image. */
        const char *keys[] = {o.noise ? "noise" : "seed", "steps", "guidance",
                              "attention", "padding_frames", "image"};
        const char *values[] = {o.noise ? o.noise : seed, steps, guidance, o.attention, padded, o.image};
        const char *names[] = {"latents"};
        context = o.out;
        s = vs_safetensors_write(o.out, 1, names, &latents, o.image ? 6 : 5, keys, values);
    }
    if (s != VS_OK) vs_cli_report(context);
    record_free(&rec);
    vs_text_embedding_free(&cond);
    vs_text_embedding_free(&uncond);
    vs_tensor_free(&latents);
    vs_tensor_free(&condition);
    vs_image_free(&image);
    vs_dit_free(dit);
    vs_comm_free(comm);
    return s == VS_OK ? 0 : 1;
}
