#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/safetensors.h"
#include "models/wan/prompt.h"

static const char usage[] =
    "usage: vidsparse encode --model DIR -p PROMPT [-n NEGATIVE] [--max-length N] [--device cuda|cpu]\n"
    "                        -o OUT.safetensors\n"
    "Text embeddings as the Wan pipeline makes them: DIR holds tokenizer/ (tokenizer.json\n"
    "or spiece.model) and text_encoder/ (umT5). Writes prompt_embeds and\n"
    "negative_prompt_embeds, each [1, N, d_model] f32 (N = 512 by default); the\n"
    "negative prompt defaults to \"\" as in diffusers' WanPipeline. The encoder runs in bf16 on\n"
    "the GPU (default when there is one) or in f32 on the CPU.\n";

int vs_cmd_encode(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *negative = VS_WAN_DEFAULT_NEGATIVE_PROMPT, *out = NULL;
    const char *device_name = NULL;
    int max_length = VS_WAN_TEXT_LENGTH;
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

    vs_tensor t[2];
    if (vs_wan_encode_prompts(model, device, prompt, negative, max_length, &t[0], &t[1]) != VS_OK)
        return vs_cli_report("encode");
    const char *names[2] = {"prompt_embeds", "negative_prompt_embeds"};
    const char *keys[2] = {"prompt", "negative_prompt"}, *values[2] = {prompt, negative};
    int rc = 0;
    if (vs_safetensors_write(out, 2, names, t, 2, keys, values) != VS_OK) rc = vs_cli_report("writing the embeddings");
    vs_tensor_free(&t[0]);
    vs_tensor_free(&t[1]);
    return rc;
}
