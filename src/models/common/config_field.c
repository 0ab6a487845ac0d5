#include "models/common/config_field.h"

#include "core/status.h"

static int present(const vs_json *v) {
    return v && vs_json_typeof(v) != VS_JSON_NULL;
}

vs_status vs_config_int(const vs_json *root, const char *label, const char *key, int fallback, int min, int max,
                        int *out) {
    const vs_json *v = vs_json_get(root, key);
    int64_t value = fallback;
    if (present(v) && (vs_json_typeof(v) != VS_JSON_NUMBER || !vs_json_int64(v, &value)))
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be an integer", label, key);
    if (value < min || value > max)
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" = %lld is outside %d..%d", label, key, (long long)value, min,
                       max);
    *out = (int)value;
    return VS_OK;
}

vs_status vs_config_number(const vs_json *root, const char *label, const char *key, double fallback, double min,
                           double max, double *out) {
    const vs_json *v = vs_json_get(root, key);
    double value = fallback;
    if (present(v)) {
        if (vs_json_typeof(v) != VS_JSON_NUMBER)
            return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be a number", label, key);
        value = vs_json_number(v);
    }
    if (!(value >= min && value <= max))
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" = %g is outside %g..%g", label, key, value, min, max);
    *out = value;
    return VS_OK;
}

vs_status vs_config_bool(const vs_json *root, const char *label, const char *key, int fallback, int *out) {
    const vs_json *v = vs_json_get(root, key);
    if (!present(v)) {
        *out = fallback;
        return VS_OK;
    }
    if (vs_json_typeof(v) != VS_JSON_BOOL) return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be true or false", label, key);
    *out = vs_json_bool(v);
    return VS_OK;
}
