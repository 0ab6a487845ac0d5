/* Prompt cleaning and encoding of the Wan pipeline (see prompt.h). */
#include "models/wan/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static size_t put_utf8(char *dst, uint32_t cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | cp >> 6);
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | cp >> 12);
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | cp >> 18);
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Python's html.unescape of a numeric reference: some code points are
 * replaced (NUL, surrogates, C1 as windows-1252), some dropped. Returns
 * the bytes written to dst (0: dropped). */
static size_t numeric_ref(uint32_t num, char *dst) {
    static const uint16_t cp1252[32] = {
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178};
    if (num == 0 || (num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return put_utf8(dst, 0xFFFD);
    if (num == 0x0D) return put_utf8(dst, 0x0D);
    if (num >= 0x80 && num <= 0x9F) return put_utf8(dst, cp1252[num - 0x80]);
    if ((num >= 1 && num <= 8) || num == 0x0B || (num >= 0x0E && num <= 0x1F) || (num >= 0x7F && num <= 0x9F) ||
        (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE)
        return 0;
    return put_utf8(dst, num);
}

/* One html.unescape pass; dst has room for len bytes (unescaping never grows text). */
static size_t unescape(const char *s, size_t len, char *dst) {
    static const struct { const char *name, *text; } named[] = {
        {"amp;", "&"}, {"amp", "&"}, {"lt;", "<"}, {"lt", "<"}, {"gt;", ">"}, {"gt", ">"}, {"quot;", "\""},
        {"quot", "\""}, {"apos;", "'"}, {"nbsp;", "\xC2\xA0"}, {"nbsp", "\xC2\xA0"}};
    size_t o = 0, i = 0;
    while (i < len) {
        if (s[i] != '&') {
            dst[o++] = s[i++];
            continue;
        }
        size_t j = i + 1;
        if (j < len && s[j] == '#') { /* &#123; or &#x7b; (semicolon optional) */
            int hex = j + 1 < len && (s[j + 1] == 'x' || s[j + 1] == 'X');
            size_t k = j + 1 + hex, start = k;
            uint64_t num = 0;
            while (k < len && (hex ? strchr("0123456789abcdefABCDEF", s[k]) != NULL : (s[k] >= '0' && s[k] <= '9'))) {
                int dgt = s[k] <= '9' ? s[k] - '0' : (s[k] | 0x20) - 'a' + 10;
                num = num > 0x10FFFF ? num : num * (hex ? 16 : 10) + (uint64_t)dgt;
                k++;
            }
            if (k > start) {
                if (k < len && s[k] == ';') k++;
                o += numeric_ref(num > 0x10FFFF ? 0x110000 : (uint32_t)num, dst + o);
                i = k;
                continue;
            }
            dst[o++] = s[i++];
            continue;
        }
        /* a name: up to 32 bytes other than tab, newline, form feed, space, <, &, #, ; and an optional ; */
        size_t k = j;
        while (k < len && k - j < 32 && !strchr("\t\n\f <&#;", s[k])) k++;
        if (k < len && s[k] == ';' && k > j) k++;
        const char *text = NULL;
        size_t used = 0;
        for (size_t n = k - j; n >= 2 && !text; n--) { /* the whole name, else its longest known prefix */
            for (size_t t = 0; t < sizeof named / sizeof named[0]; t++) {
                if (strlen(named[t].name) == n && !memcmp(s + j, named[t].name, n)) {
                    text = named[t].text;
                    used = n;
                    break;
                }
            }
        }
        if (!text) {
            dst[o++] = s[i++];
            continue;
        }
        memcpy(dst + o, text, strlen(text));
        o += strlen(text);
        i = j + used;
    }
    return o;
}

/* Python's str.isspace, which re's \s and str.strip use. Returns the
 * byte length of a whitespace character at s, 0 if there is none. */
static size_t space_len(const unsigned char *s, size_t len) {
    if (s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0D) || (s[0] >= 0x1C && s[0] <= 0x1F)) return 1;
    if (len >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (len >= 3) {
        uint32_t cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
            (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
             cp == 0x205F || cp == 0x3000))
            return 3;
    }
    return 0;
}

vs_status vs_wan_prompt_clean(const char *prompt, char **out) {
    size_t len = strlen(prompt);
    char *a = malloc(len + 1), *b = malloc(len + 1);
    if (!a || !b) {
        free(a);
        free(b);
        return vs_fail(VS_ERR_OOM, "prompt: out of memory");
    }
    len = unescape(prompt, len, a);
    len = unescape(a, len, b);
    /* runs of whitespace -> one space, then strip both ends */
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = space_len((const unsigned char *)b + i, len - i);
        if (!n) {
            a[o++] = b[i++];
            continue;
        }
        while (i < len && (n = space_len((const unsigned char *)b + i, len - i)) > 0) i += n;
        a[o++] = ' ';
    }
    size_t start = o > 0 && a[0] == ' ', end = o > start && a[o - 1] == ' ' ? o - 1 : o;
    memmove(a, a + start, end - start);
    a[end - start] = 0;
    free(b);
    *out = a;
    return VS_OK;
}

vs_status vs_wan_encode_prompt(const vs_tokenizer *tok, const vs_umt5 *encoder, const char *prompt, int max_length,
                               float *out, int *count) {
    const int d = vs_umt5_get_config(encoder)->d_model;
    if (max_length <= 0) return vs_fail(VS_ERR_INVALID_ARG, "prompt: max_length must be positive, got %d", max_length);
    char *clean;
    VS_TRY(vs_wan_prompt_clean(prompt, &clean));
    int32_t *ids = malloc((size_t)max_length * 2 * sizeof *ids);
    if (!ids) {
        free(clean);
        return vs_fail(VS_ERR_OOM, "prompt: out of memory");
    }
    int n = 0;
    vs_status s = vs_tokenizer_encode_padded(tok, clean, strlen(clean), max_length, ids, ids + max_length, &n);
    free(clean);
    if (s == VS_OK) s = vs_umt5_encode(encoder, ids, ids + max_length, max_length, out);
    free(ids);
    if (s != VS_OK) return vs_fail_context(s, "encoding the prompt");
    memset(out + (size_t)n * d, 0, (size_t)(max_length - n) * d * sizeof(float));
    if (count) *count = n;
    return VS_OK;
}
