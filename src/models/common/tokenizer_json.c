/* Reading a Hugging Face tokenizer.json holding a Unigram model, and
 * loading a tokenizer folder. Supported components (others are refused with
 * VS_ERR_UNSUPPORTED naming them): normalizers Precompiled, Strip, Replace
 * (a literal, or a regex "X{n,}" / "X+" of one character), Sequence;
 * pre-tokenizers WhitespaceSplit, Metaspace, Sequence; post-processor
 * TemplateProcessing; added tokens that match the raw text (normalized false). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/status.h"
#include "models/common/tokenizer_internal.h"

static vs_status decode_base64(const char *s, size_t len, uint8_t **out, size_t *out_len, const char *label) {
    *out = malloc(len / 4 * 3 + 3);
    if (!*out) return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0, i = 0;
    for (; i < len && s[i] != '='; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
              : c == '+' ? 62 : c == '/' ? 63 : -1;
        if (v < 0) {
            free(*out);
            *out = NULL;
            return vs_fail(VS_ERR_FORMAT, "%s: precompiled_charsmap is not base64 (byte %zu)", label, i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            (*out)[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = n;
    return VS_OK;
}

static vs_status add_norm(vs_tokenizer *tok, vs_norm_op op) {
    vs_norm_op *p = realloc(tok->norm, (size_t)(tok->n_norm + 1) * sizeof *p);
    if (!p) {
        free(op.pattern);
        free(op.content);
        return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
    }
    tok->norm = p;
    tok->norm[tok->n_norm++] = op;
    return VS_OK;
}

static char *dup_bytes(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* Regex patterns of Replace: one character (maybe backslash-escaped) then {n,} or +. */
static int parse_repeat_regex(const char *re, size_t len, size_t *char_len, int *min_repeat) {
    size_t c = re[0] == '\\' ? 2 : 1;
    if (c == 1 && ((unsigned char)re[0] >= 0x80 || strchr(".[]()*+?{}|^$", re[0]))) return 0;
    if (len < c + 1) return 0;
    if (len == c + 1 && re[c] == '+') {
        *min_repeat = 1;
    } else {
        int n = 0;
        size_t i = c;
        if (re[i++] != '{') return 0;
        while (i < len && re[i] >= '0' && re[i] <= '9' && n < 1000) n = n * 10 + (re[i++] - '0');
        if (i + 2 != len || re[i] != ',' || re[i + 1] != '}' || n < 1) return 0;
        *min_repeat = n;
    }
    *char_len = c;
    return 1;
}

static vs_status read_normalizer(vs_tokenizer *tok, const vs_json *n, const char *label) {
    if (!n || vs_json_typeof(n) == VS_JSON_NULL) return VS_OK;
    const char *type = vs_json_get_string(n, "type", "");
    if (!strcmp(type, "Sequence")) {
        const vs_json *list = vs_json_get(n, "normalizers");
        if (!list || vs_json_typeof(list) != VS_JSON_ARRAY)
            return vs_fail(VS_ERR_FORMAT, "%s: normalizer Sequence without a \"normalizers\" array", label);
        for (size_t i = 0; i < vs_json_size(list); i++) VS_TRY(read_normalizer(tok, vs_json_at(list, i), label));
        return VS_OK;
    }
    if (!strcmp(type, "Precompiled")) {
        const vs_json *b = vs_json_get(n, "precompiled_charsmap");
        size_t len = 0;
        const char *s = b ? vs_json_string(b, &len) : NULL;
        if (!s) return VS_OK; /* null charsmap: identity */
        if (tok->cm_units)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: more than one Precompiled normalizer", label);
        uint8_t *blob;
        size_t blob_len = 0;
        VS_TRY(decode_base64(s, len, &blob, &blob_len, label));
        vs_status st = vs_tok_set_charsmap(tok, blob, blob_len, label);
        free(blob);
        VS_TRY(st);
        return add_norm(tok, (vs_norm_op){.kind = VS_NORM_PRECOMPILED});
    }
    if (!strcmp(type, "Strip")) {
        const vs_json *l = vs_json_get(n, "strip_left"), *r = vs_json_get(n, "strip_right");
        return add_norm(tok, (vs_norm_op){.kind = VS_NORM_STRIP, .left = l && vs_json_bool(l), .right = r && vs_json_bool(r)});
    }
    if (!strcmp(type, "Replace")) {
        const vs_json *pat = vs_json_get(n, "pattern");
        const vs_json *lit = pat ? vs_json_get(pat, "String") : NULL, *re = pat ? vs_json_get(pat, "Regex") : NULL;
        size_t plen = 0, clen = 0;
        const char *p = lit ? vs_json_string(lit, &plen) : re ? vs_json_string(re, &plen) : NULL;
        const char *content = vs_json_string(vs_json_get(n, "content"), &clen);
        if (!p || !content) return vs_fail(VS_ERR_FORMAT, "%s: Replace normalizer without pattern or content", label);
        vs_norm_op op = {.kind = VS_NORM_REPLACE};
        if (re) {
            size_t cl;
            if (!parse_repeat_regex(p, plen, &cl, &op.min_repeat))
                return vs_fail(VS_ERR_UNSUPPORTED, "%s: Replace regex \"%s\" is not supported (only \"X{n,}\" or \"X+\")",
                               label, p);
            if (cl == 2) p++;
            plen = 1;
        }
        if (plen == 0) return vs_fail(VS_ERR_FORMAT, "%s: Replace normalizer with an empty pattern", label);
        op.pattern = dup_bytes(p, plen);
        op.pattern_len = plen;
        op.content = dup_bytes(content, clen);
        op.content_len = clen;
        if (!op.pattern || !op.content) {
            free(op.pattern);
            free(op.content);
            return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
        }
        return add_norm(tok, op);
    }
    return vs_fail(VS_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported", label, type);
}

static vs_status add_pre(vs_tokenizer *tok, vs_pre_op op) {
    vs_pre_op *p = realloc(tok->pre, (size_t)(tok->n_pre + 1) * sizeof *p);
    if (!p) return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
    tok->pre = p;
    tok->pre[tok->n_pre++] = op;
    return VS_OK;
}

static vs_status read_pre_tokenizer(vs_tokenizer *tok, const vs_json *n, const char *label) {
    if (!n || vs_json_typeof(n) == VS_JSON_NULL) return VS_OK;
    const char *type = vs_json_get_string(n, "type", "");
    if (!strcmp(type, "Sequence")) {
        const vs_json *list = vs_json_get(n, "pretokenizers");
        if (!list || vs_json_typeof(list) != VS_JSON_ARRAY)
            return vs_fail(VS_ERR_FORMAT, "%s: pre_tokenizer Sequence without a \"pretokenizers\" array", label);
        for (size_t i = 0; i < vs_json_size(list); i++) VS_TRY(read_pre_tokenizer(tok, vs_json_at(list, i), label));
        return VS_OK;
    }
    if (!strcmp(type, "WhitespaceSplit")) return add_pre(tok, (vs_pre_op){.kind = VS_PRE_WHITESPACE_SPLIT});
    if (!strcmp(type, "Metaspace")) {
        vs_pre_op op = {.kind = VS_PRE_METASPACE, .split = 1, .prepend = VS_PREPEND_ALWAYS};
        size_t len = 0;
        const char *rep = vs_json_string(vs_json_get(n, "replacement"), &len);
        if (!rep || len == 0 || len > 4) return vs_fail(VS_ERR_FORMAT, "%s: Metaspace needs a one-character replacement", label);
        memcpy(op.replacement, rep, len);
        op.replacement_len = (int)len;
        const vs_json *split = vs_json_get(n, "split");
        if (split) op.split = vs_json_bool(split);
        const vs_json *legacy = vs_json_get(n, "add_prefix_space");
        if (legacy) op.prepend = vs_json_bool(legacy) ? VS_PREPEND_ALWAYS : VS_PREPEND_NEVER;
        const char *scheme = vs_json_get_string(n, "prepend_scheme", NULL);
        if (scheme) {
            if (!strcmp(scheme, "always")) op.prepend = VS_PREPEND_ALWAYS;
            else if (!strcmp(scheme, "first")) op.prepend = VS_PREPEND_FIRST;
            else if (!strcmp(scheme, "never")) op.prepend = VS_PREPEND_NEVER;
            else return vs_fail(VS_ERR_FORMAT, "%s: Metaspace prepend_scheme \"%s\" is unknown", label, scheme);
        }
        return add_pre(tok, op);
    }
    return vs_fail(VS_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%s\" is not supported", label, type);
}

static vs_status read_model(vs_tokenizer *tok, const vs_json *m, const char *label) {
    if (!m || vs_json_typeof(m) != VS_JSON_OBJECT) return vs_fail(VS_ERR_FORMAT, "%s: no \"model\" object", label);
    const char *type = vs_json_get_string(m, "type", "");
    if (strcmp(type, "Unigram"))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (Unigram only)", label, type);
    const vs_json *vocab = vs_json_get(m, "vocab");
    if (!vocab || vs_json_typeof(vocab) != VS_JSON_ARRAY || vs_json_size(vocab) == 0)
        return vs_fail(VS_ERR_FORMAT, "%s: the Unigram model has no \"vocab\" array", label);
    for (size_t i = 0; i < vs_json_size(vocab); i++) {
        const vs_json *e = vs_json_at(vocab, i);
        size_t len = 0;
        const char *piece = vs_json_typeof(e) == VS_JSON_ARRAY && vs_json_size(e) == 2 ? vs_json_string(vs_json_at(e, 0), &len) : NULL;
        if (!piece || vs_json_typeof(vs_json_at(e, 1)) != VS_JSON_NUMBER)
            return vs_fail(VS_ERR_FORMAT, "%s: vocab entry %zu is not [piece, score]", label, i);
        VS_TRY(vs_tok_add_piece(tok, piece, len, vs_json_number(vs_json_at(e, 1)), VS_PIECE_NORMAL));
    }
    int64_t unk;
    const vs_json *u = vs_json_get(m, "unk_id");
    if (!u || !vs_json_int64(u, &unk) || unk < 0 || unk >= tok->n_pieces)
        return vs_fail(VS_ERR_FORMAT, "%s: the Unigram model's unk_id is missing or outside the vocabulary", label);
    tok->unk_id = (int)unk;
    tok->pieces[unk].type = VS_PIECE_UNKNOWN;
    const vs_json *bf = vs_json_get(m, "byte_fallback");
    tok->byte_fallback = bf && vs_json_bool(bf);
    return VS_OK;
}

static vs_status read_added(vs_tokenizer *tok, const vs_json *list, const char *label) {
    if (!list || vs_json_typeof(list) == VS_JSON_NULL) return VS_OK;
    if (vs_json_typeof(list) != VS_JSON_ARRAY) return vs_fail(VS_ERR_FORMAT, "%s: \"added_tokens\" is not an array", label);
    size_t n = vs_json_size(list);
    tok->added = calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added) return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
    for (size_t i = 0; i < n; i++) {
        const vs_json *a = vs_json_at(list, i);
        size_t len = 0;
        const char *content = vs_json_string(vs_json_get(a, "content"), &len);
        int64_t id;
        if (!content || len == 0 || !vs_json_int64(vs_json_get(a, "id"), &id) || id < 0 || id >= tok->n_pieces)
            return vs_fail(VS_ERR_FORMAT, "%s: added token %zu needs content and an id inside the vocabulary", label, i);
        const char *flags[] = {"normalized", "lstrip", "rstrip", "single_word"};
        for (int f = 0; f < 4; f++) {
            const vs_json *v = vs_json_get(a, flags[f]);
            if (v && vs_json_bool(v))
                return vs_fail(VS_ERR_UNSUPPORTED, "%s: added token \"%s\" sets %s, which is not supported", label,
                               content, flags[f]);
        }
        tok->added[i] = (vs_added_token){dup_bytes(content, len), len, (int32_t)id};
        if (!tok->added[i].text) return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
        tok->n_added++;
        tok->added_first[(unsigned char)content[0]] = 1;
    }
    return VS_OK;
}

vs_status vs_tok_read_template(const vs_json *p, int vocab, int32_t prefix[4], int *n_prefix, int32_t suffix[4],
                               int *n_suffix, const char *label) {
    const vs_json *single = vs_json_get(p, "single"), *specials = vs_json_get(p, "special_tokens");
    if (!single || vs_json_typeof(single) != VS_JSON_ARRAY)
        return vs_fail(VS_ERR_FORMAT, "%s: TemplateProcessing without a \"single\" template", label);
    int seen_a = 0;
    for (size_t i = 0; i < vs_json_size(single); i++) {
        const vs_json *item = vs_json_at(single, i), *sp = vs_json_get(item, "SpecialToken");
        if (vs_json_get(item, "Sequence")) {
            if (seen_a) return vs_fail(VS_ERR_UNSUPPORTED, "%s: template repeats the sequence", label);
            seen_a = 1;
            continue;
        }
        const char *name = sp ? vs_json_get_string(sp, "id", NULL) : NULL;
        const vs_json *ids = name && specials ? vs_json_get(vs_json_get(specials, name), "ids") : NULL;
        if (!ids || vs_json_typeof(ids) != VS_JSON_ARRAY)
            return vs_fail(VS_ERR_FORMAT, "%s: template item %zu names no known special token", label, i);
        for (size_t k = 0; k < vs_json_size(ids); k++) {
            int64_t id;
            if (!vs_json_int64(vs_json_at(ids, k), &id) || id < 0 || id >= vocab)
                return vs_fail(VS_ERR_FORMAT, "%s: special token \"%s\" has an id outside the vocabulary", label, name);
            int32_t *dst = seen_a ? suffix : prefix;
            int *count = seen_a ? n_suffix : n_prefix;
            if (*count == 4) return vs_fail(VS_ERR_UNSUPPORTED, "%s: more than 4 special tokens around the text", label);
            dst[(*count)++] = (int32_t)id;
        }
    }
    if (!seen_a) return vs_fail(VS_ERR_FORMAT, "%s: the template has no $A sequence", label);
    return VS_OK;
}

/* TemplateProcessing "single": special tokens before and after $A. */
static vs_status read_post(vs_tokenizer *tok, const vs_json *p, const char *label) {
    if (!p || vs_json_typeof(p) == VS_JSON_NULL) return VS_OK;
    const char *type = vs_json_get_string(p, "type", "");
    if (strcmp(type, "TemplateProcessing"))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: post_processor type \"%s\" is not supported", label, type);
    return vs_tok_read_template(p, tok->n_pieces, tok->prefix, &tok->n_prefix, tok->suffix, &tok->n_suffix, label);
}

static vs_status parse_json(vs_tokenizer *tok, const vs_json *root, const char *label) {
    if (vs_json_typeof(root) != VS_JSON_OBJECT) return vs_fail(VS_ERR_FORMAT, "%s: not a JSON object", label);
    VS_TRY(read_model(tok, vs_json_get(root, "model"), label));
    VS_TRY(read_added(tok, vs_json_get(root, "added_tokens"), label));
    VS_TRY(read_normalizer(tok, vs_json_get(root, "normalizer"), label));
    VS_TRY(read_pre_tokenizer(tok, vs_json_get(root, "pre_tokenizer"), label));
    VS_TRY(read_post(tok, vs_json_get(root, "post_processor"), label));
    const vs_json *padding = vs_json_get(root, "padding");
    int64_t pad = -1;
    if (padding && vs_json_typeof(padding) == VS_JSON_OBJECT) vs_json_int64(vs_json_get(padding, "pad_id"), &pad);
    if (pad < 0 || pad >= tok->n_pieces) pad = vs_tok_find_piece(tok, "<pad>");
    tok->pad_id = pad >= 0 ? (int)pad : 0;
    return vs_tok_finish(tok, label);
}

vs_status vs_tokenizer_load_json(vs_tokenizer **out, const char *text, size_t len, const char *label) {
    *out = NULL;
    vs_json_doc *doc;
    VS_TRY(vs_json_parse(&doc, text, len, label));
    vs_tokenizer *tok = vs_tok_new(1);
    if (!tok) {
        vs_json_free(doc);
        return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
    }
    vs_status s = parse_json(tok, vs_json_root(doc), label);
    vs_json_free(doc);
    if (s != VS_OK) {
        vs_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return VS_OK;
}

vs_status vs_tok_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vs_fail(VS_ERR_IO, "%s: cannot open", path);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return vs_fail(VS_ERR_IO, "%s: cannot determine the size", path);
    }
    *data = malloc((size_t)size + 1);
    if (!*data) {
        fclose(f);
        return vs_fail(VS_ERR_OOM, "%s: out of memory reading %ld bytes", path, size);
    }
    size_t got = fread(*data, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(*data);
        *data = NULL;
        return vs_fail(VS_ERR_IO, "%s: short read", path);
    }
    (*data)[got] = 0;
    *len = got;
    return VS_OK;
}

static int is_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

vs_status vs_tokenizer_load(vs_tokenizer **out, const char *path) {
    *out = NULL;
    char file[4096];
    int json;
    if (ends_with(path, ".json") || ends_with(path, ".model")) {
        snprintf(file, sizeof file, "%s", path);
        json = ends_with(path, ".json");
    } else {
        snprintf(file, sizeof file, "%s/tokenizer.json", path);
        json = is_file(file);
        if (!json) snprintf(file, sizeof file, "%s/spiece.model", path);
        if (!is_file(file))
            return vs_fail(VS_ERR_NOT_FOUND, "%s: no tokenizer.json or spiece.model in this folder", path);
    }
    char *data;
    size_t len = 0;
    VS_TRY(vs_tok_read_file(file, &data, &len));
    vs_status s = json ? vs_tokenizer_load_json(out, data, len, file) : vs_tokenizer_load_spm(out, data, len, file);
    free(data);
    return s;
}
