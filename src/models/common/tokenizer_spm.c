/* Reading sentencepiece's ModelProto (spiece.model) with a small protobuf
 * wire-format reader: only the fields the unigram encoder needs.
 *   ModelProto:     1 pieces (repeated message), 2 trainer_spec, 3 normalizer_spec
 *   SentencePiece:  1 piece (string), 2 score (float), 3 type (enum, default NORMAL)
 *   TrainerSpec:    3 model_type (1 = UNIGRAM), 24 treat_whitespace_as_suffix,
 *                   35 byte_fallback, 40 unk_id, 42 eos_id, 43 pad_id
 *   NormalizerSpec: 2 precompiled_charsmap, 3 add_dummy_prefix,
 *                   4 remove_extra_whitespaces, 5 escape_whitespaces
 * Unknown fields are skipped; every length is checked against its message. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "models/common/tokenizer_internal.h"

typedef struct {
    const uint8_t *p, *end;
    const char *label;
} pb;

typedef struct {
    uint32_t field;
    int wire;            /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t varint;     /* wire 0, and the raw bits for wire 1 / 5 */
    const uint8_t *data; /* wire 2 */
    size_t len;
} pb_field;

static vs_status pb_varint(pb *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return vs_fail(VS_ERR_FORMAT, "%s: truncated protobuf (varint runs past the end)", r->label);
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return VS_OK;
        }
    }
    return vs_fail(VS_ERR_FORMAT, "%s: malformed protobuf varint", r->label);
}

static vs_status pb_next(pb *r, pb_field *f) {
    uint64_t key = 0;
    VS_TRY(pb_varint(r, &key));
    f->field = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    if (f->field == 0) return vs_fail(VS_ERR_FORMAT, "%s: malformed protobuf (field number 0)", r->label);
    switch (f->wire) {
    case 0: return pb_varint(r, &f->varint);
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return vs_fail(VS_ERR_FORMAT, "%s: truncated protobuf (field %u)", r->label, f->field);
        f->varint = 0;
        for (size_t i = 0; i < n; i++) f->varint |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return VS_OK;
    }
    case 2: {
        uint64_t n = 0;
        VS_TRY(pb_varint(r, &n));
        if (n > (uint64_t)(r->end - r->p))
            return vs_fail(VS_ERR_FORMAT, "%s: truncated protobuf (field %u declares %llu bytes, %zu left)", r->label,
                           f->field, (unsigned long long)n, (size_t)(r->end - r->p));
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return VS_OK;
    }
    default:
        return vs_fail(VS_ERR_FORMAT, "%s: unsupported protobuf wire type %d (field %u)", r->label, f->wire, f->field);
    }
}

static float pb_float(uint64_t bits) {
    uint32_t u = (uint32_t)bits;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static vs_status read_piece(vs_tokenizer *tok, const uint8_t *data, size_t len, const char *label) {
    pb r = {data, data + len, label};
    pb_field f;
    const uint8_t *text = NULL;
    size_t text_len = 0;
    float score = 0;
    int type = VS_PIECE_NORMAL;
    while (r.p < r.end) {
        VS_TRY(pb_next(&r, &f));
        if (f.field == 1 && f.wire == 2) {
            text = f.data;
            text_len = f.len;
        } else if (f.field == 2 && f.wire == 5) {
            score = pb_float(f.varint);
        } else if (f.field == 3 && f.wire == 0) {
            type = (int)f.varint;
        }
    }
    if (!text || text_len == 0) return vs_fail(VS_ERR_FORMAT, "%s: piece %d has no text", label, tok->n_pieces);
    if (type < VS_PIECE_NORMAL || type > VS_PIECE_BYTE)
        return vs_fail(VS_ERR_FORMAT, "%s: piece %d has unknown type %d", label, tok->n_pieces, type);
    if (type == VS_PIECE_UNKNOWN) {
        if (tok->unk_id >= 0) return vs_fail(VS_ERR_FORMAT, "%s: two unknown pieces (%d and %d)", label, tok->unk_id, tok->n_pieces);
        tok->unk_id = tok->n_pieces;
    }
    return vs_tok_add_piece(tok, (const char *)text, text_len, score, type);
}

static vs_status read_trainer(vs_tokenizer *tok, const uint8_t *data, size_t len, const char *label, int *eos_id) {
    pb r = {data, data + len, label};
    pb_field f;
    while (r.p < r.end) {
        VS_TRY(pb_next(&r, &f));
        if (f.wire != 0) continue;
        int v = (int)(int32_t)f.varint; /* int32 fields: negative ids arrive sign-extended */
        switch (f.field) {
        case 3:
            if (v != 1) return vs_fail(VS_ERR_UNSUPPORTED, "%s: model type %d is not unigram (1)", label, v);
            break;
        case 24: tok->whitespace_suffix = v != 0; break;
        case 35: tok->byte_fallback = v != 0; break;
        case 42: *eos_id = v; break;
        case 43: tok->pad_id = v; break;
        default: break;
        }
    }
    return VS_OK;
}

static vs_status read_normalizer(vs_tokenizer *tok, const uint8_t *data, size_t len, const char *label) {
    pb r = {data, data + len, label};
    pb_field f;
    while (r.p < r.end) {
        VS_TRY(pb_next(&r, &f));
        if (f.field == 2 && f.wire == 2) VS_TRY(vs_tok_set_charsmap(tok, f.data, f.len, label));
        else if (f.field == 3 && f.wire == 0) tok->add_dummy_prefix = f.varint != 0;
        else if (f.field == 4 && f.wire == 0) tok->remove_extra_whitespaces = f.varint != 0;
        else if (f.field == 5 && f.wire == 0) tok->escape_whitespaces = f.varint != 0;
    }
    return VS_OK;
}

static vs_status parse_model(vs_tokenizer *tok, const uint8_t *data, size_t len, const char *label) {
    pb r = {data, data + len, label};
    pb_field f;
    int eos_id = 2; /* TrainerSpec defaults */
    tok->pad_id = -1;
    int have_trainer = 0;
    while (r.p < r.end) {
        VS_TRY(pb_next(&r, &f));
        if (f.wire != 2) continue;
        if (f.field == 1) {
            VS_TRY(read_piece(tok, f.data, f.len, label));
        } else if (f.field == 2) {
            VS_TRY(read_trainer(tok, f.data, f.len, label, &eos_id));
            have_trainer = 1;
        } else if (f.field == 3) {
            VS_TRY(read_normalizer(tok, f.data, f.len, label));
        }
    }
    if (!have_trainer) return vs_fail(VS_ERR_FORMAT, "%s: no trainer_spec (not a sentencepiece model?)", label);
    if (tok->n_pieces == 0) return vs_fail(VS_ERR_FORMAT, "%s: no pieces (missing vocabulary)", label);
    if (eos_id >= tok->n_pieces) return vs_fail(VS_ERR_FORMAT, "%s: eos id %d is outside the vocabulary of %d", label, eos_id, tok->n_pieces);
    if (eos_id >= 0) tok->suffix[tok->n_suffix++] = eos_id;
    if (tok->pad_id < 0 || tok->pad_id >= tok->n_pieces) tok->pad_id = 0; /* padding is masked out anyway */
    return vs_tok_finish(tok, label);
}

vs_status vs_tokenizer_load_spm(vs_tokenizer **out, const void *data, size_t len, const char *label) {
    *out = NULL;
    if (!data || len == 0) return vs_fail(VS_ERR_FORMAT, "%s: empty sentencepiece model", label);
    vs_tokenizer *tok = vs_tok_new(0);
    if (!tok) return vs_fail(VS_ERR_OOM, "tokenizer: out of memory");
    vs_status s = parse_model(tok, data, len, label);
    if (s != VS_OK) {
        vs_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return VS_OK;
}
