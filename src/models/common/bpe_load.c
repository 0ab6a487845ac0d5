/* Loading a byte-level BPE tokenizer (bpe.h): tokenizer.json, or CLIP's
 * vocab.json + merges.txt, and the padding settings of tokenizer_config.json.
 * The normalizer and pre-tokenizer must be exactly Llama 3's or CLIP's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/status.h"
#include "models/common/bpe_internal.h"

#define OOM() vs_fail(VS_ERR_OOM, "BPE tokenizer: out of memory")

static const char LLAMA3_REGEX[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                   "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char CLIP_REGEX[] = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|"
                                 "[^\\s\\p{L}\\p{N}]+";

static uint32_t hash_bytes(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int32_t vs_bpe_lookup(const vs_bpe *t, const char *s, size_t len) {
    if (!t->vocab_slots) return -1;
    for (uint32_t h = hash_bytes(s, len) & t->vocab_mask;; h = (h + 1) & t->vocab_mask) {
        int32_t id = t->vocab_slots[h];
        if (id < 0) return -1;
        if (t->tok_len[id] == len && !memcmp(t->pool + t->tok_off[id], s, len)) return id;
    }
}

int vs_bpe_match_added(const vs_bpe *t, const uint32_t *c, size_t n, int normalized) {
    int best = -1;
    for (int i = 0; i < t->n_added; i++) {
        const vs_bpe_added *a = &t->added[i];
        if (a->normalized != normalized || a->n_cps > n || a->cps[0] != c[0]) continue;
        if ((best < 0 || a->n_cps > t->added[best].n_cps) && !memcmp(a->cps, c, a->n_cps * sizeof *c)) best = i;
    }
    return best;
}

int vs_bpe_vocab_size(const vs_bpe *t) { return t->n_ids; }

int vs_bpe_token_id(const vs_bpe *t, const char *text) {
    size_t len = strlen(text);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == len && !memcmp(t->added[i].text, text, len)) return t->added[i].id;
    return vs_bpe_lookup(t, text, len);
}

vs_status vs_bpe_set_padding(vs_bpe *t, int pad_id, int right) {
    if (pad_id < -1 || pad_id >= t->n_ids)
        return vs_fail(VS_ERR_INVALID_ARG, "BPE tokenizer: pad id %d is outside the vocabulary of %d", pad_id, t->n_ids);
    t->pad_id = pad_id;
    t->pad_right = right;
    return VS_OK;
}

void vs_bpe_free(vs_bpe *t) {
    if (!t) return;
    free(t->pool);
    free(t->tok_off);
    free(t->tok_len);
    free(t->vocab_slots);
    free(t->merges);
    for (int i = 0; i < t->n_added; i++) {
        free(t->added[i].text);
        free(t->added[i].cps);
    }
    free(t->added);
    free(t);
}

/* ---- building the tables ---------------------------------------------------------------- */

/* Stores `text` as the string of `id` (growing the id range). */
static vs_status set_token(vs_bpe *t, int64_t id, const char *text, size_t len, const char *label) {
    if (id < 0 || id >= (1 << 24)) return vs_fail(VS_ERR_FORMAT, "%s: token id %lld is out of range", label, (long long)id);
    if (id >= t->n_ids) {
        int n = (int)id + 1;
        uint32_t *off = realloc(t->tok_off, (size_t)n * sizeof *off), *ln;
        if (!off) return OOM();
        t->tok_off = off;
        if (!(ln = realloc(t->tok_len, (size_t)n * sizeof *ln))) return OOM();
        t->tok_len = ln;
        for (int i = t->n_ids; i < n; i++) t->tok_off[i] = t->tok_len[i] = 0;
        t->n_ids = n;
    }
    char *p = realloc(t->pool, t->pool_len + len + 1);
    if (!p) return OOM();
    t->pool = p;
    memcpy(p + t->pool_len, text, len);
    p[t->pool_len + len] = 0;
    t->tok_off[id] = (uint32_t)t->pool_len;
    t->tok_len[id] = (uint32_t)len;
    t->pool_len += len + 1;
    return VS_OK;
}

static uint32_t table_size(size_t n) {
    uint32_t size = 64;
    while (size < 2 * n + 1) size *= 2;
    return size;
}

/* The model vocabulary: an object of token -> id. */
static vs_status read_vocab(vs_bpe *t, const vs_json *vocab, const char *label) {
    if (!vocab || vs_json_typeof(vocab) != VS_JSON_OBJECT || vs_json_size(vocab) == 0)
        return vs_fail(VS_ERR_FORMAT, "%s: the BPE model has no \"vocab\" object", label);
    const size_t n = vs_json_size(vocab);
    const uint32_t size = table_size(n);
    t->vocab_slots = malloc(size * sizeof *t->vocab_slots);
    if (!t->vocab_slots) return OOM();
    memset(t->vocab_slots, 0xFF, size * sizeof *t->vocab_slots);
    t->vocab_mask = size - 1;
    for (size_t i = 0; i < n; i++) {
        const char *key = vs_json_key_at(vocab, i);
        int64_t id;
        if (!vs_json_int64(vs_json_at(vocab, i), &id) || id < 0 || id >= (1 << 24))
            return vs_fail(VS_ERR_FORMAT, "%s: vocab entry \"%s\" has no id in 0..2^24", label, key);
        const size_t len = strlen(key);
        if (vs_bpe_lookup(t, key, len) >= 0) return vs_fail(VS_ERR_FORMAT, "%s: vocab entry \"%s\" appears twice", label, key);
        if (id < t->n_ids && t->tok_len[id]) return vs_fail(VS_ERR_FORMAT, "%s: vocab id %lld is used twice", label, (long long)id);
        VS_TRY(set_token(t, id, key, len, label));
        uint32_t h = hash_bytes(key, len) & t->vocab_mask;
        while (t->vocab_slots[h] >= 0) h = (h + 1) & t->vocab_mask;
        t->vocab_slots[h] = (int32_t)id;
    }
    return VS_OK;
}

/* Merges in rank order, each "a b" (a string) or ["a", "b"]; a later
 * duplicate of a pair replaces the earlier one, as in tokenizers. */
typedef struct {
    const char *a, *b;
    size_t a_len, b_len;
} merge_text;

static vs_status add_merges(vs_bpe *t, const merge_text *m, size_t n, const char *label) {
    const uint32_t size = table_size(n);
    t->merges = malloc(size * sizeof *t->merges);
    if (!t->merges) return OOM();
    for (uint32_t i = 0; i < size; i++) t->merges[i].rank = -1;
    t->merge_mask = size - 1;
    char *joined = NULL;
    size_t cap = 0;
    for (size_t r = 0; r < n; r++) {
        int32_t a = vs_bpe_lookup(t, m[r].a, m[r].a_len), b = vs_bpe_lookup(t, m[r].b, m[r].b_len);
        if (!joined ||
            m[r].a_len + m[r].b_len > cap) { /* allocated even for two empty halves: memcpy needs it */
            free(joined);
            cap = 2 * (m[r].a_len + m[r].b_len) + 1;
            if (!(joined = malloc(cap))) return OOM();
        }
        memcpy(joined, m[r].a, m[r].a_len);
        memcpy(joined + m[r].a_len, m[r].b, m[r].b_len);
        int32_t merged = vs_bpe_lookup(t, joined, m[r].a_len + m[r].b_len);
        if (a < 0 || b < 0 || merged < 0) {
            free(joined);
            return vs_fail(VS_ERR_FORMAT, "%s: merge %zu (\"%.*s %.*s\") uses a token outside the vocabulary", label, r,
                           (int)m[r].a_len, m[r].a, (int)m[r].b_len, m[r].b);
        }
        uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
        uint32_t h = (uint32_t)(key * 0x9E3779B97F4A7C15ull >> 32) & t->merge_mask;
        while (t->merges[h].rank >= 0 && t->merges[h].key != key) h = (h + 1) & t->merge_mask;
        t->merges[h] = (vs_bpe_merge){key, (int32_t)r, merged};
    }
    free(joined);
    return VS_OK;
}

static vs_status read_merges_json(vs_bpe *t, const vs_json *list, const char *label) {
    if (!list || vs_json_typeof(list) != VS_JSON_ARRAY) return vs_fail(VS_ERR_FORMAT, "%s: the BPE model has no \"merges\" array", label);
    const size_t n = vs_json_size(list);
    merge_text *m = calloc(n ? n : 1, sizeof *m);
    if (!m) return OOM();
    for (size_t i = 0; i < n; i++) {
        const vs_json *e = vs_json_at(list, i);
        size_t len = 0;
        const char *s = vs_json_string(e, &len), *space = s ? memchr(s, ' ', len) : NULL;
        if (space) { /* "a b" */
            m[i] = (merge_text){s, space + 1, (size_t)(space - s), len - (size_t)(space - s) - 1};
        } else if (vs_json_typeof(e) == VS_JSON_ARRAY && vs_json_size(e) == 2 && vs_json_string(vs_json_at(e, 0), &m[i].a_len) &&
                   vs_json_string(vs_json_at(e, 1), &m[i].b_len)) {
            m[i].a = vs_json_string(vs_json_at(e, 0), &m[i].a_len);
            m[i].b = vs_json_string(vs_json_at(e, 1), &m[i].b_len);
        } else {
            free(m);
            return vs_fail(VS_ERR_FORMAT, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", label, i);
        }
    }
    vs_status s = add_merges(t, m, n, label);
    free(m);
    return s;
}

/* GPT-2's byte-to-character map: printable Latin-1 bytes stand for
 * themselves, the others for U+0100 onwards in byte order. */
static vs_status byte_tables(vs_bpe *t) {
    int next = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        t->byte_char[b] = printable ? (uint32_t)b : (uint32_t)(256 + next++);
        char s[8];
        size_t n = 0;
        uint32_t cp = t->byte_char[b];
        if (cp < 0x80) {
            s[n++] = (char)cp;
        } else {
            s[n++] = (char)(0xC0 | cp >> 6);
            s[n++] = (char)(0x80 | (cp & 0x3F));
        }
        t->byte_id[b] = vs_bpe_lookup(t, s, n);
        memcpy(s + n, "</w>", 4);
        t->byte_eow_id[b] = t->eow ? vs_bpe_lookup(t, s, n + 4) : -1;
    }
    return VS_OK;
}

static vs_status add_added(vs_bpe *t, const char *text, size_t len, int64_t id, int normalized, const char *label) {
    if (len == 0 || id < 0 || id >= (1 << 24)) return vs_fail(VS_ERR_FORMAT, "%s: an added token needs content and an id", label);
    vs_bpe_added *p = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *p);
    if (!p) return OOM();
    t->added = p;
    vs_bpe_added *a = &t->added[t->n_added];
    *a = (vs_bpe_added){.len = len, .id = (int32_t)id, .normalized = normalized};
    a->text = malloc(len + 1);
    a->cps = malloc(len * sizeof *a->cps);
    if (!a->text || !a->cps) {
        free(a->text);
        free(a->cps);
        return OOM();
    }
    t->n_added++;
    memcpy(a->text, text, len);
    a->text[len] = 0;
    for (size_t pos = 0; pos < len;) {
        size_t k = vs_tok_utf8_decode((const unsigned char *)text + pos, len - pos, &a->cps[a->n_cps]);
        if (!k) return vs_fail(VS_ERR_FORMAT, "%s: added token %lld is not valid UTF-8", label, (long long)id);
        a->n_cps++;
        pos += k;
    }
    if (id >= t->n_ids || !t->tok_len[id]) VS_TRY(set_token(t, id, text, len, label));
    return VS_OK;
}

/* ---- tokenizer.json ---------------------------------------------------------------------- */

static int flag(const vs_json *o, const char *key) {
    const vs_json *v = vs_json_get(o, key);
    return v && vs_json_bool(v);
}

static vs_status read_model(vs_bpe *t, const vs_json *m, const char *label) {
    if (!m || vs_json_typeof(m) != VS_JSON_OBJECT) return vs_fail(VS_ERR_FORMAT, "%s: no \"model\" object", label);
    const char *type = vs_json_get_string(m, "type", "");
    if (strcmp(type, "BPE")) return vs_fail(VS_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (BPE only)", label, type);
    const char *eow = vs_json_get_string(m, "end_of_word_suffix", ""), *prefix = vs_json_get_string(m, "continuing_subword_prefix", "");
    if (*eow && strcmp(eow, "</w>"))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: end_of_word_suffix \"%s\" is not supported (only \"</w>\")", label, eow);
    if (*prefix) return vs_fail(VS_ERR_UNSUPPORTED, "%s: continuing_subword_prefix \"%s\" is not supported", label, prefix);
    if (flag(m, "byte_fallback") || flag(m, "fuse_unk"))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: byte_fallback and fuse_unk are not supported", label);
    const vs_json *dropout = vs_json_get(m, "dropout");
    if (dropout && vs_json_typeof(dropout) != VS_JSON_NULL)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: BPE dropout is not supported", label);
    t->eow = *eow != 0;
    t->ignore_merges = flag(m, "ignore_merges");
    VS_TRY(read_vocab(t, vs_json_get(m, "vocab"), label));
    VS_TRY(read_merges_json(t, vs_json_get(m, "merges"), label));
    const char *unk = vs_json_get_string(m, "unk_token", NULL);
    t->unk_id = unk ? vs_bpe_lookup(t, unk, strlen(unk)) : -1;
    if (unk && t->unk_id < 0) return vs_fail(VS_ERR_FORMAT, "%s: unk_token \"%s\" is not in the vocabulary", label, unk);
    return VS_OK;
}

static vs_status read_added(vs_bpe *t, const vs_json *list, const char *label) {
    if (!list || vs_json_typeof(list) == VS_JSON_NULL) return VS_OK;
    if (vs_json_typeof(list) != VS_JSON_ARRAY) return vs_fail(VS_ERR_FORMAT, "%s: \"added_tokens\" is not an array", label);
    for (size_t i = 0; i < vs_json_size(list); i++) {
        const vs_json *a = vs_json_at(list, i);
        size_t len = 0;
        const char *content = vs_json_string(vs_json_get(a, "content"), &len);
        int64_t id;
        if (!content || !vs_json_int64(vs_json_get(a, "id"), &id))
            return vs_fail(VS_ERR_FORMAT, "%s: added token %zu needs content and an id", label, i);
        const char *unsupported[] = {"lstrip", "rstrip", "single_word"};
        for (int f = 0; f < 3; f++)
            if (flag(a, unsupported[f]))
                return vs_fail(VS_ERR_UNSUPPORTED, "%s: added token \"%s\" sets %s, which is not supported", label, content,
                               unsupported[f]);
        VS_TRY(add_added(t, content, len, id, flag(a, "normalized"), label));
    }
    return VS_OK;
}

/* Flattens Sequences into up to 8 components. */
static int flatten(const vs_json *n, const char *list_key, const vs_json **out, int max) {
    if (!n || vs_json_typeof(n) == VS_JSON_NULL) return 0;
    if (strcmp(vs_json_get_string(n, "type", ""), "Sequence")) {
        out[0] = n;
        return 1;
    }
    const vs_json *list = vs_json_get(n, list_key);
    int count = 0;
    for (size_t i = 0; list && i < vs_json_size(list); i++) {
        if (count >= max) return max + 1;
        int k = flatten(vs_json_at(list, i), list_key, out + count, max - count);
        if (k > max - count) return max + 1;
        count += k;
    }
    return count;
}

static int is_type(const vs_json *n, const char *type) { return !strcmp(vs_json_get_string(n, "type", ""), type); }

static int regex_is(const vs_json *n, const char *regex) {
    const char *p = vs_json_get_string(vs_json_get(n, "pattern"), "Regex", NULL);
    return p && !strcmp(p, regex);
}

/* Llama 3: no normalizer; Split(Llama 3 regex, Isolated) + ByteLevel without its regex.
 * CLIP: NFC, Replace(\s+, " "), Lowercase; Split(CLIP regex, Removed, inverted) + ByteLevel
 * (its GPT-2 regex, when on, splits only CLIP's literal <|startoftext|> and <|endoftext|> pieces). */
static vs_status read_pipeline(vs_bpe *t, const vs_json *root, const char *label) {
    const vs_json *norm[9], *pre[9];
    int n_norm = flatten(vs_json_get(root, "normalizer"), "normalizers", norm, 8);
    int n_pre = flatten(vs_json_get(root, "pre_tokenizer"), "pretokenizers", pre, 8);
    const int clip_norm = n_norm == 3 && is_type(norm[0], "NFC") && is_type(norm[1], "Replace") && regex_is(norm[1], "\\s+") &&
                          !strcmp(vs_json_get_string(norm[1], "content", ""), " ") && is_type(norm[2], "Lowercase");
    const int split = n_pre == 2 && is_type(pre[0], "Split") && is_type(pre[1], "ByteLevel") && !flag(pre[1], "add_prefix_space");
    const char *behavior = split ? vs_json_get_string(pre[0], "behavior", "") : "";
    if (split && n_norm == 0 && regex_is(pre[0], LLAMA3_REGEX) && !strcmp(behavior, "Isolated") && !flag(pre[0], "invert") &&
        !flag(pre[1], "use_regex")) {
        t->clip = 0;
        return VS_OK;
    }
    if (split && clip_norm && regex_is(pre[0], CLIP_REGEX) && !strcmp(behavior, "Removed") && flag(pre[0], "invert")) {
        t->clip = 1;
        const vs_json *re = vs_json_get(pre[1], "use_regex");
        t->byte_regex = !re || vs_json_bool(re); /* on by default */
        t->pad_id = vs_bpe_token_id(t, "<|endoftext|>"); /* CLIPTokenizer's pad token */
        return VS_OK;
    }
    return vs_fail(VS_ERR_UNSUPPORTED,
                   "%s: the normalizer and pre-tokenizer are neither Llama 3's nor CLIP's (only those two are supported)", label);
}

static vs_status push_special(vs_bpe *t, int suffix, int64_t id, const char *label) {
    int32_t *dst = suffix ? t->suffix : t->prefix;
    int *count = suffix ? &t->n_suffix : &t->n_prefix;
    if (*count == 4) return vs_fail(VS_ERR_UNSUPPORTED, "%s: more than 4 special tokens around the text", label);
    if (id < 0 || id >= t->n_ids) return vs_fail(VS_ERR_FORMAT, "%s: special token id %lld is outside the vocabulary", label, (long long)id);
    dst[(*count)++] = (int32_t)id;
    return VS_OK;
}

static vs_status read_post(vs_bpe *t, const vs_json *p, const char *label) {
    const vs_json *parts[9];
    int n = flatten(p, "processors", parts, 8);
    for (int i = 0; i < n && i < 8; i++) {
        if (is_type(parts[i], "ByteLevel")) continue; /* only trims offsets */
        if (is_type(parts[i], "TemplateProcessing")) {
            VS_TRY(vs_tok_read_template(parts[i], t->n_ids, t->prefix, &t->n_prefix, t->suffix, &t->n_suffix, label));
        } else if (is_type(parts[i], "RobertaProcessing")) { /* cls $A sep */
            const vs_json *cls = vs_json_get(parts[i], "cls"), *sep = vs_json_get(parts[i], "sep");
            int64_t a = -1, b = -1;
            if (!cls || !sep || !vs_json_int64(vs_json_at(cls, 1), &a) || !vs_json_int64(vs_json_at(sep, 1), &b))
                return vs_fail(VS_ERR_FORMAT, "%s: RobertaProcessing without [token, id] cls and sep", label);
            VS_TRY(push_special(t, 0, a, label));
            VS_TRY(push_special(t, 1, b, label));
        } else {
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: post_processor type \"%s\" is not supported", label,
                           vs_json_get_string(parts[i], "type", "?"));
        }
    }
    return n > 8 ? vs_fail(VS_ERR_UNSUPPORTED, "%s: too many post-processors", label) : VS_OK;
}

static vs_status finish(vs_bpe **out, vs_bpe *t, vs_status s) {
    if (s == VS_OK) s = byte_tables(t);
    if (s != VS_OK) {
        vs_bpe_free(t);
        return s;
    }
    *out = t;
    return VS_OK;
}

static vs_bpe *new_bpe(void) {
    vs_bpe *t = calloc(1, sizeof *t);
    if (t) {
        t->unk_id = -1;
        t->pad_id = -1;
        t->pad_right = 1;
    }
    return t;
}

vs_status vs_bpe_load_json(vs_bpe **out, const char *text, size_t len, const char *label) {
    *out = NULL;
    vs_json_doc *doc;
    VS_TRY(vs_json_parse(&doc, text, len, label));
    vs_bpe *t = new_bpe();
    if (!t) {
        vs_json_free(doc);
        return OOM();
    }
    const vs_json *root = vs_json_root(doc);
    vs_status s = vs_json_typeof(root) == VS_JSON_OBJECT ? VS_OK : vs_fail(VS_ERR_FORMAT, "%s: not a JSON object", label);
    if (s == VS_OK) s = read_model(t, vs_json_get(root, "model"), label);
    if (s == VS_OK) s = read_added(t, vs_json_get(root, "added_tokens"), label);
    if (s == VS_OK) s = read_pipeline(t, root, label);
    if (s == VS_OK) s = read_post(t, vs_json_get(root, "post_processor"), label);
    vs_json_free(doc);
    return finish(out, t, s);
}

/* ---- vocab.json + merges.txt (CLIP) --------------------------------------------------------- */

vs_status vs_bpe_load_vocab_merges(vs_bpe **out, const char *vocab_json, size_t vocab_len, const char *merges,
                                   size_t merges_len, const char *label) {
    *out = NULL;
    vs_json_doc *doc;
    VS_TRY(vs_json_parse(&doc, vocab_json, vocab_len, label));
    vs_bpe *t = new_bpe();
    merge_text *m = NULL;
    size_t n = 0, cap = 0;
    vs_status s = t ? VS_OK : OOM();
    if (s == VS_OK) {
        t->clip = t->eow = t->byte_regex = 1;
        s = read_vocab(t, vs_json_root(doc), label);
    }
    for (size_t pos = 0, line = 1; s == VS_OK && pos < merges_len; line++) { /* "#version..." then "a b" per line */
        const char *start = merges + pos, *nl = memchr(start, '\n', merges_len - pos);
        size_t len = nl ? (size_t)(nl - start) : merges_len - pos;
        pos += len + 1;
        if (len && start[len - 1] == '\r') len--;
        if (len == 0 || (line == 1 && len >= 8 && !memcmp(start, "#version", 8))) continue;
        const char *space = memchr(start, ' ', len);
        if (!space || memchr(space + 1, ' ', len - (size_t)(space - start) - 1)) {
            s = vs_fail(VS_ERR_FORMAT, "%s: merges line %zu is not \"a b\"", label, line);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            merge_text *p = realloc(m, cap * sizeof *p);
            if (!p) {
                s = OOM();
                break;
            }
            m = p;
        }
        m[n++] = (merge_text){start, space + 1, (size_t)(space - start), len - (size_t)(space - start) - 1};
    }
    if (s == VS_OK) s = add_merges(t, m, n, label);
    free(m);
    vs_json_free(doc);
    /* What transformers' CLIPTokenizer adds: its special tokens and template. */
    const char *names[] = {"<|startoftext|>", "<|endoftext|>"};
    int32_t ids[2] = {-1, -1};
    for (int i = 0; i < 2 && s == VS_OK; i++) {
        ids[i] = vs_bpe_lookup(t, names[i], strlen(names[i]));
        if (ids[i] < 0) s = vs_fail(VS_ERR_FORMAT, "%s: the vocabulary lacks %s", label, names[i]);
        else s = add_added(t, names[i], strlen(names[i]), ids[i], 0, label);
    }
    if (s == VS_OK) {
        t->unk_id = ids[1];
        t->pad_id = ids[1];
        t->prefix[t->n_prefix++] = ids[0];
        t->suffix[t->n_suffix++] = ids[1];
    }
    return t ? finish(out, t, s) : s;
}

/* ---- a folder ------------------------------------------------------------------------------- */

static int is_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* pad_token (a string or {"content": ...}) and padding_side; LlamaTokenizer pads on the left by default. */
static vs_status read_config(vs_bpe *t, const char *dir) {
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (!is_file(path)) return VS_OK;
    vs_json_doc *doc;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *r = vs_json_root(doc), *pad = vs_json_get(r, "pad_token");
    const char *cls = vs_json_get_string(r, "tokenizer_class", "");
    const char *side = vs_json_get_string(r, "padding_side", !strncmp(cls, "Llama", 5) ? "left" : "right");
    const char *pad_text = pad && vs_json_typeof(pad) == VS_JSON_OBJECT ? vs_json_get_string(pad, "content", NULL)
                                                                        : vs_json_string(pad, NULL);
    vs_status s = VS_OK;
    int pad_id = t->pad_id;
    if (pad_text && (pad_id = vs_bpe_token_id(t, pad_text)) < 0)
        s = vs_fail(VS_ERR_FORMAT, "%s: pad_token \"%s\" is not a token", path, pad_text);
    if (s == VS_OK && strcmp(side, "left") && strcmp(side, "right"))
        s = vs_fail(VS_ERR_FORMAT, "%s: padding_side \"%s\" is neither left nor right", path, side);
    if (s == VS_OK) s = vs_bpe_set_padding(t, pad_id, !strcmp(side, "right"));
    vs_json_free(doc);
    return s;
}

vs_status vs_bpe_load(vs_bpe **out, const char *path) {
    *out = NULL;
    char file[4096], merges_path[4096], dir[4096];
    size_t n = strlen(path);
    const int json_file = n >= 5 && !strcmp(path + n - 5, ".json");
    snprintf(dir, sizeof dir, "%s", path);
    if (json_file) {
        char *slash = strrchr(dir, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - dir) : 1, slash ? path : ".");
    }
    snprintf(file, sizeof file, json_file ? "%s" : "%s/tokenizer.json", path);
    snprintf(merges_path, sizeof merges_path, "%s/merges.txt", path);
    char *data = NULL, *merges = NULL;
    size_t len = 0, merges_len = 0;
    vs_status s;
    if (json_file || is_file(file)) {
        VS_TRY(vs_tok_read_file(file, &data, &len));
        s = vs_bpe_load_json(out, data, len, file);
    } else {
        snprintf(file, sizeof file, "%s/vocab.json", path);
        if (!is_file(file) || !is_file(merges_path))
            return vs_fail(VS_ERR_NOT_FOUND, "%s: no tokenizer.json, nor vocab.json with merges.txt, in this folder", path);
        VS_TRY(vs_tok_read_file(file, &data, &len));
        s = vs_tok_read_file(merges_path, &merges, &merges_len);
        if (s == VS_OK) s = vs_bpe_load_vocab_merges(out, data, len, merges, merges_len, file);
    }
    free(data);
    free(merges);
    if (s == VS_OK) s = read_config(*out, dir);
    if (s != VS_OK) {
        vs_bpe_free(*out);
        *out = NULL;
    }
    return s;
}
