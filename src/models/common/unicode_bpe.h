/* Unicode data of the byte-level BPE tokenizers (bpe.c), generated into
 * unicode_bpe_tables.c by tools/make_bpe_unicode_tables.py from the tokenizers
 * library itself: the classes its regex engine gives \p{L}, \p{N} and \s, its
 * Lowercase mapping, and the canonical data of its NFC normalizer. */
#ifndef VS_MODELS_COMMON_UNICODE_BPE_H
#define VS_MODELS_COMMON_UNICODE_BPE_H

#include <stdint.h>

enum { VS_UCLASS_LETTER = 1, VS_UCLASS_NUMBER = 2, VS_UCLASS_SPACE = 4 };

/* A run of code points lo..hi sharing a value (class bits, or a combining class). */
typedef struct vs_unicode_class_range {
    uint32_t lo, hi;
    uint8_t value;
} vs_unicode_class_range;

/* A code point whose lowercase differs: up to 3 code points, 0-terminated. */
typedef struct vs_unicode_lower {
    uint32_t cp, lower[3];
} vs_unicode_lower;

/* cp -> a b (canonical decomposition; b 0 for a singleton), sorted by cp; the
 * composition table is (a, b) -> cp, sorted by (a, b). */
typedef struct vs_unicode_decomp {
    uint32_t cp, a, b;
} vs_unicode_decomp;

extern const vs_unicode_class_range vs_unicode_class_ranges[];
extern const int vs_unicode_class_range_count;
extern const vs_unicode_lower vs_unicode_lowers[];
extern const int vs_unicode_lower_count;
extern const vs_unicode_decomp vs_unicode_decomps[];
extern const int vs_unicode_decomp_count;
extern const vs_unicode_class_range vs_unicode_ccc_ranges[];
extern const int vs_unicode_ccc_range_count;
extern const vs_unicode_decomp vs_unicode_compositions[];
extern const int vs_unicode_composition_count;

#endif
