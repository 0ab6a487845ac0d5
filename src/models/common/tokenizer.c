/* The umT5 tokenizer's algorithms; see tokenizer.h for what each format
 * means and docs/text-encoder.md for where the two reference libraries differ. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "models/common/tokenizer_internal.h"
#include "models/common/unicode_tables.h"

/* ---- small growable buffers ------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} tbuf;

typedef struct {
    int32_t *p;
    size_t len, cap;
} ivec;

static int tbuf_put(tbuf *b, const void *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int ivec_push(ivec *v, int32_t x) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->p, cap * sizeof *p);
        if (!p) return -1;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->len++] = x;
    return 0;
}

#define OOM() vs_fail(VS_ERR_OOM, "tokenizer: out of memory")

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* sentencepiece's character length: from the lead byte alone. */
static size_t spm_char_len(unsigned char c) { return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[c >> 4]; }

static int is_trail(unsigned char c) { return (c & 0xC0) == 0x80; }

size_t vs_tok_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
    if (len == 0) return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0 && len >= 2 && is_trail(s[1])) {
        *cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        return *cp >= 0x80 ? 2 : 0;
    }
    if ((s[0] & 0xF0) == 0xE0 && len >= 3 && is_trail(s[1]) && is_trail(s[2])) {
        *cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        return *cp >= 0x800 && (*cp < 0xD800 || *cp > 0xDFFF) ? 3 : 0;
    }
    if ((s[0] & 0xF8) == 0xF0 && len >= 4 && is_trail(s[1]) && is_trail(s[2]) && is_trail(s[3])) {
        *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
              (s[3] & 0x3F);
        return *cp >= 0x10000 && *cp <= 0x10FFFF ? 4 : 0;
    }
    return 0;
}

/* Length of the valid character at s; s must be valid UTF-8 (checked on entry). */
static size_t char_len(const char *s, size_t len, uint32_t *cp) {
    size_t n = vs_tok_utf8_decode((const unsigned char *)s, len, cp);
    return n ? n : 1;
}

static int is_white_space(uint32_t cp) { return (vs_unicode_props(cp) & 0x80) != 0; }

/* ---- extended grapheme clusters (UAX #29), as the tokenizers library splits ------- */

/* End of the grapheme cluster that starts at `start`. */
static size_t grapheme_end(const char *s, size_t len, size_t start) {
    uint32_t cp;
    size_t pos = start + char_len(s + start, len - start, &cp);
    uint8_t props = vs_unicode_props(cp);
    int prev = props & 15;
    int ri_run = prev == VS_GCB_RI;                                 /* regional indicators so far */
    int emoji = (props & 0x40) ? 1 : 0;                             /* 1: ExtPict Extend*, 2: ... ZWJ */
    int incb = ((props >> 4) & 3) == VS_INCB_CONSONANT ? 1 : 0;     /* 1: Consonant [Ext|Link]*, 2: seen Linker */
    while (pos < len) {
        size_t n = char_len(s + pos, len - pos, &cp);
        props = vs_unicode_props(cp);
        int cur = props & 15, cur_incb = (props >> 4) & 3, pict = (props & 0x40) != 0;
        int join;
        if (prev == VS_GCB_CR && cur == VS_GCB_LF) join = 1;                                /* GB3 */
        else if (prev == VS_GCB_CONTROL || prev == VS_GCB_CR || prev == VS_GCB_LF) join = 0; /* GB4 */
        else if (cur == VS_GCB_CONTROL || cur == VS_GCB_CR || cur == VS_GCB_LF) join = 0;   /* GB5 */
        else if (prev == VS_GCB_L && (cur == VS_GCB_L || cur == VS_GCB_V || cur == VS_GCB_LV || cur == VS_GCB_LVT))
            join = 1; /* GB6 */
        else if ((prev == VS_GCB_LV || prev == VS_GCB_V) && (cur == VS_GCB_V || cur == VS_GCB_T)) join = 1; /* GB7 */
        else if ((prev == VS_GCB_LVT || prev == VS_GCB_T) && cur == VS_GCB_T) join = 1;                     /* GB8 */
        else if (cur == VS_GCB_EXTEND || cur == VS_GCB_ZWJ || cur == VS_GCB_SPACINGMARK) join = 1;      /* GB9, 9a */
        else if (prev == VS_GCB_PREPEND) join = 1;                                                        /* GB9b */
        else if (cur_incb == VS_INCB_CONSONANT && incb == 2) join = 1;                                    /* GB9c */
        else if (prev == VS_GCB_ZWJ && pict && emoji == 2) join = 1;                                      /* GB11 */
        else if (prev == VS_GCB_RI && cur == VS_GCB_RI && ri_run % 2 == 1) join = 1;                      /* GB12/13 */
        else join = 0;
        if (!join) break;
        emoji = pict ? 1 : (emoji == 1 && cur == VS_GCB_EXTEND) ? 1 : (emoji == 1 && cur == VS_GCB_ZWJ) ? 2 : 0;
        if (cur_incb == VS_INCB_CONSONANT) incb = 1;
        else if (incb && cur_incb == VS_INCB_LINKER) incb = 2;
        else if (!(incb && cur_incb == VS_INCB_EXTEND)) incb = 0;
        ri_run = cur == VS_GCB_RI ? ri_run + 1 : 0;
        prev = cur;
        pos += n;
    }
    return pos;
}

/* ---- the precompiled charsmap ------------------------------------------------------ */

vs_status vs_tok_set_charsmap(vs_tokenizer *tok, const uint8_t *blob, size_t len, const char *label) {
    if (len == 0) return VS_OK; /* no normalization rules */
    if (len <= 4) return vs_fail(VS_ERR_FORMAT, "%s: precompiled charsmap of %zu bytes is truncated", label, len);
    uint32_t trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (trie_bytes % 4 != 0 || trie_bytes == 0 || trie_bytes > len - 4)
        return vs_fail(VS_ERR_FORMAT, "%s: precompiled charsmap declares a %u-byte trie in a %zu-byte blob", label,
                       trie_bytes, len);
    size_t norm_len = len - 4 - trie_bytes;
    if (norm_len > 0 && blob[len - 1] != 0)
        return vs_fail(VS_ERR_FORMAT, "%s: precompiled charsmap replacement strings are not NUL-terminated", label);
    free(tok->cm_units);
    free(tok->cm_norm);
    tok->cm_units = malloc(trie_bytes);
    tok->cm_norm = malloc(norm_len + 1);
    if (!tok->cm_units || !tok->cm_norm) return OOM();
    tok->cm_n_units = trie_bytes / 4;
    for (size_t i = 0; i < tok->cm_n_units; i++) {
        const uint8_t *u = blob + 4 + 4 * i;
        tok->cm_units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(tok->cm_norm, blob + 4 + trie_bytes, norm_len);
    tok->cm_norm[norm_len] = 0;
    tok->cm_norm_len = norm_len;
    return VS_OK;
}

/* darts-clone common-prefix search over s[0..len): reports the longest
 * (sentencepiece) or the shortest (tokenizers) key that is a prefix of s.
 * Returns the key length (0: none) and sets *repl to its replacement.
 * Every index is bounds-checked: a corrupt trie means "no match". */
static size_t charsmap_match(const vs_tokenizer *tok, const char *s, size_t len, int shortest, const char **repl) {
    const uint32_t *a = tok->cm_units;
    size_t n = tok->cm_n_units, found = 0;
    if (!a) return 0;
#define UNIT_OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
    size_t pos = UNIT_OFFSET(a[0]);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (tok->hf && c == 0) break; /* the Rust port treats NUL as the end of the key */
        pos ^= c;
        if (pos >= n) break;
        uint32_t unit = a[pos];
        if ((unit & ((1u << 31) | 0xFF)) != c) break;
        pos ^= UNIT_OFFSET(unit);
        if ((unit >> 8) & 1) { /* has a leaf: the value unit sits at pos */
            if (pos >= n) break;
            uint32_t value = a[pos] & ((1u << 31) - 1);
            if (value >= tok->cm_norm_len) continue;
            *repl = tok->cm_norm + value;
            found = i + 1;
            if (shortest) break;
        }
    }
#undef UNIT_OFFSET
    return found;
}

/* ---- lattice trie over the pieces -------------------------------------------------- */

static const char *piece_text(const vs_tokenizer *tok, int id) { return tok->strings + tok->pieces[id].offset; }

static int piece_cmp_ctx_sort(const vs_tokenizer *tok, int a, int b) {
    const vs_tok_piece *pa = &tok->pieces[a], *pb = &tok->pieces[b];
    size_t n = pa->len < pb->len ? pa->len : pb->len;
    int c = memcmp(piece_text(tok, a), piece_text(tok, b), n);
    if (c) return c;
    if (pa->len != pb->len) return pa->len < pb->len ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Heap sort of piece ids (no qsort context pointer in C11). */
static void sift(const vs_tokenizer *tok, int *v, int start, int n) {
    int root = start;
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && piece_cmp_ctx_sort(tok, v[child], v[child + 1]) < 0) child++;
        if (piece_cmp_ctx_sort(tok, v[root], v[child]) >= 0) return;
        int t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

static void sort_pieces(const vs_tokenizer *tok, int *v, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) sift(tok, v, i, n);
    for (int end = n - 1; end > 0; end--) {
        int t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift(tok, v, 0, end);
    }
}

static int in_lattice(const vs_tokenizer *tok, int id) {
    int type = tok->pieces[id].type;
    /* tokenizers searches every vocabulary entry; sentencepiece only normal,
     * user-defined and unused pieces (the last are skipped when found). */
    return tok->hf || type == VS_PIECE_NORMAL || type == VS_PIECE_USER_DEFINED || type == VS_PIECE_UNUSED;
}

static vs_status build_trie(vs_tokenizer *tok, const char *label) {
    int n = 0;
    int *order = malloc((tok->n_pieces > 0 ? (size_t)tok->n_pieces : 1) * sizeof *order);
    if (!order) return OOM();
    for (int i = 0; i < tok->n_pieces; i++)
        if (in_lattice(tok, i)) order[n++] = i;
    sort_pieces(tok, order, n);
    /* Duplicates: sentencepiece refuses them; in tokenizers the last id wins. */
    int m = 0;
    for (int i = 0; i < n; i++) {
        int same = i + 1 < n && tok->pieces[order[i]].len == tok->pieces[order[i + 1]].len &&
                   !memcmp(piece_text(tok, order[i]), piece_text(tok, order[i + 1]), tok->pieces[order[i]].len);
        if (same && !tok->hf) {
            vs_status s = vs_fail(VS_ERR_FORMAT, "%s: piece \"%s\" is defined twice (ids %d and %d)", label,
                                  piece_text(tok, order[i]), order[i], order[i + 1]);
            free(order);
            return s;
        }
        if (!same) order[m++] = order[i];
    }
    n = m;

    size_t max_nodes = 1;
    for (int i = 0; i < n; i++) max_nodes += tok->pieces[order[i]].len;
    tok->nodes = malloc(max_nodes * sizeof *tok->nodes);
    /* Work queue of (node, first key, end key, depth): children are made
     * breadth-first so that siblings are contiguous. */
    typedef struct { int32_t node, lo, hi, depth; } item;
    item *queue = malloc(max_nodes * sizeof *queue);
    if (!tok->nodes || !queue) {
        free(order);
        free(queue);
        return OOM();
    }
    tok->nodes[0] = (vs_trie_node){.child = -1, .piece = -1};
    tok->n_nodes = 1;
    size_t qh = 0, qt = 0;
    queue[qt++] = (item){0, 0, n, 0};
    while (qh < qt) {
        item it = queue[qh++];
        int lo = it.lo;
        if (lo < it.hi && (int)tok->pieces[order[lo]].len == it.depth) tok->nodes[it.node].piece = order[lo++];
        int first = tok->n_nodes, count = 0;
        while (lo < it.hi) {
            unsigned char c = (unsigned char)piece_text(tok, order[lo])[it.depth];
            int hi = lo + 1;
            while (hi < it.hi && (unsigned char)piece_text(tok, order[hi])[it.depth] == c) hi++;
            int child = tok->n_nodes++;
            tok->nodes[child] = (vs_trie_node){.child = -1, .piece = -1, .label = c};
            queue[qt++] = (item){child, lo, hi, it.depth + 1};
            count++;
            lo = hi;
        }
        if (count) {
            tok->nodes[it.node].child = first;
            tok->nodes[it.node].nchild = (uint16_t)count;
        }
    }
    for (int c = 0; c < 256; c++) tok->root[c] = -1;
    for (int i = 0; i < tok->nodes[0].nchild; i++) tok->root[tok->nodes[tok->nodes[0].child + i].label] = tok->nodes[0].child + i;
    free(queue);
    free(order);
    return VS_OK;
}

static int32_t trie_step(const vs_tokenizer *tok, int32_t node, unsigned char c) {
    if (node < 0) return tok->root[c];
    const vs_trie_node *p = &tok->nodes[node];
    int lo = p->child, hi = p->child + p->nchild - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (tok->nodes[mid].label < c) lo = mid + 1;
        else if (tok->nodes[mid].label > c) hi = mid - 1;
        else return mid;
    }
    return -1;
}

/* Id of the lattice piece spelled exactly s[0..len), or -1. */
static int32_t trie_exact(const vs_tokenizer *tok, const char *s, size_t len) {
    int32_t node = -1;
    for (size_t i = 0; i < len && (i == 0 || node >= 0); i++) node = trie_step(tok, node, (unsigned char)s[i]);
    return node >= 0 && len > 0 ? tok->nodes[node].piece : -1;
}

/* ---- construction ------------------------------------------------------------------ */

vs_tokenizer *vs_tok_new(int hf) {
    vs_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return NULL;
    tok->hf = hf;
    tok->unk_id = -1;
    tok->pad_id = 0;
    tok->add_dummy_prefix = tok->remove_extra_whitespaces = tok->escape_whitespaces = 1;
    return tok;
}

vs_status vs_tok_add_piece(vs_tokenizer *tok, const char *text, size_t len, double score, int type) {
    if (tok->n_pieces >= (1 << 30) || len > (1u << 20)) return vs_fail(VS_ERR_FORMAT, "tokenizer: vocabulary too large");
    if ((tok->n_pieces & (tok->n_pieces - 1)) == 0) { /* grow at powers of two */
        size_t cap = tok->n_pieces ? (size_t)tok->n_pieces * 2 : 1024;
        vs_tok_piece *p = realloc(tok->pieces, cap * sizeof *p);
        if (!p) return OOM();
        tok->pieces = p;
    }
    size_t cap = tok->strings_len;
    char *s = realloc(tok->strings, cap + len + 1);
    if (!s) return OOM();
    tok->strings = s;
    memcpy(s + cap, text, len);
    s[cap + len] = 0;
    tok->strings_len += len + 1;
    tok->pieces[tok->n_pieces++] = (vs_tok_piece){(uint32_t)cap, (uint32_t)len, score, (uint8_t)type};
    return VS_OK;
}

int vs_tok_find_piece(const vs_tokenizer *tok, const char *text) {
    size_t len = strlen(text);
    for (int i = tok->n_pieces - 1; i >= 0; i--)
        if (tok->pieces[i].len == len && !memcmp(piece_text(tok, i), text, len)) return i;
    return -1;
}

vs_status vs_tok_finish(vs_tokenizer *tok, const char *label) {
    if (tok->n_pieces == 0) return vs_fail(VS_ERR_FORMAT, "%s: the vocabulary is empty", label);
    if (tok->unk_id < 0 || tok->unk_id >= tok->n_pieces)
        return vs_fail(VS_ERR_FORMAT, "%s: no unknown piece (unk id %d, vocabulary of %d)", label, tok->unk_id,
                       tok->n_pieces);
    tok->min_score = 1e300;
    tok->max_score = -1e300;
    for (int i = 0; i < tok->n_pieces; i++) {
        const vs_tok_piece *p = &tok->pieces[i];
        if (p->len == 0) return vs_fail(VS_ERR_FORMAT, "%s: piece %d is empty", label, i);
        /* sentencepiece takes the score range over normal pieces, tokenizers over all. */
        if (tok->hf || p->type == VS_PIECE_NORMAL) {
            if (p->score < tok->min_score) tok->min_score = p->score;
            if (p->score > tok->max_score) tok->max_score = p->score;
        }
        if (p->type == VS_PIECE_USER_DEFINED) tok->has_user_defined = 1;
    }
    if (!tok->hf) { /* sentencepiece's float extremes, FLT_MAX / FLT_MIN when there is no normal piece */
        if (tok->min_score > 1e299) tok->min_score = 3.402823466e+38;
        if (tok->max_score < -1e299) tok->max_score = 1.175494351e-38;
    }
    /* Byte pieces are spelled <0xHH> (upper case); the last spelling wins, as in tokenizers. */
    for (int b = 0; b < 256; b++) tok->byte_ids[b] = -1;
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < tok->n_pieces; i++) {
        const char *t = piece_text(tok, i);
        const char *hi, *lo;
        if (tok->pieces[i].len == 6 && !memcmp(t, "<0x", 3) && t[5] == '>' && t[3] && t[4] && (hi = strchr(hex, t[3])) &&
            (lo = strchr(hex, t[4])))
            tok->byte_ids[(hi - hex) * 16 + (lo - hex)] = i;
    }
    for (int b = 0; b < 256; b++)
        if (tok->byte_fallback && !tok->hf && tok->byte_ids[b] < 0)
            return vs_fail(VS_ERR_FORMAT, "%s: byte_fallback is on but piece <0x%02X> is missing", label, b);
    return build_trie(tok, label);
}

void vs_tokenizer_free(vs_tokenizer *tok) {
    if (!tok) return;
    free(tok->strings);
    free(tok->pieces);
    free(tok->nodes);
    free(tok->cm_units);
    free(tok->cm_norm);
    for (int i = 0; i < tok->n_norm; i++) {
        free(tok->norm[i].pattern);
        free(tok->norm[i].content);
    }
    free(tok->norm);
    free(tok->pre);
    for (int i = 0; i < tok->n_added; i++) free(tok->added[i].text);
    free(tok->added);
    free(tok);
}

int vs_tokenizer_vocab_size(const vs_tokenizer *tok) { return tok->n_pieces; }
int vs_tokenizer_pad_id(const vs_tokenizer *tok) { return tok->pad_id; }

const char *vs_tokenizer_piece(const vs_tokenizer *tok, int id, size_t *len) {
    if (id < 0 || id >= tok->n_pieces) return NULL;
    if (len) *len = tok->pieces[id].len;
    return piece_text(tok, id);
}

/* ---- the unigram model: Viterbi over one normalized string ------------------------- */

typedef struct {
    double score;
    int32_t start; /* -1: not reached yet */
    int32_t id;
} best_node;

static int emit_unknown(const vs_tokenizer *tok, const char *s, size_t n, ivec *out, int *prev_unk) {
    if (tok->byte_fallback) { /* every byte of the unknown text as a <0xXX> piece */
        int ok = 1;
        for (size_t i = 0; i < n; i++) ok &= tok->byte_ids[(unsigned char)s[i]] >= 0;
        if (ok) {
            for (size_t i = 0; i < n; i++)
                if (ivec_push(out, tok->byte_ids[(unsigned char)s[i]])) return -1;
            *prev_unk = 0;
            return 0;
        }
    }
    if (*prev_unk) return 0; /* consecutive unknowns are one */
    *prev_unk = 1;
    return ivec_push(out, tok->unk_id);
}

static vs_status viterbi(const vs_tokenizer *tok, const char *s, size_t len, ivec *out) {
    if (len == 0) return VS_OK;
    if (len > (size_t)INT32_MAX - 1) return vs_fail(VS_ERR_INVALID_ARG, "tokenizer: text of %zu bytes is too long", len);
    best_node *best = malloc((len + 1) * sizeof *best);
    if (!best) return OOM();
    for (size_t i = 0; i <= len; i++) best[i] = (best_node){0, -1, -1};
    best[0].start = 0;
    const float unk_f = (float)tok->min_score - 10.0f; /* kUnkPenalty */
    const double unk_d = tok->min_score - 10.0;
    size_t start = 0;
    while (start < len) {
        size_t mblen;
        if (tok->hf) {
            uint32_t cp;
            mblen = char_len(s + start, len - start, &cp);
        } else {
            mblen = spm_char_len((unsigned char)s[start]);
            if (mblen > len - start) mblen = len - start;
        }
        const double here = best[start].score;
        int has_single = 0;
        int32_t node = -1;
        for (size_t k = start; k < len; k++) {
            node = trie_step(tok, node, (unsigned char)s[k]);
            if (node < 0) break;
            int id = tok->nodes[node].piece;
            if (id < 0) continue;
            const vs_tok_piece *p = &tok->pieces[id];
            if (!tok->hf && p->type == VS_PIECE_UNUSED) continue;
            size_t length = k + 1 - start;
            best_node *t = &best[k + 1];
            double cand;
            if (tok->hf) {
                cand = p->score + here;
            } else {
                /* sentencepiece sums in float (checked against its wheel on ties). */
                float sc = p->type == VS_PIECE_USER_DEFINED ? (float)((float)length * (float)tok->max_score - 0.1)
                                                            : (float)p->score;
                cand = (double)(sc + (float)here);
            }
            if (t->start < 0 || cand > t->score) {
                t->score = cand;
                t->start = (int32_t)start;
                t->id = id;
            }
            if (length == mblen) has_single = 1;
        }
        if (!has_single) {
            best_node *t = &best[start + mblen];
            double cand = tok->hf ? unk_d + here : (double)(unk_f + (float)here);
            if (t->start < 0 || cand > t->score) {
                t->score = cand;
                t->start = (int32_t)start;
                t->id = tok->unk_id;
            }
        }
        start += mblen;
    }
    /* Backtrack into a reversed list of (start, end, id). */
    size_t n = 0;
    for (size_t end = len; end > 0; end = (size_t)best[end].start) n++;
    int32_t *path = malloc(n * 3 * sizeof *path);
    if (!path) {
        free(best);
        return OOM();
    }
    size_t i = n;
    for (size_t end = len; end > 0; end = (size_t)best[end].start) {
        i--;
        path[3 * i] = best[end].start;
        path[3 * i + 1] = (int32_t)end;
        path[3 * i + 2] = best[end].id;
    }
    free(best);
    int prev_unk = 0, fail = 0;
    for (i = 0; i < n && !fail; i++) {
        int32_t id = path[3 * i + 2];
        if (id == tok->unk_id) {
            if (tok->hf) {
                /* tokenizers fuses a run of unknowns (the unk piece itself included)
                 * and looks the text up: a vocabulary entry, else bytes or unk. */
                size_t j = i;
                while (j + 1 < n && path[3 * (j + 1) + 2] == tok->unk_id) j++;
                size_t b = (size_t)path[3 * i], e = (size_t)path[3 * j + 1];
                int32_t known = trie_exact(tok, s + b, e - b);
                fail = known >= 0 ? ivec_push(out, known) : emit_unknown(tok, s + b, e - b, out, &prev_unk);
                if (known >= 0) prev_unk = 0;
                i = j;
            } else {
                fail = emit_unknown(tok, s + path[3 * i], (size_t)(path[3 * i + 1] - path[3 * i]), out, &prev_unk);
            }
        } else {
            prev_unk = 0;
            fail = ivec_push(out, id);
        }
    }
    free(path);
    return fail ? OOM() : VS_OK;
}

/* ---- sentencepiece normalizer ------------------------------------------------------ */

/* One normalization step at s: sets the replacement text and returns the input bytes consumed. */
static size_t spm_normalize_prefix(const vs_tokenizer *tok, const char *s, size_t len, const char **out,
                                   size_t *out_len) {
    if (tok->has_user_defined) { /* user-defined symbols pass through untouched, longest first */
        size_t found = 0;
        int32_t node = -1;
        for (size_t k = 0; k < len; k++) {
            node = trie_step(tok, node, (unsigned char)s[k]);
            if (node < 0) break;
            int id = tok->nodes[node].piece;
            if (id >= 0 && tok->pieces[id].type == VS_PIECE_USER_DEFINED) found = k + 1;
        }
        if (found) {
            *out = s;
            *out_len = found;
            return found;
        }
    }
    const char *repl = NULL;
    size_t n = charsmap_match(tok, s, len, 0, &repl);
    if (n) {
        *out = repl;
        *out_len = strlen(repl);
        return n;
    }
    uint32_t cp;
    n = vs_tok_utf8_decode((const unsigned char *)s, len, &cp);
    if (n == 0) { /* malformed UTF-8: one byte becomes U+FFFD */
        *out = "\xEF\xBF\xBD";
        *out_len = 3;
        return 1;
    }
    *out = s;
    *out_len = n;
    return n;
}

static vs_status spm_normalize(const vs_tokenizer *tok, const char *s, size_t len, tbuf *out) {
    static const char space_sym[] = "\xE2\x96\x81";
    const char *ws = tok->escape_whitespaces ? space_sym : " ";
    size_t ws_len = tok->escape_whitespaces ? 3 : 1;
    const char *r;
    size_t rlen;
    if (tok->remove_extra_whitespaces) { /* skip leading spaces */
        while (len > 0) {
            size_t n = spm_normalize_prefix(tok, s, len, &r, &rlen);
            if (!(rlen == 1 && r[0] == ' ')) break;
            s += n;
            len -= n;
        }
    }
    if (len == 0) return VS_OK;
    if (!tok->whitespace_suffix && tok->add_dummy_prefix && tbuf_put(out, ws, ws_len)) return OOM();
    int prev_space = tok->remove_extra_whitespaces;
    while (len > 0) {
        size_t n = spm_normalize_prefix(tok, s, len, &r, &rlen);
        while (prev_space && rlen > 0 && r[0] == ' ') {
            r++;
            rlen--;
        }
        if (rlen > 0) {
            for (size_t i = 0; i < rlen; i++) {
                int fail = r[i] == ' ' ? tbuf_put(out, ws, ws_len) : tbuf_put(out, r + i, 1);
                if (fail) return OOM();
            }
            prev_space = r[rlen - 1] == ' ';
        }
        s += n;
        len -= n;
        if (!tok->remove_extra_whitespaces) prev_space = 0;
    }
    if (tok->remove_extra_whitespaces)
        while (out->len >= ws_len && !memcmp(out->p + out->len - ws_len, ws, ws_len)) out->len -= ws_len;
    if (tok->whitespace_suffix && tok->add_dummy_prefix && tbuf_put(out, ws, ws_len)) return OOM();
    return VS_OK;
}

/* ---- tokenizers pipeline ----------------------------------------------------------- */

/* Precompiled: per grapheme cluster; a cluster under 6 bytes is replaced
 * whole by the shortest charsmap key it starts with, otherwise each
 * character is looked up alone (the Rust port's rule, kept as is). */
static int hf_precompiled(const vs_tokenizer *tok, const char *s, size_t len, tbuf *out) {
    size_t pos = 0;
    while (pos < len) {
        size_t end = grapheme_end(s, len, pos);
        const char *repl = NULL;
        if (end - pos < 6 && charsmap_match(tok, s + pos, end - pos, 1, &repl)) {
            if (tbuf_put(out, repl, strlen(repl))) return -1;
            pos = end;
            continue;
        }
        while (pos < end) {
            uint32_t cp;
            size_t n = char_len(s + pos, end - pos, &cp);
            int fail = charsmap_match(tok, s + pos, n, 1, &repl) ? tbuf_put(out, repl, strlen(repl))
                                                                   : tbuf_put(out, s + pos, n);
            if (fail) return -1;
            pos += n;
        }
    }
    return 0;
}

static size_t lstrip_len(const char *s, size_t len) {
    size_t pos = 0;
    while (pos < len) {
        uint32_t cp;
        size_t n = char_len(s + pos, len - pos, &cp);
        if (!is_white_space(cp)) break;
        pos += n;
    }
    return pos;
}

static size_t rstrip_len(const char *s, size_t len) {
    size_t end = len;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && is_trail((unsigned char)s[start])) start--;
        uint32_t cp;
        char_len(s + start, end - start, &cp);
        if (!is_white_space(cp)) break;
        end = start;
    }
    return len - end;
}

static int hf_replace(const vs_norm_op *op, const char *s, size_t len, tbuf *out) {
    size_t pos = 0, pl = op->pattern_len;
    while (pos < len) {
        if (pl && pos + pl <= len && !memcmp(s + pos, op->pattern, pl)) {
            size_t run = 1;
            if (op->min_repeat)
                while (pos + (run + 1) * pl <= len && !memcmp(s + pos + run * pl, op->pattern, pl)) run++;
            if (!op->min_repeat || run >= (size_t)op->min_repeat) {
                if (tbuf_put(out, op->content, op->content_len)) return -1;
                pos += run * pl;
                continue;
            }
            if (tbuf_put(out, s + pos, run * pl)) return -1; /* a run too short stays */
            pos += run * pl;
            continue;
        }
        if (tbuf_put(out, s + pos, 1)) return -1;
        pos++;
    }
    return 0;
}

/* A piece of text on its way through the pre-tokenizers. */
typedef struct {
    size_t off, len; /* in the owning buffer */
    int at_origin;   /* starts at offset 0 of the original input */
} span;

typedef struct {
    span *p;
    size_t len, cap;
} spans;

static int spans_push(spans *v, span x) {
    if (x.len == 0) return 0; /* empty splits are dropped */
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        span *p = realloc(v->p, cap * sizeof *p);
        if (!p) return -1;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->len++] = x;
    return 0;
}

/* Runs one pre-tokenizer over every span; spans may be rewritten into `text` (appended). */
static int hf_pre_op(const vs_pre_op *op, tbuf *text, const spans *in, spans *out) {
    for (size_t k = 0; k < in->len; k++) {
        span sp = in->p[k];
        if (op->kind == VS_PRE_WHITESPACE_SPLIT) {
            size_t pos = 0, word = 0;
            while (pos < sp.len) {
                uint32_t cp;
                size_t n = char_len(text->p + sp.off + pos, sp.len - pos, &cp);
                if (is_white_space(cp)) {
                    if (spans_push(out, (span){sp.off + word, pos - word, sp.at_origin && word == 0})) return -1;
                    word = pos + n;
                }
                pos += n;
            }
            if (spans_push(out, (span){sp.off + word, sp.len - word, sp.at_origin && word == 0})) return -1;
            continue;
        }
        /* Metaspace: spaces become the replacement, maybe prepended, then split before each. */
        size_t start = text->len;
        const char *rep = op->replacement;
        size_t rl = (size_t)op->replacement_len;
        int prepend = op->prepend == VS_PREPEND_ALWAYS || (op->prepend == VS_PREPEND_FIRST && sp.at_origin);
        if (sp.len == 0) continue;
        /* prepended unless the text, spaces already replaced, starts with the replacement */
        int starts = text->p[sp.off] == ' ' || (sp.len >= rl && !memcmp(text->p + sp.off, rep, rl));
        if (prepend && !starts && tbuf_put(text, rep, rl)) return -1;
        for (size_t i = 0; i < sp.len; i++) {
            char c = text->p[sp.off + i]; /* text->p may move while appending: index, do not hold pointers */
            if (c == ' ' ? tbuf_put(text, rep, rl) : tbuf_put(text, &c, 1)) return -1;
        }
        span whole = {start, text->len - start, sp.at_origin};
        if (!op->split) {
            if (spans_push(out, whole)) return -1;
            continue;
        }
        size_t piece = whole.off;
        for (size_t i = whole.off + 1; i + rl <= whole.off + whole.len; i++) {
            if (!memcmp(text->p + i, rep, rl)) {
                if (spans_push(out, (span){piece, i - piece, whole.at_origin && piece == whole.off})) return -1;
                piece = i;
            }
        }
        if (spans_push(out, (span){piece, whole.off + whole.len - piece, whole.at_origin && piece == whole.off}))
            return -1;
    }
    return 0;
}

/* Normalizes, pre-tokenizes and encodes one stretch of input between added tokens. */
static vs_status hf_segment(const vs_tokenizer *tok, const char *s, size_t len, int at_origin, ivec *out) {
    tbuf a = {0}, b = {0};
    spans x = {0}, y = {0};
    vs_status st = VS_OK;
    if (tbuf_put(&a, s, len)) goto oom;
    for (int i = 0; i < tok->n_norm; i++) {
        const vs_norm_op *op = &tok->norm[i];
        b.len = 0;
        if (op->kind == VS_NORM_PRECOMPILED) {
            if (hf_precompiled(tok, a.p, a.len, &b)) goto oom;
        } else if (op->kind == VS_NORM_STRIP) {
            size_t l = op->left ? lstrip_len(a.p, a.len) : 0;
            size_t r = op->right ? rstrip_len(a.p + l, a.len - l) : 0;
            if (l) at_origin = 0;
            if (tbuf_put(&b, a.p + l, a.len - l - r)) goto oom;
        } else {
            if (hf_replace(op, a.p, a.len, &b)) goto oom;
        }
        tbuf t = a;
        a = b;
        b = t;
    }
    if (spans_push(&x, (span){0, a.len, at_origin})) goto oom;
    for (int i = 0; i < tok->n_pre; i++) {
        y.len = 0;
        if (hf_pre_op(&tok->pre[i], &a, &x, &y)) goto oom;
        spans t = x;
        x = y;
        y = t;
    }
    for (size_t i = 0; i < x.len && st == VS_OK; i++) st = viterbi(tok, a.p + x.p[i].off, x.p[i].len, out);
    goto done;
oom:
    st = OOM();
done:
    free(a.p);
    free(b.p);
    free(x.p);
    free(y.p);
    return st;
}

static vs_status hf_encode(const vs_tokenizer *tok, const char *s, size_t len, ivec *out) {
    size_t seg = 0, pos = 0;
    while (pos < len) {
        int best = -1;
        if (tok->added_first[(unsigned char)s[pos]]) { /* leftmost-longest added token */
            for (int i = 0; i < tok->n_added; i++) {
                const vs_added_token *a = &tok->added[i];
                if (a->len <= len - pos && !memcmp(s + pos, a->text, a->len) &&
                    (best < 0 || a->len > tok->added[best].len))
                    best = i;
            }
        }
        if (best < 0) {
            pos++;
            continue;
        }
        if (pos > seg) VS_TRY(hf_segment(tok, s + seg, pos - seg, seg == 0, out));
        if (ivec_push(out, tok->added[best].id)) return OOM();
        pos += tok->added[best].len;
        seg = pos;
    }
    if (len > seg) VS_TRY(hf_segment(tok, s + seg, len - seg, seg == 0, out));
    return VS_OK;
}

/* ---- public encoding --------------------------------------------------------------- */

static vs_status encode_content(const vs_tokenizer *tok, const char *text, size_t len, ivec *out) {
    if (!text && len) return vs_fail(VS_ERR_INVALID_ARG, "tokenizer: text is NULL");
    if (!tok->hf) {
        tbuf norm = {0};
        vs_status st = spm_normalize(tok, text, len, &norm);
        if (st == VS_OK) st = viterbi(tok, norm.p, norm.len, out);
        free(norm.p);
        return st;
    }
    for (size_t pos = 0; pos < len;) {
        uint32_t cp;
        size_t n = vs_tok_utf8_decode((const unsigned char *)text + pos, len - pos, &cp);
        if (!n) return vs_fail(VS_ERR_INVALID_ARG, "tokenizer: text is not valid UTF-8 (byte %zu)", pos);
        pos += n;
    }
    return hf_encode(tok, text, len, out);
}

vs_status vs_tokenizer_encode(const vs_tokenizer *tok, const char *text, size_t len, int32_t **ids, size_t *count) {
    *ids = NULL;
    *count = 0;
    ivec v = {0};
    for (int i = 0; i < tok->n_prefix; i++)
        if (ivec_push(&v, tok->prefix[i])) goto oom;
    vs_status st = encode_content(tok, text, len, &v);
    if (st != VS_OK) {
        free(v.p);
        return st;
    }
    for (int i = 0; i < tok->n_suffix; i++)
        if (ivec_push(&v, tok->suffix[i])) goto oom;
    size_t n = v.len;
    if (!v.p && ivec_push(&v, 0)) goto oom; /* never hand back NULL on success */
    *ids = v.p;
    *count = n;
    return VS_OK;
oom:
    free(v.p);
    return OOM();
}

vs_status vs_tokenizer_encode_padded(const vs_tokenizer *tok, const char *text, size_t len, int max_length,
                                     int32_t *ids, int32_t *mask, int *count) {
    int special = tok->n_prefix + tok->n_suffix;
    if (max_length <= special)
        return vs_fail(VS_ERR_INVALID_ARG, "tokenizer: max_length %d leaves no room next to %d special tokens",
                       max_length, special);
    ivec v = {0};
    vs_status st = encode_content(tok, text, len, &v);
    if (st != VS_OK) {
        free(v.p);
        return st;
    }
    size_t keep = v.len < (size_t)(max_length - special) ? v.len : (size_t)(max_length - special);
    int n = 0;
    for (int i = 0; i < tok->n_prefix; i++) ids[n++] = tok->prefix[i];
    for (size_t i = 0; i < keep; i++) ids[n++] = v.p[i];
    for (int i = 0; i < tok->n_suffix; i++) ids[n++] = tok->suffix[i];
    free(v.p);
    *count = n;
    for (int i = 0; i < max_length; i++) {
        mask[i] = i < n;
        if (i >= n) ids[i] = tok->pad_id;
    }
    return VS_OK;
}
