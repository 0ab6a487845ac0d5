/* The sparse attention methods by name. Adding one: its table in its own file
 * and a line here. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "sparse/method.h"

static const vs_sparse_method *const methods[] = {
    &vs_sparse_method_dense,
    &vs_sparse_method_svg,
    &vs_sparse_method_svg2,
};
enum { METHOD_COUNT = (int)(sizeof methods / sizeof methods[0]) };

const char *vs_attention_method_name(int i) {
    return i >= 0 && i < METHOD_COUNT ? methods[i]->name : NULL;
}

vs_attention_params vs_attention_default_params(void) {
    return (vs_attention_params){.method = "svg", .density = -1, .dense_steps = -1, .dense_layers = -1};
}

vs_status vs_sparse_method_find(const char *name, const vs_sparse_method **out) {
    *out = NULL;
    if (!name) name = "dense";
    char known[256] = "";
    for (int i = 0; i < METHOD_COUNT; i++) {
        if (!strcmp(name, methods[i]->name)) {
            *out = methods[i];
            return VS_OK;
        }
        const size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", methods[i]->name);
    }
    return vs_fail(VS_ERR_INVALID_ARG, "unknown attention method '%s' (known: %s)", name, known);
}
