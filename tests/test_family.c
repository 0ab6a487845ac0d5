/* The model-family registry: which family a folder is, the errors for folders of
 * no known family, the benchmark presets, and Wan's latent grid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "models/family.h"

/* A temporary folder holding one file `name` with `text`; both removed after the case. */
static const char *folder_with(const char *name, const char *text) {
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/vs_family_XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    vs_test_remove(dir);
    if (!name) return dir;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    vs_test_remove(path);
    return dir;
}

TEST(folders_name_their_family) {
    /* a pipeline folder, a diffusers transformer folder, an original Wan one, a text encoder's folder */
    const char *dirs[] = {"models/vidsparse-tiny", "tests/data/wan/tiny_hd64", "tests/data/wan/tiny_hd128_orig",
                          "tests/data/umt5", "tests/data/vae/vae"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        const vs_family *f = NULL;
        CHECK_OK(vs_family_detect(dirs[i], &f));
        CHECK_MSG(f && !strcmp(f->name, "wan"), "%s", dirs[i]);
    }
    return 0;
}

TEST(unknown_folders_fail_clearly) {
    const vs_family *f = (const vs_family *)1;
    const char *dir = folder_with("model_index.json", "{\"_class_name\": \"FluxPipeline\"}");
    CHECK(dir != NULL);
    CHECK_FAILS(vs_family_detect(dir, &f), VS_ERR_UNSUPPORTED, "FluxPipeline");
    CHECK(f == NULL);
    CHECK(strstr(vs_last_error(), "WanPipeline") != NULL); /* it lists what it runs */
    dir = folder_with("config.json", "{\"hidden_size\": 4}");
    CHECK(dir != NULL);
    CHECK_FAILS(vs_family_detect(dir, &f), VS_ERR_FORMAT, "names no model class");
    dir = folder_with("model_index.json", "{\"_class_name\": ");
    CHECK(dir != NULL);
    CHECK_FAILS(vs_family_detect(dir, &f), VS_ERR_FORMAT, "model_index.json");
    dir = folder_with(NULL, NULL);
    CHECK(dir != NULL);
    CHECK_FAILS(vs_family_detect(dir, &f), VS_ERR_NOT_FOUND, "not a model folder");
    vs_dit *dit = NULL;
    CHECK_FAILS(vs_dit_load("tests/data/no-such-model", VS_CPU, &dit), VS_ERR_NOT_FOUND, "no-such-model");
    CHECK(dit == NULL);
    return 0;
}

TEST(presets_belong_to_families) {
    const vs_family *f = NULL;
    CHECK_OK(vs_family_for_preset("wan14b", &f));
    CHECK(!strcmp(f->name, "wan"));
    vs_dit_info info;
    CHECK_OK(f->dit_preset("wan1.3b", &info));
    CHECK(info.num_layers == 30 && info.num_heads == 12 && info.head_dim == 128 && info.text_dim == 4096);
    CHECK_FAILS(vs_family_for_preset("wan7b", &f), VS_ERR_INVALID_ARG, "known: wan1.3b, wan14b");
    CHECK_FAILS(vs_family_for_preset("wan1", &f), VS_ERR_INVALID_ARG, "wan1"); /* a prefix is no name */
    return 0;
}

TEST(wan_latent_grid) {
    const vs_family *f = NULL;
    CHECK_OK(vs_family_for_preset("wan1.3b", &f));
    vs_dit_info info;
    CHECK_OK(f->dit_preset("wan1.3b", &info));
    int64_t shape[5];
    CHECK_OK(f->latent_shape(&info, &f->reference_vae, 81, 480, 832, shape));
    CHECK(shape[0] == 1 && shape[1] == 16 && shape[2] == 21 && shape[3] == 60 && shape[4] == 104);
    CHECK_FAILS(f->latent_shape(&info, &f->reference_vae, 80, 480, 832, shape), VS_ERR_INVALID_ARG, "1 + 4 k");
    CHECK_FAILS(f->latent_shape(&info, &f->reference_vae, 81, 480, 840, shape), VS_ERR_INVALID_ARG, "multiples of 16");
    /* A pixel-space model (no VAE) takes the frames and pixels as they are. */
    info.in_channels = info.out_channels = 3;
    CHECK_OK(f->latent_shape(&info, NULL, 16, 32, 32, shape));
    CHECK(shape[1] == 3 && shape[2] == 16 && shape[3] == 32 && shape[4] == 32);
    return 0;
}

RUN_TESTS(T(folders_name_their_family), T(unknown_folders_fail_clearly), T(presets_belong_to_families),
          T(wan_latent_grid))
