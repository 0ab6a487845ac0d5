/* A strict JSON reader (RFC 8259): UTF-8 validated, depth-limited, whole
 * input consumed. Used for safetensors headers, config.json, index files and
 * tokenizer.json. Parsing builds an immutable tree owned by vs_json_doc. */
#ifndef VS_CORE_JSON_H
#define VS_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vs_json_type {
    VS_JSON_NULL, VS_JSON_BOOL, VS_JSON_NUMBER, VS_JSON_STRING, VS_JSON_ARRAY, VS_JSON_OBJECT
} vs_json_type;

typedef struct vs_json vs_json;         /* a value inside a document */
typedef struct vs_json_doc vs_json_doc; /* owns all values and strings */

/* Parses `len` bytes (need not be NUL-terminated). On failure the message
 * names `label` and the byte offset of the problem. */
vs_status vs_json_parse(vs_json_doc **out, const char *text, size_t len, const char *label);
/* Reads and parses a whole file. */
vs_status vs_json_parse_file(vs_json_doc **out, const char *path);
void vs_json_free(vs_json_doc *doc);
const vs_json *vs_json_root(const vs_json_doc *doc);

vs_json_type vs_json_typeof(const vs_json *v);
const char *vs_json_type_name(vs_json_type type);
/* Object members keep file order; lookups are linear (headers are small). */
const vs_json *vs_json_get(const vs_json *object, const char *key); /* NULL if absent or not object */
size_t vs_json_size(const vs_json *v);                               /* array/object element count */
const vs_json *vs_json_at(const vs_json *v, size_t i);               /* array element or object value */
const char *vs_json_key_at(const vs_json *object, size_t i);         /* object key i */
/* String value (UTF-8, NUL-terminated; length excludes NUL), NULL if not a string. */
const char *vs_json_string(const vs_json *v, size_t *len);
double vs_json_number(const vs_json *v);
/* Exact integer if the number is integral and fits int64; returns 0 otherwise. */
int vs_json_int64(const vs_json *v, int64_t *out);
int vs_json_bool(const vs_json *v);

/* Convenience for config files: read a member with a default. */
double vs_json_get_number(const vs_json *object, const char *key, double fallback);
int64_t vs_json_get_int(const vs_json *object, const char *key, int64_t fallback);
const char *vs_json_get_string(const vs_json *object, const char *key, const char *fallback);

#ifdef __cplusplus
}
#endif
#endif
