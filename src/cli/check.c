#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "eval/scene.h"
#include "io/video.h"

int vs_cmd_check(int argc, char **argv) {
    const char *prompt = NULL;
    const vs_option options[] = {
        {"prompt", 'p', VS_OPT_STRING, &prompt, "the prompt the video was made from", "TEXT"},
    };
    const vs_command_spec spec = {
        "check", "VIDEO -p PROMPT",
        "Tells whether a video (.y4m or a folder of PNG frames) shows what a prompt of the tiny model's grammar says "
        "(\"two yellow squares moving up on a black background\"): count, object colour, shape, direction and "
        "background. Exit status 0 when every attribute the prompt names matches, 1 otherwise.",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int rc = vs_args_cli(&spec, argc, argv, &args);
    if (rc >= 0) return rc;
    if (args.positional_count != 1)
        return vs_cli_usage_error("check", "wants exactly one video, got %d", args.positional_count);
    if (!prompt) return vs_cli_usage_error("check", "-p PROMPT is required");
    vs_tensor video = {0};
    vs_scene_check c;
    if (vs_video_read(args.positional[0], &video) != VS_OK) return vs_cli_report("check");
    vs_status s = vs_scene_check_video(&video, prompt, &c);
    vs_tensor_free(&video);
    if (s != VS_OK) return vs_cli_report("check");
    for (int i = 0; i < VS_SCENE_ATTRIBUTES; i++) {
        char want[32], got[32];
        vs_scene_value_name(&c.expected, i, want, sizeof want);
        vs_scene_value_name(&c.found, i, got, sizeof got);
        if (c.match[i] < 0) printf("  %-10s  (not in the prompt)  found %s\n", vs_scene_attribute_names[i], got);
        else printf("  %-10s  %-8s  found %-8s %s\n", vs_scene_attribute_names[i], want, got, c.match[i] ? "ok" : "MISMATCH");
    }
    printf("%s: %d of %d attributes match\n", c.matched == c.checked ? "match" : "no match", c.matched, c.checked);
    return c.matched == c.checked ? 0 : 1;
}
