/* Strict JSON (RFC 8259) parser.
 *
 * Values live in an arena owned by the document. While a container is being
 * parsed its children are pushed on one shared scratch stack (nested
 * containers push above them); when the container closes, its children are
 * copied into the arena as one contiguous array and popped. So every array
 * or object is a single block, and lookups are plain loops. */
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64
#define JSON_MAX_FILE_BYTES ((size_t)256 << 20)
#define ARENA_CHUNK_BYTES ((size_t)64 << 10)

struct vs_json {
    vs_json_type type;
    int exact_int;   /* `integer` holds the exact value of an integral number */
    const char *key; /* member name when the value sits in an object */
    size_t n;        /* string length in bytes, or element count */
    union {
        int boolean;
        double number;
        const char *string;
        const vs_json *items;
    } u;
    int64_t integer;
};

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[]; /* flexible array, aligned for any value */
} arena_chunk;

struct vs_json_doc {
    arena_chunk *chunks;
    vs_json root;
};

typedef struct {
    const unsigned char *p, *start, *end;
    const char *label;
    vs_json_doc *doc;
    vs_json *stack; /* scratch stack of children of the open containers */
    size_t stack_len, stack_cap;
} parser;

static void *arena_alloc(vs_json_doc *doc, size_t bytes) {
    bytes = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    arena_chunk *c = doc->chunks;
    if (!c || c->size - c->used < bytes) {
        size_t size = bytes > ARENA_CHUNK_BYTES ? bytes : ARENA_CHUNK_BYTES;
        c = malloc(sizeof(arena_chunk) + size);
        if (!c) return NULL;
        c->size = size;
        c->used = 0;
        c->next = doc->chunks;
        doc->chunks = c;
    }
    void *mem = (char *)c->data + c->used;
    c->used += bytes;
    return mem;
}

static vs_status syntax_error(const parser *ps, const char *what) {
    return vs_fail(VS_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s", ps->label, (size_t)(ps->p - ps->start), what);
}

static vs_status out_of_memory(const parser *ps) {
    return vs_fail(VS_ERR_OOM, "%s: out of memory while parsing JSON", ps->label);
}

static void skip_whitespace(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return 0;
    ps->p += n;
    return 1;
}

static vs_status push(parser *ps, const vs_json *v) {
    if (ps->stack_len == ps->stack_cap) {
        size_t cap = ps->stack_cap ? ps->stack_cap * 2 : 64;
        vs_json *grown = realloc(ps->stack, cap * sizeof *grown);
        if (!grown) return out_of_memory(ps);
        ps->stack = grown;
        ps->stack_cap = cap;
    }
    ps->stack[ps->stack_len++] = *v;
    return VS_OK;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u"; -1 if malformed. */
static long read_hex4(parser *ps) {
    if (ps->end - ps->p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(ps->p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    ps->p += 4;
    return v;
}

static size_t put_utf8(unsigned char *out, unsigned long cp) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at p (Unicode table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF); 0 if ill-formed. */
static size_t utf8_sequence_length(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;      /* overlong */
        else if (c == 0xed) hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;      /* overlong */
        else if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else return 0;                   /* continuation byte, C0/C1 overlong, F5..FF */
    if ((size_t)(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return n;
}

/* Parses a string starting at its opening quote into the arena. Decoded
 * text is never longer than its source, so one allocation suffices. */
static vs_status parse_string(parser *ps, const char **out, size_t *out_len) {
    ps->p++; /* opening quote */
    const unsigned char *q = ps->p;
    while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end) return syntax_error(ps, "unterminated string");
    unsigned char *buf = arena_alloc(ps->doc, (size_t)(q - ps->p) + 1);
    if (!buf) return out_of_memory(ps);
    size_t len = 0;
    for (;;) {
        unsigned char c = *ps->p;
        if (c == '"') break;
        if (c < 0x20) return syntax_error(ps, "control character in string (must be escaped)");
        if (c == '\\') {
            ps->p++;
            unsigned char e = *ps->p++;
            switch (e) {
            case '"': buf[len++] = '"'; break;
            case '\\': buf[len++] = '\\'; break;
            case '/': buf[len++] = '/'; break;
            case 'b': buf[len++] = '\b'; break;
            case 'f': buf[len++] = '\f'; break;
            case 'n': buf[len++] = '\n'; break;
            case 'r': buf[len++] = '\r'; break;
            case 't': buf[len++] = '\t'; break;
            case 'u': {
                long cp = read_hex4(ps);
                if (cp < 0) return syntax_error(ps, "\\u must be followed by 4 hex digits");
                if (cp >= 0xdc00 && cp <= 0xdfff) return syntax_error(ps, "unpaired low surrogate in \\u escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                        return syntax_error(ps, "high surrogate \\u escape not followed by a low surrogate");
                    ps->p += 2;
                    long low = read_hex4(ps);
                    if (low < 0) return syntax_error(ps, "\\u must be followed by 4 hex digits");
                    if (low < 0xdc00 || low > 0xdfff)
                        return syntax_error(ps, "high surrogate \\u escape not followed by a low surrogate");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                }
                len += put_utf8(buf + len, (unsigned long)cp);
                break;
            }
            default: ps->p--; return syntax_error(ps, "invalid escape sequence");
            }
            continue;
        }
        size_t n = utf8_sequence_length(ps->p, ps->end);
        if (n == 0) return syntax_error(ps, "invalid UTF-8 in string");
        memcpy(buf + len, ps->p, n);
        len += n;
        ps->p += n;
    }
    ps->p++; /* closing quote */
    buf[len] = '\0';
    *out = (const char *)buf;
    *out_len = len;
    return VS_OK;
}

static int is_digit(const unsigned char *p, const unsigned char *end) { return p < end && *p >= '0' && *p <= '9'; }

/* number = [ "-" ] int [ frac ] [ exp ]; int = "0" / [1-9] *DIGIT */
static vs_status parse_number(parser *ps, vs_json *v) {
    const unsigned char *s = ps->p, *p = ps->p;
    if (p < ps->end && *p == '-') p++;
    if (!is_digit(p, ps->end)) return syntax_error(ps, "invalid number");
    if (*p == '0') {
        p++;
        if (is_digit(p, ps->end)) return syntax_error(ps, "leading zeros are not allowed in numbers");
    } else {
        while (is_digit(p, ps->end)) p++;
    }
    int integral_syntax = 1;
    if (p < ps->end && *p == '.') {
        integral_syntax = 0;
        p++;
        if (!is_digit(p, ps->end)) {
            ps->p = p;
            return syntax_error(ps, "digit expected after decimal point");
        }
        while (is_digit(p, ps->end)) p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        integral_syntax = 0;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-')) p++;
        if (!is_digit(p, ps->end)) {
            ps->p = p;
            return syntax_error(ps, "digit expected in exponent");
        }
        while (is_digit(p, ps->end)) p++;
    }
    /* strtod needs a terminated copy; numbers longer than this are absurd. */
    char text[512];
    size_t n = (size_t)(p - s);
    if (n >= sizeof text) return syntax_error(ps, "number literal too long");
    memcpy(text, s, n);
    text[n] = '\0';
    errno = 0;
    double d = strtod(text, NULL);
    if (errno == ERANGE && isinf(d)) return syntax_error(ps, "number out of range");
    v->type = VS_JSON_NUMBER;
    v->u.number = d;
    if (integral_syntax) {
        errno = 0;
        long long i = strtoll(text, NULL, 10);
        v->exact_int = errno != ERANGE;
        v->integer = i;
    } else if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        v->exact_int = 1;
        v->integer = (int64_t)d;
    }
    ps->p = p;
    return VS_OK;
}

static vs_status parse_value(parser *ps, vs_json *v, int depth);

/* Parses an array or object (at its opening bracket). */
static vs_status parse_container(parser *ps, vs_json *v, int depth) {
    int is_object = *ps->p == '{';
    unsigned char close = is_object ? '}' : ']';
    if (depth >= JSON_MAX_DEPTH) return syntax_error(ps, "nesting deeper than 64 levels");
    ps->p++;
    size_t base = ps->stack_len;
    skip_whitespace(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            vs_json child;
            memset(&child, 0, sizeof child);
            skip_whitespace(ps);
            if (is_object) {
                if (ps->p >= ps->end || *ps->p != '"') return syntax_error(ps, "object key (a string) expected");
                size_t key_len;
                VS_TRY(parse_string(ps, &child.key, &key_len));
                skip_whitespace(ps);
                if (ps->p >= ps->end || *ps->p != ':') return syntax_error(ps, "':' expected after object key");
                ps->p++;
                skip_whitespace(ps);
            }
            const char *key = child.key;
            VS_TRY(parse_value(ps, &child, depth + 1));
            child.key = key;
            VS_TRY(push(ps, &child));
            skip_whitespace(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                break;
            }
            return syntax_error(ps, is_object ? "',' or '}' expected in object" : "',' or ']' expected in array");
        }
    }
    size_t count = ps->stack_len - base;
    vs_json *items = NULL;
    if (count) {
        items = arena_alloc(ps->doc, count * sizeof *items);
        if (!items) return out_of_memory(ps);
        memcpy(items, ps->stack + base, count * sizeof *items);
    }
    ps->stack_len = base;
    v->type = is_object ? VS_JSON_OBJECT : VS_JSON_ARRAY;
    v->n = count;
    v->u.items = items;
    return VS_OK;
}

static vs_status parse_value(parser *ps, vs_json *v, int depth) {
    skip_whitespace(ps);
    if (ps->p >= ps->end) return syntax_error(ps, "unexpected end of input, value expected");
    switch (*ps->p) {
    case '{':
    case '[': return parse_container(ps, v, depth);
    case '"': v->type = VS_JSON_STRING; return parse_string(ps, &v->u.string, &v->n);
    case 't':
    case 'f':
        if (literal(ps, "true") || literal(ps, "false")) {
            v->type = VS_JSON_BOOL;
            v->u.boolean = ps->p[-4] == 't'; /* "true" is 4 bytes, "false" 5 */
            return VS_OK;
        }
        break;
    case 'n':
        if (literal(ps, "null")) {
            v->type = VS_JSON_NULL;
            return VS_OK;
        }
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps, v);
        break;
    }
    return syntax_error(ps, "unexpected character, value expected");
}

void vs_json_free(vs_json_doc *doc) {
    if (!doc) return;
    arena_chunk *c = doc->chunks;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

vs_status vs_json_parse(vs_json_doc **out, const char *text, size_t len, const char *label) {
    *out = NULL;
    if (!label) label = "JSON";
    if (!text && len) return vs_fail(VS_ERR_INVALID_ARG, "%s: NULL text", label);
    vs_json_doc *doc = calloc(1, sizeof *doc);
    if (!doc) return vs_fail(VS_ERR_OOM, "%s: out of memory while parsing JSON", label);
    static const unsigned char empty[1];
    const unsigned char *start = text ? (const unsigned char *)text : empty;
    parser ps = {start, start, start + len, label, doc, NULL, 0, 0};
    vs_status s;
    if (len >= 3 && memcmp(start, "\xef\xbb\xbf", 3) == 0) s = syntax_error(&ps, "byte order mark is not allowed");
    else s = parse_value(&ps, &doc->root, 0);
    if (s == VS_OK) {
        skip_whitespace(&ps);
        if (ps.p != ps.end) s = syntax_error(&ps, "unexpected data after the JSON value");
    }
    free(ps.stack);
    if (s != VS_OK) {
        vs_json_free(doc);
        return s;
    }
    *out = doc;
    return VS_OK;
}

vs_status vs_json_parse_file(vs_json_doc **out, const char *path) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    vs_status s = VS_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= JSON_MAX_FILE_BYTES) {
                s = vs_fail(VS_ERR_FORMAT, "%s: larger than the %zu MiB limit for JSON files", path,
                            JSON_MAX_FILE_BYTES >> 20);
                break;
            }
            cap = cap ? cap * 2 : 65536;
            if (cap > JSON_MAX_FILE_BYTES) cap = JSON_MAX_FILE_BYTES;
            char *grown = realloc(buf, cap);
            if (!grown) {
                s = vs_fail(VS_ERR_OOM, "%s: out of memory reading the file", path);
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) s = vs_fail(VS_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (s == VS_OK) s = vs_json_parse(out, buf, len, path);
    free(buf);
    return s;
}

const vs_json *vs_json_root(const vs_json_doc *doc) { return doc ? &doc->root : NULL; }

vs_json_type vs_json_typeof(const vs_json *v) { return v ? v->type : VS_JSON_NULL; }

const char *vs_json_type_name(vs_json_type type) {
    switch (type) {
    case VS_JSON_NULL: return "null";
    case VS_JSON_BOOL: return "boolean";
    case VS_JSON_NUMBER: return "number";
    case VS_JSON_STRING: return "string";
    case VS_JSON_ARRAY: return "array";
    case VS_JSON_OBJECT: return "object";
    }
    return "?";
}

const vs_json *vs_json_get(const vs_json *object, const char *key) {
    if (!object || object->type != VS_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->n; i++)
        if (strcmp(object->u.items[i].key, key) == 0) return &object->u.items[i];
    return NULL;
}

size_t vs_json_size(const vs_json *v) {
    return v && (v->type == VS_JSON_ARRAY || v->type == VS_JSON_OBJECT) ? v->n : 0;
}

const vs_json *vs_json_at(const vs_json *v, size_t i) { return i < vs_json_size(v) ? &v->u.items[i] : NULL; }

const char *vs_json_key_at(const vs_json *object, size_t i) {
    return object && object->type == VS_JSON_OBJECT && i < object->n ? object->u.items[i].key : NULL;
}

const char *vs_json_string(const vs_json *v, size_t *len) {
    if (!v || v->type != VS_JSON_STRING) return NULL;
    if (len) *len = v->n;
    return v->u.string;
}

double vs_json_number(const vs_json *v) { return v && v->type == VS_JSON_NUMBER ? v->u.number : 0.0; }

int vs_json_int64(const vs_json *v, int64_t *out) {
    if (!v || v->type != VS_JSON_NUMBER || !v->exact_int) return 0;
    *out = v->integer;
    return 1;
}

int vs_json_bool(const vs_json *v) { return v && v->type == VS_JSON_BOOL && v->u.boolean; }

double vs_json_get_number(const vs_json *object, const char *key, double fallback) {
    const vs_json *v = vs_json_get(object, key);
    return v && v->type == VS_JSON_NUMBER ? v->u.number : fallback;
}

int64_t vs_json_get_int(const vs_json *object, const char *key, int64_t fallback) {
    int64_t i;
    return vs_json_int64(vs_json_get(object, key), &i) ? i : fallback;
}

const char *vs_json_get_string(const vs_json *object, const char *key, const char *fallback) {
    const char *s = vs_json_string(vs_json_get(object, key), NULL);
    return s ? s : fallback;
}
