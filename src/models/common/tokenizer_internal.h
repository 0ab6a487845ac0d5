/* Shared between the tokenizer's algorithms (tokenizer.c) and its two
 * loaders (tokenizer_spm.c, tokenizer_json.c). Not a public header. */
#ifndef VS_MODELS_COMMON_TOKENIZER_INTERNAL_H
#define VS_MODELS_COMMON_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "models/common/tokenizer.h"

/* sentencepiece's piece types (the numbers of its protobuf enum). */
enum {
    VS_PIECE_NORMAL = 1, VS_PIECE_UNKNOWN = 2, VS_PIECE_CONTROL = 3, VS_PIECE_USER_DEFINED = 4,
    VS_PIECE_UNUSED = 5, VS_PIECE_BYTE = 6
};

typedef struct vs_tok_piece {
    uint32_t offset, len; /* bytes in vs_tokenizer.strings */
    double score;
    uint8_t type;
} vs_tok_piece;

/* Byte trie over the pieces the lattice may use. A node's children are
 * contiguous and sorted by label; the root's are indexed by byte. */
typedef struct vs_trie_node {
    int32_t child;   /* first child, -1 if none */
    int32_t piece;   /* piece ending here, -1 if none */
    uint16_t nchild;
    uint8_t label;
} vs_trie_node;

/* tokenizer.json normalizers and pre-tokenizers, flattened out of Sequences. */
enum { VS_NORM_PRECOMPILED, VS_NORM_STRIP, VS_NORM_REPLACE };
typedef struct vs_norm_op {
    int kind;
    int left, right;       /* Strip */
    char *pattern;         /* Replace: a literal, or the repeated character of "X{n,}" */
    size_t pattern_len;
    int min_repeat;        /* 0: literal pattern; n: runs of >= n copies of pattern */
    char *content;
    size_t content_len;
} vs_norm_op;

enum { VS_PRE_WHITESPACE_SPLIT, VS_PRE_METASPACE };
enum { VS_PREPEND_NEVER, VS_PREPEND_ALWAYS, VS_PREPEND_FIRST };
typedef struct vs_pre_op {
    int kind;
    char replacement[5]; /* UTF-8 of the Metaspace replacement character */
    int replacement_len;
    int prepend;
    int split;
} vs_pre_op;

typedef struct vs_added_token {
    char *text;
    size_t len;
    int32_t id;
} vs_added_token;

struct vs_tokenizer {
    int hf; /* 1: tokenizers (tokenizer.json) semantics; 0: sentencepiece */

    char *strings;
    size_t strings_len;
    vs_tok_piece *pieces;
    int n_pieces;
    vs_trie_node *nodes;
    int n_nodes;
    int32_t root[256]; /* node index of the root's child per byte, -1 if none */
    double min_score, max_score;
    int unk_id, pad_id;
    int byte_fallback;
    int32_t byte_ids[256];
    int has_user_defined;

    /* precompiled charsmap: darts-clone double array + NUL-terminated replacements */
    uint32_t *cm_units;
    size_t cm_n_units;
    char *cm_norm;
    size_t cm_norm_len;

    /* sentencepiece normalizer spec */
    int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, whitespace_suffix;

    /* tokenizers pipeline */
    vs_norm_op *norm;
    int n_norm;
    vs_pre_op *pre;
    int n_pre;
    vs_added_token *added;
    int n_added;
    uint8_t added_first[256]; /* 1 if some added token starts with this byte */

    /* special ids around the content: sentencepiece [] + [eos]; tokenizers from its template */
    int32_t prefix[4], suffix[4];
    int n_prefix, n_suffix;
};

/* Zeroed tokenizer with the defaults both loaders start from. NULL when out of memory. */
vs_tokenizer *vs_tok_new(int hf);
/* Copies and checks a precompiled charsmap blob (<u32 trie bytes><trie><strings>). */
vs_status vs_tok_set_charsmap(vs_tokenizer *tok, const uint8_t *blob, size_t len, const char *label);
/* Appends a piece (copies `len` bytes of `text`). */
vs_status vs_tok_add_piece(vs_tokenizer *tok, const char *text, size_t len, double score, int type);
/* After all pieces: checks ids and builds the lattice trie and byte table. */
vs_status vs_tok_finish(vs_tokenizer *tok, const char *label);
/* Id of the piece spelled `text`, or -1. Linear; for loading only. */
int vs_tok_find_piece(const vs_tokenizer *tok, const char *text);

/* Decodes one well-formed UTF-8 character; returns its length, 0 if the
 * bytes at s are not one (overlong, surrogate, out of range, truncated). */
size_t vs_tok_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* A tokenizer.json TemplateProcessing's "single" template: the special ids
 * before and after $A (at most 4 each, ids below `vocab`). */
vs_status vs_tok_read_template(const vs_json *p, int vocab, int32_t prefix[4], int *n_prefix, int32_t suffix[4],
                               int *n_suffix, const char *label);
/* The whole file, malloc'ed with a NUL after its `len` bytes. */
vs_status vs_tok_read_file(const char *path, char **data, size_t *len);

#endif
