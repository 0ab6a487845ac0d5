#include "models/common/component.h"

#include <stdio.h>

#include "core/status.h"
#include "io/path.h"

vs_status vs_component_find(const char *path, const char *component, const char *model, vs_component_path *out) {
    if ((size_t)snprintf(out->dir, sizeof out->dir, "%s/%s", path, component) >= sizeof out->dir)
        return vs_fail(VS_ERR_INVALID_ARG, "model path too long: %s", path);
    snprintf(out->config, sizeof out->config, "%s/config.json", out->dir);
    if (vs_is_file(out->config)) return VS_OK;
    snprintf(out->dir, sizeof out->dir, "%s", path);
    snprintf(out->config, sizeof out->config, "%s/config.json", out->dir);
    if (vs_is_file(out->config)) return VS_OK;
    return vs_fail(VS_ERR_NOT_FOUND, "%s: no config.json (nor %s/config.json): not %s folder", path, component, model);
}
