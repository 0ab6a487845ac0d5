/* Unicode properties for text segmentation (generated table in
 * unicode_tables.c, written by tools/make_unicode_tables.py). */
#ifndef VS_MODELS_COMMON_UNICODE_TABLES_H
#define VS_MODELS_COMMON_UNICODE_TABLES_H

#include <stdint.h>

/* Grapheme_Cluster_Break values (UAX #29). */
typedef enum vs_gcb {
    VS_GCB_OTHER, VS_GCB_CR, VS_GCB_LF, VS_GCB_CONTROL, VS_GCB_EXTEND, VS_GCB_ZWJ, VS_GCB_RI,
    VS_GCB_PREPEND, VS_GCB_SPACINGMARK, VS_GCB_L, VS_GCB_V, VS_GCB_T, VS_GCB_LV, VS_GCB_LVT
} vs_gcb;

/* Indic_Conjunct_Break values. */
typedef enum vs_incb { VS_INCB_NONE, VS_INCB_CONSONANT, VS_INCB_EXTEND, VS_INCB_LINKER } vs_incb;

/* Packed property byte: bits 0-3 vs_gcb, bits 4-5 vs_incb, bit 6
 * Extended_Pictographic, bit 7 White_Space. */
typedef struct vs_unicode_range {
    uint32_t lo, hi;
    uint8_t props;
} vs_unicode_range;

extern const vs_unicode_range vs_unicode_ranges[];
extern const int vs_unicode_range_count;

/* The packed property byte of code point `cp` (0 for most). */
static inline uint8_t vs_unicode_props(uint32_t cp) {
    int lo = 0, hi = vs_unicode_range_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < vs_unicode_ranges[mid].lo) hi = mid - 1;
        else if (cp > vs_unicode_ranges[mid].hi) lo = mid + 1;
        else return vs_unicode_ranges[mid].props;
    }
    return 0;
}

#endif
