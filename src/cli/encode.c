#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/safetensors.h"
#include "models/family.h"

static const char usage[] =
    "usage: vidsparse encode --model DIR -p PROMPT [-n NEGATIVE] [--max-length N] [--device cuda|cpu]\n"
    "                        -o OUT.safetensors\n"
    "Text embeddings as the model's diffusers pipeline makes them (for Wan: DIR holds tokenizer/\n"
    "and text_encoder/, umT5). Writes prompt_embeds and negative_prompt_embeds, each\n"
    "[1, N, d_model] f32 (N: the model's text length, 512 for Wan); the negative prompt\n"
    "defaults to the pipeline's (\"\" for Wan). The encoder runs in bf16 on the GPU (default\n"
    "when there is one) or in f32 on the CPU.\n";

int vs_cmd_encode(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *negative = NULL, *out = NULL;
    const char *device_name = NULL;
    int max_length = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) return vs_cli_usage_error("encode", "option '%s' needs a value or is unknown", a);
        if (!strcmp(a, "--model")) model = argv[++i];
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) prompt = argv[++i];
        else if (!strcmp(a, "-n") || !strcmp(a, "--negative-prompt")) negative = argv[++i];
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = argv[++i];
        else if (!strcmp(a, "--device")) device_name = argv[++i];
        else if (!strcmp(a, "--max-length")) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 2 || v > 65536) return vs_cli_usage_error("encode", "--max-length must be 2..65536");
            max_length = (int)v;
        } else {
            return vs_cli_usage_error("encode", "unknown option '%s'", a);
        }
    }
    if (!model || !prompt || !out) return vs_cli_usage_error("encode", "--model, -p and -o are required");
    vs_device device;
    if (vs_cli_device("encode", device_name, &device)) return 2;

    const vs_family *family = NULL;
    vs_generation_defaults defaults;
    vs_text_encoder *encoder = NULL;
    vs_text_embedding e[2] = {0};
    if (vs_family_detect(model, &family) != VS_OK || vs_family_defaults(family, model, &defaults) != VS_OK)
        return vs_cli_report("encode");
    if (!negative) negative = defaults.negative_prompt;
    if (!max_length) max_length = defaults.text_length;
    vs_status s = vs_text_encoder_load(model, device, &encoder);
    if (s == VS_OK) s = vs_text_encode(encoder, prompt, max_length, &e[0]);
    if (s == VS_OK) s = vs_text_encode(encoder, negative, max_length, &e[1]);
    vs_text_encoder_free(encoder);
    if (s != VS_OK) {
        vs_text_embedding_free(&e[0]);
        vs_text_embedding_free(&e[1]);
        return vs_cli_report("encode");
    }
    vs_tensor t[2] = {e[0].hidden, e[1].hidden};
    const char *names[2] = {"prompt_embeds", "negative_prompt_embeds"};
    const char *keys[2] = {"prompt", "negative_prompt"}, *values[2] = {prompt, negative};
    int rc = 0;
    if (vs_safetensors_write(out, 2, names, t, 2, keys, values) != VS_OK) rc = vs_cli_report("writing the embeddings");
    vs_text_embedding_free(&e[0]);
    vs_text_embedding_free(&e[1]);
    return rc;
}
