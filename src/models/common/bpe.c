/* Byte-level BPE (see bpe.h): normalization, the two pre-tokenizer regexes
 * written out as matchers, byte-level symbols and merges by rank. Loading
 * lives in bpe_load.c. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "models/common/bpe_internal.h"
#include "models/common/unicode_bpe.h"

#define OOM() vs_fail(VS_ERR_OOM, "BPE tokenizer: out of memory")

/* ---- growable arrays --------------------------------------------------------------- */

int vs_bpe_u32_push(vs_bpe_u32 *v, uint32_t x) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        uint32_t *p = realloc(v->p, cap * sizeof *p);
        if (!p) return -1;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->len++] = x;
    return 0;
}

/* ---- Unicode ------------------------------------------------------------------------ */

static int class_of(uint32_t cp) {
    int lo = 0, hi = vs_unicode_class_range_count - 1;
    if (cp < 0x80) { /* the common case, without the search */
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return VS_UCLASS_SPACE;
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return VS_UCLASS_LETTER;
        return cp >= '0' && cp <= '9' ? VS_UCLASS_NUMBER : 0;
    }
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < vs_unicode_class_ranges[mid].lo) hi = mid - 1;
        else if (cp > vs_unicode_class_ranges[mid].hi) lo = mid + 1;
        else return vs_unicode_class_ranges[mid].value;
    }
    return 0;
}

static int is_letter(uint32_t cp) { return (class_of(cp) & VS_UCLASS_LETTER) != 0; }
static int is_number(uint32_t cp) { return (class_of(cp) & VS_UCLASS_NUMBER) != 0; }
static int is_space(uint32_t cp) { return (class_of(cp) & VS_UCLASS_SPACE) != 0; }
/* [^\s\p{L}\p{N}] */
static int is_other(uint32_t cp) { return class_of(cp) == 0; }
static int is_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

static int ccc_of(uint32_t cp) {
    int lo = 0, hi = vs_unicode_ccc_range_count - 1;
    if (cp < 0x300) return 0;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < vs_unicode_ccc_ranges[mid].lo) hi = mid - 1;
        else if (cp > vs_unicode_ccc_ranges[mid].hi) lo = mid + 1;
        else return vs_unicode_ccc_ranges[mid].value;
    }
    return 0;
}

static const vs_unicode_decomp *find_decomp(uint32_t cp) {
    int lo = 0, hi = vs_unicode_decomp_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < vs_unicode_decomps[mid].cp) hi = mid - 1;
        else if (cp > vs_unicode_decomps[mid].cp) lo = mid + 1;
        else return &vs_unicode_decomps[mid];
    }
    return NULL;
}

/* Hangul syllables decompose and compose algorithmically (Unicode 3.12). */
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21, TCOUNT = 28,
       SCOUNT = LCOUNT * VCOUNT * TCOUNT };

static int decompose(uint32_t cp, vs_bpe_u32 *out) {
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE, t = s % TCOUNT;
        if (vs_bpe_u32_push(out, LBASE + s / (VCOUNT * TCOUNT)) || vs_bpe_u32_push(out, VBASE + s % (VCOUNT * TCOUNT) / TCOUNT))
            return -1;
        return t ? vs_bpe_u32_push(out, TBASE + t) : 0;
    }
    const vs_unicode_decomp *d = find_decomp(cp);
    if (!d) return vs_bpe_u32_push(out, cp);
    if (decompose(d->a, out)) return -1;
    return d->b ? decompose(d->b, out) : 0;
}

static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    int lo = 0, hi = vs_unicode_composition_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const vs_unicode_decomp *c = &vs_unicode_compositions[mid];
        if (a < c->cp || (a == c->cp && b < c->a)) hi = mid - 1; /* sorted by (cp=a, a=b) */
        else if (a > c->cp || b > c->a) lo = mid + 1;
        else return c->b;
    }
    return 0;
}

/* NFC in place on code points: full canonical decomposition, canonical
 * ordering of combining marks, then composition of unblocked pairs. */
static int nfc(vs_bpe_u32 *cps) {
    vs_bpe_u32 d = {0};
    for (size_t i = 0; i < cps->len; i++)
        if (decompose(cps->p[i], &d)) {
            free(d.p);
            return -1;
        }
    for (size_t i = 1; i < d.len; i++) { /* stable insertion sort of each run of non-starters */
        int cc = ccc_of(d.p[i]);
        if (!cc) continue;
        for (size_t j = i; j > 0 && ccc_of(d.p[j - 1]) > cc; j--) {
            uint32_t t = d.p[j];
            d.p[j] = d.p[j - 1];
            d.p[j - 1] = t;
        }
    }
    size_t k = 0; /* composed in place: the output never runs ahead of the input */
    long starter = -1;
    int last_cc = -1; /* -1: nothing between the starter and here */
    for (size_t i = 0; i < d.len; i++) {
        uint32_t ch = d.p[i], comp;
        int cc = ccc_of(ch);
        if (starter >= 0 && (last_cc == -1 || (last_cc != 0 && last_cc < cc)) && (comp = compose(d.p[starter], ch))) {
            d.p[starter] = comp;
            continue;
        }
        d.p[k++] = ch;
        if (cc == 0) {
            starter = (long)k - 1;
            last_cc = -1;
        } else {
            last_cc = cc;
        }
    }
    d.len = k;
    free(cps->p);
    *cps = d;
    return 0;
}

static int push_lower(vs_bpe_u32 *out, uint32_t cp) {
    int lo = 0, hi = vs_unicode_lower_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < vs_unicode_lowers[mid].cp) hi = mid - 1;
        else if (cp > vs_unicode_lowers[mid].cp) lo = mid + 1;
        else {
            for (int k = 0; k < 3 && vs_unicode_lowers[mid].lower[k]; k++)
                if (vs_bpe_u32_push(out, vs_unicode_lowers[mid].lower[k])) return -1;
            return 0;
        }
    }
    return vs_bpe_u32_push(out, cp);
}

/* CLIP's normalizers: NFC, every \s+ run to one space, lower case. */
static int clip_normalize(vs_bpe_u32 *cps) {
    if (nfc(cps)) return -1;
    vs_bpe_u32 out = {0};
    for (size_t i = 0; i < cps->len; i++) {
        if (is_space(cps->p[i])) {
            while (i + 1 < cps->len && is_space(cps->p[i + 1])) i++;
            if (vs_bpe_u32_push(&out, ' ')) goto oom;
        } else if (push_lower(&out, cps->p[i])) {
            goto oom;
        }
    }
    free(cps->p);
    *cps = out;
    return 0;
oom:
    free(out.p);
    return -1;
}

/* ---- the pre-tokenizers, as matchers of their regexes --------------------------------- */

/* End of Llama 3's match at i:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} |
 *   ' '?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * The alternatives are tried in order, as the regex engine does; together
 * they match every character, so nothing falls between matches. */
static size_t llama3_match(const uint32_t *c, size_t n, size_t i) {
    if (c[i] == '\'' && i + 1 < n) {
        uint32_t a = c[i + 1] | 0x20, b = i + 2 < n ? c[i + 2] | 0x20 : 0;
        if (a == 's' || c[i + 1] == 0x17F || a == 't' || a == 'm' || a == 'd') return i + 2; /* U+017F folds to s */
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    size_t j = i;
    if (!is_letter(c[i]) && !is_number(c[i]) && !is_crlf(c[i]) && i + 1 < n && is_letter(c[i + 1])) j = i + 1;
    if (is_letter(c[j])) {
        while (j < n && is_letter(c[j])) j++;
        return j;
    }
    if (is_number(c[i])) {
        for (j = i; j < n && j < i + 3 && is_number(c[j]); j++) {}
        return j;
    }
    j = c[i] == ' ' && i + 1 < n && is_other(c[i + 1]) ? i + 1 : i;
    if (is_other(c[j])) {
        while (j < n && is_other(c[j])) j++;
        while (j < n && is_crlf(c[j])) j++;
        return j;
    }
    size_t end = i, last_crlf = n; /* c[i] is white space: its run is [i, end) */
    while (end < n && is_space(c[end])) {
        if (is_crlf(c[end])) last_crlf = end;
        end++;
    }
    if (last_crlf < n) return last_crlf + 1;
    if (end == n || end - 1 == i) return end;
    return end - 1;
}

static int starts_with(const uint32_t *c, size_t n, size_t i, const char *lit) {
    size_t k = 0;
    for (; lit[k]; k++)
        if (i + k >= n || c[i + k] != (unsigned char)lit[k]) return 0;
    return 1;
}

/* CLIP's regex, matches kept and the rest (white space) dropped:
 *   <\|startoftext\|> | <\|endoftext\|> | 's|'t|'re|'ve|'m|'ll|'d | \p{L}+ | \p{N} | [^\s\p{L}\p{N}]+
 * Returns the match's end, or i when c[i] starts none (it is dropped). */
static size_t clip_match(const uint32_t *c, size_t n, size_t i) {
    if (starts_with(c, n, i, "<|startoftext|>")) return i + 15;
    if (starts_with(c, n, i, "<|endoftext|>")) return i + 13;
    if (c[i] == '\'' && i + 1 < n) {
        uint32_t a = c[i + 1], b = i + 2 < n ? c[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    size_t j = i;
    if (is_letter(c[i])) {
        while (j < n && is_letter(c[j])) j++;
        return j;
    }
    if (is_number(c[i])) return i + 1;
    while (j < n && is_other(c[j])) j++;
    return j;
}

/* ---- BPE over one pre-token --------------------------------------------------------- */

static int find_merge(const vs_bpe *t, int32_t a, int32_t b, int32_t *rank, int32_t *merged) {
    if (!t->merge_mask) return 0;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (uint32_t h = (uint32_t)(key * 0x9E3779B97F4A7C15ull >> 32) & t->merge_mask;; h = (h + 1) & t->merge_mask) {
        if (t->merges[h].rank < 0) return 0;
        if (t->merges[h].key == key) {
            *rank = t->merges[h].rank;
            *merged = t->merges[h].merged;
            return 1;
        }
    }
}

typedef struct {
    int32_t rank, pos, merged;
} merge_cand;

static int cand_less(merge_cand a, merge_cand b) { return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos; }

typedef struct {
    merge_cand *p;
    size_t len, cap;
} cand_heap;

static int heap_push(cand_heap *h, merge_cand c) {
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        merge_cand *p = realloc(h->p, cap * sizeof *p);
        if (!p) return -1;
        h->p = p;
        h->cap = cap;
    }
    size_t i = h->len++;
    while (i > 0 && cand_less(c, h->p[(i - 1) / 2])) {
        h->p[i] = h->p[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->p[i] = c;
    return 0;
}

static merge_cand heap_pop(cand_heap *h) {
    merge_cand top = h->p[0], last = h->p[--h->len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len) break;
        if (c + 1 < h->len && cand_less(h->p[c + 1], h->p[c])) c++;
        if (!cand_less(h->p[c], last)) break;
        h->p[i] = h->p[c];
        i = c;
    }
    if (h->len) h->p[i] = last;
    return top;
}

/* Appends the ids of the word w[0..n) (raw bytes): the whole word when
 * ignore_merges finds it, else one symbol per byte ("</w>" on the last for
 * CLIP; unknown symbols become unk, or are dropped without one) merged by
 * rank, lowest rank first and leftmost among equals, as tokenizers does. */
static int bpe_word(const vs_bpe *t, const unsigned char *w, size_t n, vs_bpe_u32 *out) {
    if (t->ignore_merges) {
        char *spelled = malloc(2 * n + 1); /* byte characters lie below U+0800: two bytes at most */
        if (!spelled) return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t cp = t->byte_char[w[i]];
            if (cp < 0x80) {
                spelled[k++] = (char)cp;
            } else {
                spelled[k++] = (char)(0xC0 | cp >> 6);
                spelled[k++] = (char)(0x80 | (cp & 0x3F));
            }
        }
        int32_t id = vs_bpe_lookup(t, spelled, k);
        free(spelled);
        if (id >= 0) return vs_bpe_u32_push(out, (uint32_t)id);
    }
    int32_t *sym = malloc(3 * n * sizeof *sym);
    if (!sym) return -1;
    int32_t *prev = sym + n, *next = sym + 2 * n;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = i + 1 == n && t->eow ? t->byte_eow_id[w[i]] : t->byte_id[w[i]];
        if (id < 0) id = t->unk_id;
        if (id < 0) continue;
        sym[m] = id;
        prev[m] = (int32_t)m - 1;
        next[m] = (int32_t)m + 1;
        m++;
    }
    if (m) next[m - 1] = -1;
    cand_heap heap = {0};
    int fail = 0;
    for (size_t i = 0; i + 1 < m && !fail; i++) {
        merge_cand c = {0, (int32_t)i, 0};
        if (find_merge(t, sym[i], sym[i + 1], &c.rank, &c.merged)) fail = heap_push(&heap, c);
    }
    while (heap.len && !fail) {
        merge_cand c = heap_pop(&heap);
        int32_t p = c.pos, q = next[p], rank, merged;
        if (sym[p] < 0 || q < 0 || !find_merge(t, sym[p], sym[q], &rank, &merged) || merged != c.merged) continue;
        sym[p] = merged;
        sym[q] = -1;
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        if (prev[p] >= 0 && find_merge(t, sym[prev[p]], merged, &rank, &merged))
            fail = heap_push(&heap, (merge_cand){rank, prev[p], merged});
        if (!fail && next[p] >= 0 && find_merge(t, sym[p], sym[next[p]], &rank, &merged))
            fail = heap_push(&heap, (merge_cand){rank, p, merged});
    }
    for (int32_t i = m ? 0 : -1; i >= 0 && !fail; i = next[i]) fail = vs_bpe_u32_push(out, (uint32_t)sym[i]);
    free(heap.p);
    free(sym);
    return fail;
}

/* ---- one stretch of text between added tokens ----------------------------------------- */

static int utf8_put(vs_bpe_u32 *bytes, uint32_t cp) {
    unsigned char b[4];
    int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n == 1) b[0] = (unsigned char)cp;
    else {
        for (int k = n - 1; k > 0; k--, cp >>= 6) b[k] = (unsigned char)(0x80 | (cp & 0x3F));
        b[0] = (unsigned char)((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | cp);
    }
    for (int k = 0; k < n; k++)
        if (vs_bpe_u32_push(bytes, b[k])) return -1;
    return 0;
}

/* Code points of valid UTF-8 s[0..len) (checked by the caller). */
static int decode_all(const char *s, size_t len, vs_bpe_u32 *cps) {
    for (size_t pos = 0; pos < len;) {
        uint32_t cp = 0;
        size_t k = vs_tok_utf8_decode((const unsigned char *)s + pos, len - pos, &cp);
        if (vs_bpe_u32_push(cps, cp)) return -1;
        pos += k;
    }
    return 0;
}

static vs_status encode_cps(const vs_bpe *t, const uint32_t *c, size_t n, vs_bpe_u32 *out);

/* Normalizes (CLIP), splits out normalized added tokens, pre-tokenizes and encodes s[0..len). */
static vs_status encode_segment(const vs_bpe *t, const char *s, size_t len, vs_bpe_u32 *out) {
    vs_bpe_u32 cps = {0};
    vs_status st = VS_OK;
    if (decode_all(s, len, &cps) || (t->clip && clip_normalize(&cps))) st = OOM();
    size_t seg = 0;
    for (size_t i = 0; i < cps.len && st == VS_OK;) { /* added tokens matched on the normalized text */
        int best = vs_bpe_match_added(t, cps.p + i, cps.len - i, 1);
        if (best < 0) {
            i++;
            continue;
        }
        st = encode_cps(t, cps.p + seg, i - seg, out);
        if (st == VS_OK && vs_bpe_u32_push(out, (uint32_t)t->added[best].id)) st = OOM();
        i += t->added[best].n_cps;
        seg = i;
    }
    if (st == VS_OK && cps.len > seg) st = encode_cps(t, cps.p + seg, cps.len - seg, out);
    free(cps.p);
    return st;
}

/* BPE of the piece c[i..end), through its UTF-8 bytes (word: a reused buffer). */
static int encode_piece(const vs_bpe *t, const uint32_t *c, size_t i, size_t end, vs_bpe_u32 *out, vs_bpe_u32 *bytes,
                        unsigned char **word, size_t *word_cap) {
    bytes->len = 0;
    for (size_t k = i; k < end; k++)
        if (utf8_put(bytes, c[k])) return -1;
    if (bytes->len > *word_cap) {
        free(*word);
        *word_cap = bytes->len * 2;
        if (!(*word = malloc(*word_cap))) return -1;
    }
    for (size_t k = 0; k < bytes->len; k++) (*word)[k] = (unsigned char)bytes->p[k];
    return bpe_word(t, *word, bytes->len, out);
}

/* Pre-tokenizes code points c[0..n) and appends each piece's BPE ids. */
static vs_status encode_cps(const vs_bpe *t, const uint32_t *c, size_t n, vs_bpe_u32 *out) {
    vs_bpe_u32 bytes = {0};
    int fail = 0;
    unsigned char *word = NULL;
    size_t word_cap = 0;
    for (size_t i = 0; i < n && !fail;) {
        size_t end = t->clip ? clip_match(c, n, i) : llama3_match(c, n, i);
        if (end == i) { /* dropped by CLIP's split */
            i++;
            continue;
        }
        if (t->clip && t->byte_regex && c[i] == '<' && end - i > 4 && c[i + 1] == '|') {
            /* A literal <|...|> piece: ByteLevel's GPT-2 regex splits it into "<|", the name, "|>". */
            size_t name_end = end - 2;
            if (encode_piece(t, c, i, i + 2, out, &bytes, &word, &word_cap) ||
                encode_piece(t, c, i + 2, name_end, out, &bytes, &word, &word_cap) ||
                encode_piece(t, c, name_end, end, out, &bytes, &word, &word_cap))
                fail = 1;
            i = end;
            continue;
        }
        fail = encode_piece(t, c, i, end, out, &bytes, &word, &word_cap);
        i = end;
    }
    free(word);
    free(bytes.p);
    return fail ? OOM() : VS_OK;
}

/* ---- public encoding ------------------------------------------------------------------ */

static vs_status encode_content(const vs_bpe *t, const char *text, size_t len, vs_bpe_u32 *out) {
    if (!text && len) return vs_fail(VS_ERR_INVALID_ARG, "BPE tokenizer: text is NULL");
    for (size_t pos = 0; pos < len;) {
        uint32_t cp;
        size_t n = vs_tok_utf8_decode((const unsigned char *)text + pos, len - pos, &cp);
        if (!n) return vs_fail(VS_ERR_INVALID_ARG, "BPE tokenizer: text is not valid UTF-8 (byte %zu)", pos);
        pos += n;
    }
    /* Added tokens that match the raw text split it first; the rest is normalized. */
    vs_bpe_u32 cps = {0};
    if (decode_all(text, len, &cps)) return OOM();
    size_t seg_byte = 0, byte = 0;
    vs_status st = VS_OK;
    for (size_t i = 0; i < cps.len && st == VS_OK;) {
        int best = vs_bpe_match_added(t, cps.p + i, cps.len - i, 0);
        if (best < 0) {
            byte += cps.p[i] < 0x80 ? 1 : cps.p[i] < 0x800 ? 2 : cps.p[i] < 0x10000 ? 3 : 4;
            i++;
            continue;
        }
        st = encode_segment(t, text + seg_byte, byte - seg_byte, out);
        if (st == VS_OK && vs_bpe_u32_push(out, (uint32_t)t->added[best].id)) st = OOM();
        i += t->added[best].n_cps;
        byte += t->added[best].len;
        seg_byte = byte;
    }
    if (st == VS_OK) st = encode_segment(t, text + seg_byte, len - seg_byte, out);
    free(cps.p);
    return st;
}

vs_status vs_bpe_encode(const vs_bpe *t, const char *text, size_t len, int32_t **ids, size_t *count) {
    *ids = NULL;
    *count = 0;
    vs_bpe_u32 v = {0};
    int fail = 0;
    for (int i = 0; i < t->n_prefix && !fail; i++) fail = vs_bpe_u32_push(&v, (uint32_t)t->prefix[i]);
    vs_status st = fail ? OOM() : encode_content(t, text, len, &v);
    for (int i = 0; i < t->n_suffix && st == VS_OK; i++)
        if (vs_bpe_u32_push(&v, (uint32_t)t->suffix[i])) st = OOM();
    const size_t n = v.len;
    if (st == VS_OK && !v.p && vs_bpe_u32_push(&v, 0)) st = OOM(); /* never hand back NULL on success */
    if (st != VS_OK) {
        free(v.p);
        return st;
    }
    *ids = (int32_t *)v.p;
    *count = n;
    return VS_OK;
}

vs_status vs_bpe_encode_padded(const vs_bpe *t, const char *text, size_t len, int max_length, int32_t *ids,
                               int32_t *mask, int *count) {
    const int special = t->n_prefix + t->n_suffix;
    if (max_length <= special)
        return vs_fail(VS_ERR_INVALID_ARG, "BPE tokenizer: max_length %d leaves no room next to %d special tokens",
                       max_length, special);
    if (t->pad_id < 0)
        return vs_fail(VS_ERR_INVALID_ARG, "BPE tokenizer: padding needs a pad token (tokenizer_config.json's pad_token)");
    vs_bpe_u32 v = {0};
    vs_status st = encode_content(t, text, len, &v);
    if (st != VS_OK) {
        free(v.p);
        return st;
    }
    const size_t keep = v.len < (size_t)(max_length - special) ? v.len : (size_t)(max_length - special);
    const int n = (int)keep + special, start = t->pad_right ? 0 : max_length - n;
    int k = start;
    for (int i = 0; i < t->n_prefix; i++) ids[k++] = t->prefix[i];
    for (size_t i = 0; i < keep; i++) ids[k++] = (int32_t)v.p[i];
    for (int i = 0; i < t->n_suffix; i++) ids[k++] = t->suffix[i];
    free(v.p);
    for (int i = 0; i < max_length; i++) {
        mask[i] = i >= start && i < start + n;
        if (!mask[i]) ids[i] = t->pad_id;
    }
    *count = n;
    return VS_OK;
}
