/* Checked reads of a model's config.json members: a value of the wrong type or
 * outside its range is a one-line error naming the file and key; an absent or
 * null member takes the class's default. (The Wan and HunyuanVideo configs have
 * their own copies of these two; new families use these.) */
#ifndef VS_MODELS_COMMON_CONFIG_FIELD_H
#define VS_MODELS_COMMON_CONFIG_FIELD_H

#include "core/json.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

vs_status vs_config_int(const vs_json *root, const char *label, const char *key, int fallback, int min, int max,
                        int *out);
vs_status vs_config_number(const vs_json *root, const char *label, const char *key, double fallback, double min,
                           double max, double *out);
/* A boolean member (absent or null: fallback). */
vs_status vs_config_bool(const vs_json *root, const char *label, const char *key, int fallback, int *out);

#ifdef __cplusplus
}
#endif
#endif
