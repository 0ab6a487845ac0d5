/* vidsparse inspect PATH [--json]: what a checkpoint holds.
 *
 * PATH is a .safetensors file, a *.safetensors.index.json, a component
 * folder (config.json + weights) or a diffusers pipeline folder
 * (model_index.json naming component folders). For each component: its
 * class, a one-paragraph config summary, every tensor (name, dtype, shape)
 * and its parameter count; then the total. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/status.h"
#include "io/path.h"
#include "io/safetensors.h"

typedef struct {
    char *name;             /* component name, or the path for a lone file */
    const char *class_name; /* may be NULL */
    vs_json_doc *config;    /* NULL when the component has no config file */
    vs_safetensors *weights; /* NULL when it has no weights */
} component;

typedef struct {
    component *items;
    size_t count;
    vs_json_doc *model_index; /* pipelines only */
} checkpoint;

static void checkpoint_free(checkpoint *ck) {
    for (size_t i = 0; i < ck->count; i++) {
        free(ck->items[i].name);
        vs_json_free(ck->items[i].config);
        vs_safetensors_close(ck->items[i].weights);
    }
    free(ck->items);
    vs_json_free(ck->model_index);
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static vs_status add_component(checkpoint *ck, const char *name, component **out) {
    component *grown = realloc(ck->items, (ck->count + 1) * sizeof *grown);
    char *copy = malloc(strlen(name) + 1);
    if (grown) ck->items = grown;
    if (!grown || !copy) {
        free(copy);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    strcpy(copy, name);
    *out = &ck->items[ck->count++];
    memset(*out, 0, sizeof **out);
    (*out)->name = copy;
    return VS_OK;
}

/* Whether a folder holds any *.safetensors or *.safetensors.index.json
 * (a scheduler or tokenizer folder holds none). */
static int has_weight_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 1; /* let the reader report why */
    int found = 0;
    struct dirent *ent;
    while (!found && (ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        found = (n > 12 && strcmp(ent->d_name + n - 12, ".safetensors") == 0) ||
                (n > 23 && strcmp(ent->d_name + n - 23, ".safetensors.index.json") == 0);
    }
    closedir(d);
    return found;
}

/* A component folder: its config file (if any) and its weights (if any). */
static vs_status load_component_folder(component *c, const char *dir) {
    static const char *const config_names[] = {"config.json", "scheduler_config.json", "tokenizer_config.json"};
    for (int i = 0; i < 3 && !c->config; i++) {
        char *path = join(dir, config_names[i]);
        if (!path) return vs_fail(VS_ERR_OOM, "out of memory");
        vs_status s = vs_is_file(path) ? vs_json_parse_file(&c->config, path) : VS_OK;
        free(path);
        VS_TRY(s);
    }
    if (has_weight_files(dir)) VS_TRY(vs_safetensors_open(&c->weights, dir));
    if (!c->config && !c->weights) return vs_fail(VS_ERR_NOT_FOUND, "%s: neither a config file nor weights", dir);
    if (!c->class_name && c->config) {
        const vs_json *root = vs_json_root(c->config);
        c->class_name = vs_json_get_string(root, "_class_name", NULL);
        if (!c->class_name) c->class_name = vs_json_string(vs_json_at(vs_json_get(root, "architectures"), 0), NULL);
    }
    return VS_OK;
}

/* model_index.json: {"_class_name": ..., "<component>": [library, class], ...} */
static vs_status load_pipeline(checkpoint *ck, const char *dir, const char *index_path) {
    VS_TRY(vs_json_parse_file(&ck->model_index, index_path));
    const vs_json *root = vs_json_root(ck->model_index);
    if (vs_json_typeof(root) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: must be a JSON object", index_path);
    for (size_t i = 0; i < vs_json_size(root); i++) {
        const char *name = vs_json_key_at(root, i);
        const vs_json *v = vs_json_at(root, i);
        if (name[0] == '_' || vs_json_typeof(v) != VS_JSON_ARRAY) continue; /* settings, not components */
        const char *class_name = vs_json_string(vs_json_at(v, 1), NULL);
        if (vs_json_size(v) != 2 || (!class_name && vs_json_typeof(vs_json_at(v, 1)) != VS_JSON_NULL))
            return vs_fail(VS_ERR_FORMAT, "%s: component '%s' must be [library, class]", index_path, name);
        if (!class_name) continue; /* an optional component left out */
        if (strchr(name, '/') || strcmp(name, "..") == 0)
            return vs_fail(VS_ERR_FORMAT, "%s: component name '%s' is not a folder name", index_path, name);
        char *sub = join(dir, name);
        if (!sub) return vs_fail(VS_ERR_OOM, "out of memory");
        component *c;
        vs_status s = add_component(ck, name, &c);
        if (s == VS_OK) {
            c->class_name = class_name;
            if (!is_dir(sub)) s = vs_fail(VS_ERR_NOT_FOUND, "%s: component folder listed in model_index.json is missing", sub);
            else s = load_component_folder(c, sub);
        }
        free(sub);
        VS_TRY(s);
    }
    if (ck->count == 0) return vs_fail(VS_ERR_FORMAT, "%s: lists no components", index_path);
    return VS_OK;
}

static vs_status load_checkpoint(checkpoint *ck, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "%s: %s", path, strerror(errno));
    component *c;
    if (!S_ISDIR(sb.st_mode)) {
        VS_TRY(add_component(ck, path, &c));
        return vs_safetensors_open(&c->weights, path);
    }
    char *index = join(path, "model_index.json");
    if (!index) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_status s;
    if (vs_is_file(index)) {
        s = load_pipeline(ck, path, index);
    } else {
        s = add_component(ck, path, &c);
        if (s == VS_OK) s = load_component_folder(c, path);
    }
    free(index);
    return s;
}

/* ---- summaries ------------------------------------------------------------------ */

static int64_t entry_numel(const vs_st_entry *e) {
    int64_t n = 1;
    for (int i = 0; i < e->ndim; i++) n *= e->shape[i];
    return n;
}

static int64_t component_params(const component *c, uint64_t *bytes) {
    int64_t n = 0;
    uint64_t b = 0;
    for (size_t i = 0; i < vs_safetensors_count(c->weights); i++) {
        const vs_st_entry *e = vs_safetensors_entry(c->weights, i);
        n += entry_numel(e);
        b += e->nbytes;
    }
    if (bytes) *bytes = b;
    return n;
}

/* Orders "blocks.10" after "blocks.9": digit runs compare as numbers. */
static int natural_compare(const void *pa, const void *pb) {
    const char *a = (*(const vs_st_entry *const *)pa)->name, *b = (*(const vs_st_entry *const *)pb)->name;
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0') a++;
            while (*b == '0') b++;
            size_t na = 0, nb = 0;
            while (isdigit((unsigned char)a[na])) na++;
            while (isdigit((unsigned char)b[nb])) nb++;
            if (na != nb) return na < nb ? -1 : 1;
            int c = strncmp(a, b, na);
            if (c) return c;
            a += na;
            b += nb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static const vs_st_entry **sorted_entries(const vs_safetensors *st) {
    size_t n = vs_safetensors_count(st);
    const vs_st_entry **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i] = vs_safetensors_entry(st, i);
    qsort(v, n, sizeof *v, natural_compare);
    return v;
}

static void format_count(char *buf, size_t size, int64_t n) {
    if (n >= 1000000000) snprintf(buf, size, "%.2fB", (double)n / 1e9);
    else if (n >= 1000000) snprintf(buf, size, "%.2fM", (double)n / 1e6);
    else if (n >= 1000) snprintf(buf, size, "%.1fK", (double)n / 1e3);
    else snprintf(buf, size, "%" PRId64, n);
}

static void print_shape(FILE *f, const vs_st_entry *e) {
    fputc('[', f);
    for (int i = 0; i < e->ndim; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", e->shape[i]);
    fputc(']', f);
}

/* ---- JSON output ------------------------------------------------------------------ */

static void json_string(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void json_cstring(FILE *f, const char *s) { json_string(f, s, strlen(s)); }

/* Re-emits a parsed value (the parser bounds its depth at 64). */
static void json_value(FILE *f, const vs_json *v) {
    int64_t i;
    size_t len;
    switch (vs_json_typeof(v)) {
    case VS_JSON_NULL: fputs("null", f); break;
    case VS_JSON_BOOL: fputs(vs_json_bool(v) ? "true" : "false", f); break;
    case VS_JSON_NUMBER:
        if (vs_json_int64(v, &i) && (double)i == vs_json_number(v)) fprintf(f, "%" PRId64, i);
        else fprintf(f, "%.17g", vs_json_number(v));
        break;
    case VS_JSON_STRING: {
        const char *s = vs_json_string(v, &len);
        json_string(f, s, len);
        break;
    }
    case VS_JSON_ARRAY:
    case VS_JSON_OBJECT: {
        int object = vs_json_typeof(v) == VS_JSON_OBJECT;
        fputc(object ? '{' : '[', f);
        for (size_t k = 0; k < vs_json_size(v); k++) {
            if (k) fputc(',', f);
            if (object) {
                json_cstring(f, vs_json_key_at(v, k));
                fputc(':', f);
            }
            json_value(f, vs_json_at(v, k));
        }
        fputc(object ? '}' : ']', f);
        break;
    }
    }
}

static int print_json(const checkpoint *ck, const char *path) {
    int64_t total = 0;
    printf("{\"path\":");
    json_cstring(stdout, path);
    if (ck->model_index) {
        printf(",\"model_index\":");
        json_value(stdout, vs_json_root(ck->model_index));
    }
    printf(",\"components\":[");
    for (size_t i = 0; i < ck->count; i++) {
        const component *c = &ck->items[i];
        uint64_t bytes;
        int64_t params = component_params(c, &bytes);
        total += params;
        printf("%s\n{\"name\":", i ? "," : "");
        json_cstring(stdout, c->name);
        printf(",\"class\":");
        if (c->class_name) json_cstring(stdout, c->class_name);
        else printf("null");
        printf(",\"config\":");
        if (c->config) json_value(stdout, vs_json_root(c->config));
        else printf("null");
        printf(",\"parameters\":%" PRId64 ",\"bytes\":%" PRIu64 ",\"tensors\":[", params, bytes);
        const vs_st_entry **v = sorted_entries(c->weights);
        if (!v) return vs_cli_report("inspect");
        for (size_t k = 0; k < vs_safetensors_count(c->weights); k++) {
            printf("%s\n{\"name\":", k ? "," : "");
            json_cstring(stdout, v[k]->name);
            printf(",\"dtype\":\"%s\",\"shape\":", vs_dtype_name(v[k]->dtype));
            print_shape(stdout, v[k]);
            printf("}");
        }
        free(v);
        printf("]}");
    }
    printf("],\n\"parameters\":%" PRId64 "}\n", total);
    return 0;
}

/* ---- text output ------------------------------------------------------------------ */

/* "key=value" for the scalar and short-array members of a config, wrapped. */
static void print_config_summary(const vs_json *config) {
    int column = 0;
    for (size_t i = 0; i < vs_json_size(config); i++) {
        const char *key = vs_json_key_at(config, i);
        const vs_json *v = vs_json_at(config, i);
        if (key[0] == '_') continue;
        char text[160];
        size_t n = 0;
        vs_json_type t = vs_json_typeof(v);
        if (t == VS_JSON_OBJECT) continue;
        if (t == VS_JSON_ARRAY) {
            if (vs_json_size(v) > 8) {
                n = (size_t)snprintf(text, sizeof text, "%s=[%zu values]", key, vs_json_size(v));
            } else {
                n = (size_t)snprintf(text, sizeof text, "%s=[", key);
                for (size_t k = 0; k < vs_json_size(v) && n < sizeof text; k++) {
                    const vs_json *x = vs_json_at(v, k);
                    const char *s = vs_json_string(x, NULL);
                    if (s) n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", k ? "," : "", s);
                    else if (vs_json_typeof(x) == VS_JSON_NUMBER)
                        n += (size_t)snprintf(text + n, sizeof text - n, "%s%g", k ? "," : "", vs_json_number(x));
                    else n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", k ? "," : "", vs_json_type_name(vs_json_typeof(x)));
                }
                if (n < sizeof text) n += (size_t)snprintf(text + n, sizeof text - n, "]");
            }
        } else if (t == VS_JSON_STRING) {
            n = (size_t)snprintf(text, sizeof text, "%s=%s", key, vs_json_string(v, NULL));
        } else if (t == VS_JSON_NUMBER) {
            n = (size_t)snprintf(text, sizeof text, "%s=%g", key, vs_json_number(v));
        } else {
            n = (size_t)snprintf(text, sizeof text, "%s=%s", key,
                                 t == VS_JSON_NULL ? "null" : (vs_json_bool(v) ? "true" : "false"));
        }
        if (n >= sizeof text) n = sizeof text - 1;
        if (column == 0) {
            printf("  config: %s", text);
            column = 10 + (int)n;
        } else if (column + 1 + (int)n > 100) {
            printf("\n          %s", text);
            column = 10 + (int)n;
        } else {
            printf(" %s", text);
            column += 1 + (int)n;
        }
    }
    if (column) printf("\n");
}

static int print_text(const checkpoint *ck, const char *path) {
    if (ck->model_index) {
        const vs_json *root = vs_json_root(ck->model_index);
        printf("%s: %s (diffusers %s), %zu components\n", path,
               vs_json_get_string(root, "_class_name", "unnamed"), vs_json_get_string(root, "_diffusers_version", "?"),
               ck->count);
    }
    int64_t total = 0;
    size_t weighted = 0;
    for (size_t i = 0; i < ck->count; i++) {
        const component *c = &ck->items[i];
        size_t n = vs_safetensors_count(c->weights);
        uint64_t bytes;
        int64_t params = component_params(c, &bytes);
        char count[32];
        format_count(count, sizeof count, params);
        printf("%s%s", ck->model_index ? "\n" : "", c->name);
        if (c->class_name) printf(" (%s)", c->class_name);
        if (c->weights) {
            printf(": %zu tensor%s, %" PRId64 " parameters (%s), %.2f MB\n", n, n == 1 ? "" : "s", params, count,
                   (double)bytes / 1e6);
            total += params;
            weighted++;
        } else {
            printf(": no weights\n");
        }
        if (c->config) print_config_summary(vs_json_root(c->config));
        const vs_st_entry **v = sorted_entries(c->weights);
        if (!v) return vs_cli_report("inspect");
        int width = 0;
        for (size_t k = 0; k < n; k++) {
            int len = (int)strlen(v[k]->name);
            if (len > width) width = len < 72 ? len : 72;
        }
        for (size_t k = 0; k < n; k++) {
            printf("  %-*s %-7s ", width, v[k]->name, vs_dtype_name(v[k]->dtype));
            print_shape(stdout, v[k]);
            printf("\n");
        }
        free(v);
    }
    char count[32];
    format_count(count, sizeof count, total);
    printf("%stotal: %" PRId64 " parameters (%s) in %zu component%s with weights\n", ck->model_index ? "\n" : "",
           total, count, weighted, weighted == 1 ? "" : "s");
    return 0;
}

int vs_cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: vidsparse inspect PATH [--json]\n"
                   "Lists what a checkpoint holds: components, config summaries, tensors (name, dtype,\n"
                   "shape) and parameter counts. PATH is a .safetensors file, a *.safetensors.index.json,\n"
                   "a component folder (config.json + weights) or a diffusers pipeline folder\n"
                   "(model_index.json). --json prints the same as one JSON document.\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return vs_cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        } else if (path) {
            return vs_cli_usage_error("inspect", "one PATH expected, got '%s' and '%s'", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return vs_cli_usage_error("inspect", "PATH expected");
    checkpoint ck = {NULL, 0, NULL};
    int rc;
    if (load_checkpoint(&ck, path) != VS_OK) rc = vs_cli_report("inspect");
    else rc = json ? print_json(&ck, path) : print_text(&ck, path);
    checkpoint_free(&ck);
    return rc;
}
