#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "core/json.h"
#include "core/status.h"

static void free_json(void *doc) { vs_json_free(doc); }

/* Parses a NUL-terminated literal. */
static vs_status parse(vs_json_doc **doc, const char *text) { return vs_json_parse(doc, text, strlen(text), "t.json"); }

/* Expects `text` to be rejected with a message containing `needle`. */
static int rejects(const char *text, size_t len, const char *needle) {
    vs_json_doc *doc = (vs_json_doc *)1;
    CHECK_FAILS(vs_json_parse(&doc, text, len, "bad.json"), VS_ERR_FORMAT, needle);
    CHECK(doc == NULL);
    CHECK_MSG(strstr(vs_last_error(), "bad.json") != NULL, "message lacks the label: %s", vs_last_error());
    return 0;
}
#define REJECTS(text, needle) CHECK_MSG(rejects(text, sizeof(text) - 1, needle) == 0, "input: %s", text)

TEST(parses_a_config_document) {
    vs_json_doc *doc;
    CHECK_OK(parse(&doc, " {\"_class_name\": \"WanTransformer3DModel\", \"num_layers\": 30,\n"
                        "  \"eps\": 1e-06, \"patch_size\": [1, 2, 2], \"qk_norm\": \"rms_norm_across_heads\",\n"
                        "  \"added_kv_proj_dim\": null, \"flag\": true, \"off\": false, \"nested\": {\"a\": {}}}\n"));
    vs_test_defer(free_json, doc);
    const vs_json *root = vs_json_root(doc);
    CHECK(vs_json_typeof(root) == VS_JSON_OBJECT);
    CHECK(vs_json_size(root) == 9);
    CHECK(strcmp(vs_json_key_at(root, 0), "_class_name") == 0);
    CHECK(strcmp(vs_json_key_at(root, 8), "nested") == 0);
    CHECK(vs_json_key_at(root, 9) == NULL);
    CHECK(strcmp(vs_json_get_string(root, "_class_name", ""), "WanTransformer3DModel") == 0);
    CHECK(vs_json_get_int(root, "num_layers", -1) == 30);
    CHECK(vs_json_get_number(root, "eps", 0) == 1e-6);
    CHECK(vs_json_get_int(root, "eps", -1) == -1); /* not integral */
    CHECK(vs_json_get_int(root, "missing", 7) == 7);
    CHECK(vs_json_get_number(root, "qk_norm", 2.5) == 2.5); /* wrong type: fallback */
    CHECK(strcmp(vs_json_get_string(root, "num_layers", "dflt"), "dflt") == 0);
    const vs_json *patch = vs_json_get(root, "patch_size");
    CHECK(vs_json_typeof(patch) == VS_JSON_ARRAY && vs_json_size(patch) == 3);
    int64_t v;
    CHECK(vs_json_int64(vs_json_at(patch, 2), &v) && v == 2);
    CHECK(vs_json_at(patch, 3) == NULL);
    CHECK(vs_json_typeof(vs_json_get(root, "added_kv_proj_dim")) == VS_JSON_NULL);
    CHECK(vs_json_bool(vs_json_get(root, "flag")) == 1);
    CHECK(vs_json_bool(vs_json_get(root, "off")) == 0);
    CHECK(vs_json_typeof(vs_json_get(vs_json_get(root, "nested"), "a")) == VS_JSON_OBJECT);
    CHECK(vs_json_size(vs_json_get(vs_json_get(root, "nested"), "a")) == 0);
    CHECK(vs_json_get(patch, "x") == NULL);       /* not an object */
    CHECK(vs_json_get(NULL, "x") == NULL);
    CHECK(vs_json_string(patch, NULL) == NULL);
    CHECK(strcmp(vs_json_type_name(VS_JSON_ARRAY), "array") == 0);
    return 0;
}

TEST(scalars_at_top_level) {
    vs_json_doc *doc;
    CHECK_OK(parse(&doc, "  \"x\"  "));
    vs_test_defer(free_json, doc);
    CHECK(strcmp(vs_json_string(vs_json_root(doc), NULL), "x") == 0);
    CHECK_OK(parse(&doc, "-0.5e+2"));
    vs_test_defer(free_json, doc);
    CHECK(vs_json_number(vs_json_root(doc)) == -50.0);
    int64_t v;
    CHECK(vs_json_int64(vs_json_root(doc), &v) && v == -50);
    CHECK_OK(parse(&doc, "null"));
    vs_test_defer(free_json, doc);
    CHECK(vs_json_typeof(vs_json_root(doc)) == VS_JSON_NULL);
    return 0;
}

TEST(numbers_keep_exact_integers) {
    vs_json_doc *doc;
    CHECK_OK(parse(&doc, "[9007199254740993, -9223372036854775808, 9223372036854775807, 9223372036854775808, 0, -0,"
                         " 1.5, 1E2, 2.5e-3, 123456789012345678901234567890, 1e-400]"));
    vs_test_defer(free_json, doc);
    const vs_json *a = vs_json_root(doc);
    int64_t v;
    CHECK(vs_json_int64(vs_json_at(a, 0), &v) && v == 9007199254740993LL); /* beyond double precision */
    CHECK(vs_json_int64(vs_json_at(a, 1), &v) && v == INT64_MIN);
    CHECK(vs_json_int64(vs_json_at(a, 2), &v) && v == INT64_MAX);
    CHECK(!vs_json_int64(vs_json_at(a, 3), &v));
    CHECK(vs_json_number(vs_json_at(a, 3)) == 9223372036854775808.0);
    CHECK(vs_json_int64(vs_json_at(a, 4), &v) && v == 0);
    CHECK(vs_json_int64(vs_json_at(a, 5), &v) && v == 0);
    CHECK(!vs_json_int64(vs_json_at(a, 6), &v));
    CHECK(vs_json_int64(vs_json_at(a, 7), &v) && v == 100);
    CHECK(fabs(vs_json_number(vs_json_at(a, 8)) - 2.5e-3) < 1e-18);
    CHECK(!vs_json_int64(vs_json_at(a, 9), &v));
    CHECK(vs_json_number(vs_json_at(a, 10)) == 0.0);
    return 0;
}

TEST(string_escapes_and_utf8) {
    vs_json_doc *doc;
    CHECK_OK(parse(&doc, "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u4e2d\\ud83d\\ude00\", \"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\","
                         " \"nul\\u0000in\", \"\\u002F\"]"));
    vs_test_defer(free_json, doc);
    const vs_json *a = vs_json_root(doc);
    size_t len;
    CHECK(strcmp(vs_json_string(vs_json_at(a, 0), &len), "a\"b\\c/d\b\f\n\r\t") == 0 && len == 12);
    CHECK(strcmp(vs_json_string(vs_json_at(a, 1), &len), "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80") == 0 && len == 9);
    CHECK(strcmp(vs_json_string(vs_json_at(a, 2), &len), "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80") == 0 && len == 9);
    const char *s = vs_json_string(vs_json_at(a, 3), &len);
    CHECK(len == 6 && memcmp(s, "nul\0in", 7) == 0);
    CHECK(strcmp(vs_json_string(vs_json_at(a, 4), NULL), "/") == 0);
    return 0;
}

TEST(duplicate_keys_are_allowed_first_wins) {
    vs_json_doc *doc;
    CHECK_OK(parse(&doc, "{\"k\": 1, \"k\": 2}"));
    vs_test_defer(free_json, doc);
    CHECK(vs_json_size(vs_json_root(doc)) == 2);
    CHECK(vs_json_get_int(vs_json_root(doc), "k", 0) == 1);
    CHECK(vs_json_get_int(vs_json_root(doc), "K", 0) == 0);
    return 0;
}

TEST(rejects_structural_errors) {
    REJECTS("", "value expected");
    REJECTS("   ", "byte 3");
    REJECTS("{", "object key");
    REJECTS("[1,", "value expected");
    REJECTS("[1 2]", "',' or ']'");
    REJECTS("[1,]", "byte 3");
    REJECTS("{\"a\":1,}", "object key");
    REJECTS("{\"a\" 1}", "':' expected");
    REJECTS("{a:1}", "object key");
    REJECTS("{\"a\":1 \"b\":2}", "',' or '}'");
    REJECTS("[1]]", "unexpected data after");
    REJECTS("{} {}", "byte 3");
    REJECTS("tru", "unexpected character");
    REJECTS("nul", "unexpected character");
    REJECTS("True", "unexpected character");
    REJECTS("'a'", "unexpected character");
    REJECTS("[1]\x00", "unexpected data after");
    REJECTS("\xef\xbb\xbf{}", "byte order mark");
    REJECTS("/* c */ {}", "unexpected character");
    REJECTS("[NaN]", "unexpected character");
    REJECTS("[Infinity]", "unexpected character");
    return 0;
}

TEST(rejects_bad_numbers) {
    REJECTS("01", "leading zeros");
    REJECTS("-", "invalid number");
    REJECTS("-a", "invalid number");
    REJECTS("+1", "unexpected character");
    REJECTS(".5", "unexpected character");
    REJECTS("1.", "after decimal point");
    REJECTS("1.e3", "after decimal point");
    REJECTS("1e", "exponent");
    REJECTS("1e+", "exponent");
    REJECTS("0x10", "unexpected data");
    REJECTS("1e400", "out of range");
    REJECTS("-1e400", "out of range");
    return 0;
}

TEST(rejects_bad_strings) {
    REJECTS("\"abc", "unterminated string");
    REJECTS("\"abc\\", "unterminated string");
    REJECTS("\"a\tb\"", "control character");
    REJECTS("\"a\nb\"", "control character");
    REJECTS("\"\\x41\"", "invalid escape");
    REJECTS("\"\\u12\"", "4 hex digits");
    REJECTS("\"\\u12g4\"", "4 hex digits");
    REJECTS("\"\\udc00\"", "unpaired low surrogate");
    REJECTS("\"\\ud800\"", "not followed by a low surrogate");
    REJECTS("\"\\ud800x\"", "not followed by a low surrogate");
    REJECTS("\"\\ud800\\u0041\"", "not followed by a low surrogate");
    REJECTS("\"\\ud800\\ud800\"", "not followed by a low surrogate");
    REJECTS("\"\\ud800\\u00\"", "4 hex digits");
    return 0;
}

TEST(rejects_ill_formed_utf8) {
    REJECTS("\"\x80\"", "invalid UTF-8");             /* lone continuation byte */
    REJECTS("\"\xc0\xaf\"", "invalid UTF-8");         /* overlong '/' */
    REJECTS("\"\xc1\xbf\"", "invalid UTF-8");         /* overlong */
    REJECTS("\"\xe0\x80\xaf\"", "invalid UTF-8");     /* overlong 3-byte */
    REJECTS("\"\xf0\x80\x80\xaf\"", "invalid UTF-8"); /* overlong 4-byte */
    REJECTS("\"\xed\xa0\x80\"", "invalid UTF-8");     /* encoded surrogate U+D800 */
    REJECTS("\"\xed\xbf\xbf\"", "invalid UTF-8");     /* encoded surrogate U+DFFF */
    REJECTS("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* U+110000 */
    REJECTS("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
    REJECTS("\"\xff\"", "invalid UTF-8");
    REJECTS("\"\xc3\"", "invalid UTF-8");             /* truncated */
    REJECTS("\"\xe4\xb8\"", "invalid UTF-8");
    REJECTS("\"\xe4\x41\xad\"", "invalid UTF-8");     /* bad continuation */
    REJECTS("{\"\xc3\x28\": 1}", "invalid UTF-8");    /* in a key */
    REJECTS("[\xc3\xa9]", "unexpected character");    /* valid UTF-8 outside a string */
    /* the extremes that are allowed */
    vs_json_doc *doc;
    CHECK_OK(parse(&doc, "[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]"));
    vs_test_defer(free_json, doc);
    return 0;
}

TEST(depth_limit_is_64) {
    char text[300];
    for (int depth = 64; depth <= 65; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) text[n++] = '[';
        for (int i = 0; i < depth; i++) text[n++] = ']';
        vs_json_doc *doc = NULL;
        vs_status s = vs_json_parse(&doc, text, n, "deep.json");
        if (depth == 64) {
            CHECK_OK(s);
            vs_json_free(doc);
        } else {
            CHECK(s == VS_ERR_FORMAT && strstr(vs_last_error(), "deeper than 64") && strstr(vs_last_error(), "byte 64"));
        }
    }
    /* objects count too, and a very deep input fails cleanly instead of overflowing the stack */
    static char deep[200000];
    memset(deep, '[', sizeof deep);
    vs_json_doc *doc = NULL;
    CHECK_FAILS(vs_json_parse(&doc, deep, sizeof deep, "deep.json"), VS_ERR_FORMAT, "deeper than 64");
    const char *obj = "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                      "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                      "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                      "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                      "{\"a\":1";
    CHECK_FAILS(parse(&doc, obj), VS_ERR_FORMAT, "deeper than 64");
    return 0;
}

TEST(parses_without_a_terminating_nul) {
    /* the length bounds the input: "[12]" followed by garbage that is not read */
    const char text[] = {'[', '1', '2', ']', 'x'};
    vs_json_doc *doc;
    CHECK_OK(vs_json_parse(&doc, text, 4, "slice"));
    vs_test_defer(free_json, doc);
    int64_t v;
    CHECK(vs_json_int64(vs_json_at(vs_json_root(doc), 0), &v) && v == 12);
    const char num[] = {'1', '2'};
    CHECK_OK(vs_json_parse(&doc, num, 1, "slice"));
    vs_test_defer(free_json, doc);
    CHECK(vs_json_number(vs_json_root(doc)) == 1.0);
    CHECK_FAILS(vs_json_parse(&doc, "\"ab\"", 3, "slice"), VS_ERR_FORMAT, "unterminated");
    return 0;
}

TEST(many_values_span_arena_chunks) {
    /* 20000 members with long strings: forces several arena chunks and stack growth */
    size_t cap = 20000 * 160 + 16, n = 0;
    char *text = malloc(cap);
    CHECK(text != NULL);
    text[n++] = '{';
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s\"key%05d\": [%d, \"%0100d\", {\"x\": [[]]}]", i ? "," : "", i, i, i);
    text[n++] = '}';
    vs_json_doc *doc;
    vs_status s = vs_json_parse(&doc, text, n, "big.json");
    free(text);
    CHECK_OK(s);
    vs_test_defer(free_json, doc);
    const vs_json *root = vs_json_root(doc);
    CHECK(vs_json_size(root) == 20000);
    CHECK(vs_json_get_int(root, "key19999", -1) == -1); /* an array, not a number */
    CHECK(vs_json_int64(vs_json_at(vs_json_get(root, "key12345"), 0), &(int64_t){0}));
    CHECK(strlen(vs_json_string(vs_json_at(vs_json_get(root, "key19999"), 1), NULL)) == 100);
    return 0;
}

TEST(parse_file_reads_and_reports_paths) {
    char path[] = "/tmp/vs_test_json_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    vs_test_remove(path);
    const char *text = "{\"weight_map\": {\"a\": \"s1.safetensors\"}}";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    vs_json_doc *doc;
    CHECK_OK(vs_json_parse_file(&doc, path));
    vs_test_defer(free_json, doc);
    CHECK(strcmp(vs_json_get_string(vs_json_get(vs_json_root(doc), "weight_map"), "a", ""), "s1.safetensors") == 0);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"a\": [1, 2", f);
    fclose(f);
    CHECK_FAILS(vs_json_parse_file(&doc, path), VS_ERR_FORMAT, path);
    CHECK(strstr(vs_last_error(), "byte 11") != NULL);
    unlink(path);
    CHECK_FAILS(vs_json_parse_file(&doc, path), VS_ERR_NOT_FOUND, path);
    CHECK(doc == NULL);
    CHECK_FAILS(vs_json_parse_file(&doc, "/tmp"), VS_ERR_IO, "/tmp: read error");
    vs_json_free(NULL);
    return 0;
}

RUN_TESTS(T(parses_a_config_document), T(scalars_at_top_level), T(numbers_keep_exact_integers),
          T(string_escapes_and_utf8), T(duplicate_keys_are_allowed_first_wins), T(rejects_structural_errors),
          T(rejects_bad_numbers), T(rejects_bad_strings), T(rejects_ill_formed_utf8), T(depth_limit_is_64),
          T(parses_without_a_terminating_nul), T(many_values_span_arena_chunks), T(parse_file_reads_and_reports_paths))
