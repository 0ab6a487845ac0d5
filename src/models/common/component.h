/* Where a component's files are: a diffusers pipeline folder keeps each component in a subfolder
 * (transformer/, vae/, ...), while a component folder is the component itself. Every family looks its
 * DiT up this way. */
#ifndef VS_MODELS_COMMON_COMPONENT_H
#define VS_MODELS_COMMON_COMPONENT_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_component_path {
    char dir[4096];    /* the folder holding the component's config.json and weights */
    char config[4160]; /* dir/config.json */
} vs_component_path;

/* path/<component> when it holds a config.json, else path itself when it does; else a one-line error naming
 * `model` ("a CogVideoX model"). */
vs_status vs_component_find(const char *path, const char *component, const char *model, vs_component_path *out);

#ifdef __cplusplus
}
#endif
#endif
