#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Text to video. The pipeline stages (text encoder, DiT, VAE) and the
 * embedded default model are not in this build yet, so the command says
 * exactly that instead of pretending. */
int vs_cmd_generate(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: vidsparse generate [--model DIR] -p PROMPT -o OUT.mp4\n"
                   "Text-to-video generation. Not available in this build yet.\n");
            return 0;
        }
    }
    fprintf(stderr,
            "vidsparse generate: not available yet: this build has no text-to-video pipeline and no\n"
            "embedded default model (the Wan 2.1 DiT, umT5 encoder and VAE decoder are still being built).\n"
            "What works today: 'vidsparse inspect PATH' and 'vidsparse bench attention'.\n");
    return 3;
}
