#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "io/safetensors.h"
#include "models/family.h"

int vs_cmd_encode(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *negative = NULL, *out = NULL;
    const char *device_name = NULL;
    int max_length = 0;
    const vs_option options[] = {
        {"model", 'm', VS_OPT_STRING, &model, "a pipeline folder (its text encoder and tokenizer)", "DIR"},
        {"prompt", 'p', VS_OPT_STRING, &prompt, "the prompt", "TEXT"},
        {"negative-prompt", 'n', VS_OPT_STRING, &negative, "the negative prompt (default: the pipeline's, \"\" for Wan)",
         "TEXT"},
        {"max-length", 0, VS_OPT_INT, &max_length, "text tokens, 2..65536 (0: the model's, 512 for Wan)", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "cuda (bf16; the default with a GPU) or cpu (f32)", "DEV"},
        {"output", 'o', VS_OPT_STRING, &out, "where the embeddings go", "OUT.safetensors"},
    };
    const vs_command_spec spec = {
        "encode", "--model DIR -p PROMPT [-n NEGATIVE] [options] -o OUT.safetensors",
        "Text embeddings as the model's diffusers pipeline makes them (for Wan: DIR holds tokenizer/ and "
        "text_encoder/, umT5; for HunyuanVideo: Llama and CLIP, tokenizer/ to text_encoder_2/). Writes prompt_embeds "
        "and negative_prompt_embeds, each [1, N, d_model] f32, and where the model has them prompt_attention_mask "
        "(i32 [1, N]) and pooled_prompt_embeds ([1, P]) with their negative_ twins, as the diffusers pipeline names them.",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    const int rc_args = vs_args_cli(&spec, argc, argv, &args);
    if (rc_args >= 0) return rc_args;
    if (args.positional_count) return vs_cli_usage_error("encode", "unexpected argument '%s'", args.positional[0]);
    if (!model || !prompt || !out) return vs_cli_usage_error("encode", "--model, -p and -o are required");
    if (max_length && (max_length < 2 || max_length > 65536))
        return vs_cli_usage_error("encode", "--max-length must be 2..65536, not %d", max_length);
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
    vs_tensor t[6];
    const char *names[6];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        const char *prefix = i ? "negative_" : "";
        static char name[6][48];
        snprintf(name[n], sizeof name[n], "%sprompt_embeds", prefix), names[n] = name[n], t[n++] = e[i].hidden;
        if (e[i].mask.data)
            snprintf(name[n], sizeof name[n], "%sprompt_attention_mask", prefix), names[n] = name[n], t[n++] = e[i].mask;
        if (e[i].pooled.data)
            snprintf(name[n], sizeof name[n], "%spooled_prompt_embeds", prefix), names[n] = name[n], t[n++] = e[i].pooled;
    }
    const char *keys[2] = {"prompt", "negative_prompt"}, *values[2] = {prompt, negative};
    int rc = 0;
    if (vs_safetensors_write(out, n, names, t, 2, keys, values) != VS_OK) rc = vs_cli_report("writing the embeddings");
    vs_text_embedding_free(&e[0]);
    vs_text_embedding_free(&e[1]);
    return rc;
}
