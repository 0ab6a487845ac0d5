#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/dtype.h"
#include "core/status.h"
#include "io/safetensors.h"

/* ---- helpers ---------------------------------------------------------------------- */

static void close_safetensors(void *st) { vs_safetensors_close(st); }

/* A file image: 8-byte length, `header`, then `data_len` bytes 0, 1, 2, ...; freed after the case. */
static unsigned char *image(const char *header, size_t data_len, size_t *len) {
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = vs_test_malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_len; i++) b[8 + h + i] = (unsigned char)i;
    return b;
}

/* Expects the image of `header` + data to be rejected with `needle` in the message. */
static int rejects(const char *header, size_t data_len, const char *needle) {
    size_t len;
    unsigned char *b = image(header, data_len, &len);
    vs_safetensors *st = (vs_safetensors *)1;
    vs_status s = vs_safetensors_open_buffer(&st, b, len, "bad.safetensors");
    CHECK_MSG(s == VS_ERR_FORMAT, "status %s (%s)", vs_status_name(s), vs_last_error());
    CHECK(st == NULL);
    CHECK_MSG(strstr(vs_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"", vs_last_error(), needle);
    CHECK_MSG(strstr(vs_last_error(), "bad.safetensors") != NULL, "message lacks the file: %s", vs_last_error());
    return 0;
}
#define REJECTS(header, data_len, needle) CHECK_MSG(rejects(header, data_len, needle) == 0, "header: %s", header)

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}
static void remove_tree(const char *dir) { nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS); }
static void remove_tree_copy(void *dir) {
    remove_tree(dir);
    free(dir);
}

/* A new folder under /tmp ("" if none), removed with what it holds after the case. */
static void make_temp_dir(char *dir) {
    strcpy(dir, "/tmp/vs_test_st_XXXXXX");
    if (!mkdtemp(dir)) dir[0] = '\0';
    else vs_test_defer(remove_tree_copy, strdup(dir));
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fputs(text, f);
    return fclose(f) != 0;
}

/* ---- reading one image --------------------------------------------------------------- */

TEST(reads_a_valid_image) {
    /* entries listed out of offset order, a scalar, an empty tensor, padding spaces */
    const char *header = "{\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
                         "\"__metadata__\":{\"format\":\"pt\",\"note\":\"\\u00e9\"},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                         "\"empty\":{\"dtype\":\"BF16\",\"shape\":[0,4],\"data_offsets\":[32,32]},"
                         "\"c\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,2],\"data_offsets\":[32,34]}}   ";
    size_t len;
    unsigned char *b = image(header, 34, &len);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open_buffer(&st, b, len, "ok.safetensors"));
    vs_test_defer(close_safetensors, st);
    CHECK(vs_safetensors_count(st) == 4);
    const vs_st_entry *e = vs_safetensors_entry(st, 0);
    CHECK(strcmp(e->name, "b") == 0 && e->dtype == VS_I64 && e->ndim == 0 && e->nbytes == 8);
    CHECK(e->data == b + 8 + strlen(header) + 24);
    CHECK(strcmp(e->file, "ok.safetensors") == 0);
    e = vs_safetensors_find(st, "a");
    CHECK(e && e->dtype == VS_F32 && e->ndim == 2 && e->shape[0] == 2 && e->shape[1] == 3 && e->nbytes == 24);
    CHECK(e->data == b + 8 + strlen(header));
    e = vs_safetensors_find(st, "empty");
    CHECK(e && e->nbytes == 0 && e->shape[0] == 0);
    e = vs_safetensors_find(st, "c");
    CHECK(e && e->ndim == 5 && e->dtype == VS_U8 && ((const unsigned char *)e->data)[1] == 33);
    CHECK(vs_safetensors_find(st, "d") == NULL);
    CHECK(vs_safetensors_entry(st, 4) == NULL);
    CHECK(strcmp(vs_safetensors_metadata(st, "format"), "pt") == 0);
    CHECK(strcmp(vs_safetensors_metadata(st, "note"), "\xc3\xa9") == 0);
    CHECK(vs_safetensors_metadata(st, "other") == NULL);

    /* the smallest valid file: "{}" and nothing else */
    b = image("{}", 0, &len);
    CHECK_OK(vs_safetensors_open_buffer(&st, b, len, "empty.safetensors"));
    vs_test_defer(close_safetensors, st);
    CHECK(vs_safetensors_count(st) == 0 && vs_safetensors_metadata(st, "format") == NULL);
    vs_safetensors_close(NULL);
    return 0;
}

TEST(rejects_bad_header_lengths) {
    unsigned char b[64] = {0};
    vs_safetensors *st;
    CHECK_FAILS(vs_safetensors_open_buffer(&st, b, 5, "bad.safetensors"), VS_ERR_FORMAT, "too short");
    b[0] = 1;
    CHECK_FAILS(vs_safetensors_open_buffer(&st, b, 16, "bad.safetensors"), VS_ERR_FORMAT, "below the minimum of 2");
    uint64_t big = 100000001;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(big >> (8 * i));
    CHECK_FAILS(vs_safetensors_open_buffer(&st, b, 64, "bad.safetensors"), VS_ERR_FORMAT, "exceeds the limit");
    memset(b, 0xff, 8);
    CHECK_FAILS(vs_safetensors_open_buffer(&st, b, 64, "bad.safetensors"), VS_ERR_FORMAT, "exceeds the limit");
    memset(b, 0, 8);
    b[0] = 57; /* 8 + 57 > 64 */
    CHECK_FAILS(vs_safetensors_open_buffer(&st, b, 64, "bad.safetensors"), VS_ERR_FORMAT, "runs past the end of the file");
    CHECK(st == NULL);
    return 0;
}

TEST(rejects_malformed_headers) {
    REJECTS("{\"a\":1", 0, "invalid JSON at byte 6");
    REJECTS("{} x", 0, "unexpected data");
    REJECTS("[1,2]", 0, "header must be a JSON object, not array");
    REJECTS("{\"\xc3\x28\":{}}", 0, "invalid UTF-8");
    REJECTS("{\"a\":[]}", 0, "tensor 'a': header entry must be an object");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"foo\":1}}", 4, "tensor 'a': unknown field 'foo'");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing field 'shape'");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'dtype' given twice");
    REJECTS("{\"__metadata__\":[],\"a\":{}}", 0, "__metadata__ must be an object of strings, not array");
    REJECTS("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k' must be a string");
    REJECTS("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ given twice");
    return 0;
}

TEST(rejects_bad_dtypes_and_shapes) {
    REJECTS("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "tensor 'w': unsupported dtype 'F64'");
    REJECTS("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unsupported dtype 'f32'");
    REJECTS("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype must be a string");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, "shape must be an array");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "6 dimensions, at most 5");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative integers");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "non-negative integers");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "non-negative integers");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "tensor 'w': shape overflows");
    REJECTS("{\"w\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807,2],\"data_offsets\":[0,4]}}", 4, "shape overflows");
    /* found by the fuzzer: empty, but a dimension too large for vs_tensor_alloc */
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1099511627776210995.16270,0],\"data_offsets\":[0,0]}}", 0,
            "shape overflows");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
            "shape overflows"); /* the order of dimensions must not matter for the check */
    return 0;
}

TEST(rejects_bad_byte_ranges) {
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets must be [begin, end]");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "data_offsets must be");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "data_offsets must be");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4, "data_offsets must be");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets must be");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
            "tensor 'w': data_offsets [0, 8] run past the end of the data (4 bytes)");
    REJECTS("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
            "tensor 'w': F32 [2, 3] needs 24 bytes but data_offsets [0, 20] hold 20");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "tensor 'b': bytes [4, 12) overlap tensor 'a'");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap tensor");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "tensor 'b': unused gap of 4 bytes");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a': unused gap of 4 bytes");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, "8 bytes at the end of the data section");
    REJECTS("{}", 1, "1 bytes at the end");
    REJECTS("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a' appears twice");
    return 0;
}

/* ---- writing and loading ---------------------------------------------------------------- */

TEST(write_then_read_round_trip) {
    char dir[64], path[128];
    make_temp_dir(dir);
    CHECK(dir[0]);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float w[6] = {1.0f, -2.0f, 0.5f, 3.25f, -0.125f, 100.0f};
    uint16_t h[3] = {vs_f32_to_bf16(1.5f), vs_f32_to_bf16(-3.0f), vs_f32_to_bf16(0.25f)};
    int64_t ids[2] = {-7, 1LL << 40};
    unsigned char bytes[3] = {1, 2, 3};
    const char *names[] = {"u8 \"odd\\name\"\n", "blocks.0.weight", "ids", "h"};
    vs_tensor tensors[4] = {
        vs_tensor_view(bytes, VS_U8, VS_CPU, 1, (int64_t[]){3}),
        vs_tensor_view(w, VS_F32, VS_CPU, 2, (int64_t[]){2, 3}),
        vs_tensor_view(ids, VS_I64, VS_CPU, 1, (int64_t[]){2}),
        vs_tensor_view(h, VS_BF16, VS_CPU, 3, (int64_t[]){1, 3, 1}),
    };
    const char *keys[] = {"format", "quote\""}, *values[] = {"pt", "x\ty"};
    CHECK_OK(vs_safetensors_write(path, 4, names, tensors, 2, keys, values));

    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, path));
    vs_test_defer(close_safetensors, st);
    CHECK(vs_safetensors_count(st) == 4);
    CHECK(strcmp(vs_safetensors_metadata(st, "format"), "pt") == 0);
    CHECK(strcmp(vs_safetensors_metadata(st, "quote\""), "x\ty") == 0);
    for (int i = 0; i < 4; i++) {
        const vs_st_entry *e = vs_safetensors_find(st, names[i]);
        CHECK_MSG(e != NULL, "%s missing", names[i]);
        CHECK(e->dtype == tensors[i].dtype && e->ndim == tensors[i].ndim);
        CHECK(memcmp(e->shape, tensors[i].shape, sizeof(int64_t) * (size_t)e->ndim) == 0);
        CHECK(memcmp(e->data, tensors[i].data, e->nbytes) == 0);
        CHECK(strcmp(e->file, path) == 0);
        /* the writer lays out wide dtypes first: every tensor is aligned to its element size */
        CHECK(((uintptr_t)e->data) % vs_dtype_size(e->dtype) == 0);
    }
    vs_tensor *t = vs_test_tensor(), *ids_t = vs_test_tensor();
    CHECK_OK(vs_safetensors_load(st, "blocks.0.weight", VS_F32, VS_CPU, 2, (int64_t[]){2, 3}, t));
    CHECK(t->owned && t->ndim == 2 && memcmp(t->data, w, sizeof w) == 0);
    CHECK_OK(vs_safetensors_load(st, "ids", VS_I64, VS_CPU, 0, NULL, ids_t));
    CHECK(((int64_t *)ids_t->data)[1] == 1LL << 40);

    /* an empty checkpoint is a valid file too */
    CHECK_OK(vs_safetensors_write(path, 0, NULL, NULL, 0, NULL, NULL));
    CHECK_OK(vs_safetensors_open(&st, path));
    vs_test_defer(close_safetensors, st);
    CHECK(vs_safetensors_count(st) == 0);
    return 0;
}

TEST(load_converts_between_float_dtypes) {
    float w[5] = {1.0f, -2.5f, 0.1f, 300.0f, -1e-3f};
    const char *names[] = {"w"};
    vs_tensor src = vs_tensor_view(w, VS_F32, VS_CPU, 1, (int64_t[]){5});
    char dir[64], path[128];
    make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    CHECK_OK(vs_safetensors_write(path, 1, names, &src, 0, NULL, NULL));
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, dir)); /* a folder with one file */
    vs_test_defer(close_safetensors, st);
    const vs_dtype targets[] = {VS_F16, VS_BF16, VS_F8E4M3, VS_F32};
    for (int k = 0; k < 4; k++) {
        vs_tensor *t = vs_test_tensor();
        CHECK_OK(vs_safetensors_load(st, "w", targets[k], VS_CPU, 1, (int64_t[]){5}, t));
        CHECK(t->dtype == targets[k] && t->device == VS_CPU && t->shape[0] == 5);
        unsigned char expect[20];
        vs_convert(expect, targets[k], w, VS_F32, 5);
        CHECK_MSG(memcmp(t->data, expect, 5 * vs_dtype_size(targets[k])) == 0, "as %s", vs_dtype_name(targets[k]));
    }

    /* BF16 stored at an odd address (header length 3) converts to F32 exactly */
    uint16_t bf[2] = {vs_f32_to_bf16(2.0f), vs_f32_to_bf16(-0.75f)};
    const char *header = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}  ";
    size_t len;
    unsigned char *b = image(header, 4, &len);
    memcpy(b + 8 + strlen(header), bf, 4);
    CHECK((8 + strlen(header)) % 2 == 1);
    CHECK_OK(vs_safetensors_open_buffer(&st, b, len, "odd"));
    vs_test_defer(close_safetensors, st);
    vs_tensor *t = vs_test_tensor();
    CHECK_OK(vs_safetensors_load(st, "b", VS_F32, VS_CPU, 0, NULL, t));
    CHECK(((float *)t->data)[0] == 2.0f && ((float *)t->data)[1] == -0.75f);
    return 0;
}

TEST(load_reports_missing_wrong_shape_and_dtype) {
    const char *header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                         "\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[24,32]}}";
    size_t len;
    unsigned char *b = image(header, 32, &len);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open_buffer(&st, b, len, "ck.safetensors"));
    vs_test_defer(close_safetensors, st);
    vs_tensor t;
    CHECK_FAILS(vs_safetensors_load(st, "blocks.9.w", VS_F32, VS_CPU, 0, NULL, &t), VS_ERR_NOT_FOUND,
                "tensor 'blocks.9.w' not found in ck.safetensors");
    CHECK(t.data == NULL);
    CHECK_FAILS(vs_safetensors_load(st, "w", VS_F32, VS_CPU, 2, (int64_t[]){3, 2}, &t), VS_ERR_SHAPE,
                "tensor 'w' has shape [2, 3], expected [3, 2]");
    CHECK_FAILS(vs_safetensors_load(st, "w", VS_F32, VS_CPU, 3, (int64_t[]){2, 3, 1}, &t), VS_ERR_SHAPE,
                "expected [2, 3, 1]");
    CHECK_FAILS(vs_safetensors_load(st, "ids", VS_F32, VS_CPU, 0, NULL, &t), VS_ERR_SHAPE,
                "tensor 'ids' is I32 and cannot be converted to F32");
    CHECK_FAILS(vs_safetensors_load(st, "w", VS_I32, VS_CPU, 0, NULL, &t), VS_ERR_SHAPE, "cannot be converted to I32");
    CHECK_FAILS(vs_safetensors_load(st, "w", VS_F32, VS_CPU, 6, (int64_t[]){1, 1, 1, 1, 1, 1}, &t), VS_ERR_INVALID_ARG,
                "'w'");
    if (vs_cuda_device_count() == 0) {
        vs_status s = vs_safetensors_load(st, "w", VS_BF16, VS_CUDA, 0, NULL, &t);
        CHECK(s == VS_ERR_UNSUPPORTED && t.data == NULL);
    }
    vs_tensor *ids = vs_test_tensor();
    CHECK_OK(vs_safetensors_load(st, "ids", VS_I32, VS_CPU, 1, (int64_t[]){2}, ids));
    CHECK(((unsigned char *)ids->data)[0] == 24);
    return 0;
}

TEST(write_rejects_bad_arguments) {
    float w[2] = {1, 2};
    vs_tensor t[2] = {vs_tensor_view(w, VS_F32, VS_CPU, 1, (int64_t[]){2}),
                      vs_tensor_view(w, VS_F32, VS_CPU, 1, (int64_t[]){2})};
    const char *dup[] = {"a", "a"}, *meta[] = {"__metadata__", "b"}, *ok[] = {"a", "b"};
    CHECK_FAILS(vs_safetensors_write("/tmp/vs_never.safetensors", 2, dup, t, 0, NULL, NULL), VS_ERR_INVALID_ARG,
                "'a' given twice");
    CHECK_FAILS(vs_safetensors_write("/tmp/vs_never.safetensors", 2, meta, t, 0, NULL, NULL), VS_ERR_INVALID_ARG,
                "__metadata__");
    vs_tensor strided = vs_tensor_view(w, VS_F32, VS_CPU, 2, (int64_t[]){1, 2});
    strided.stride[1] = 2;
    vs_tensor bad[2] = {t[0], strided};
    CHECK_FAILS(vs_safetensors_write("/tmp/vs_never.safetensors", 2, ok, bad, 0, NULL, NULL), VS_ERR_INVALID_ARG,
                "'b' is not contiguous");
    bad[1] = t[1];
    bad[1].device = VS_CUDA;
    CHECK_FAILS(vs_safetensors_write("/tmp/vs_never.safetensors", 2, ok, bad, 0, NULL, NULL), VS_ERR_INVALID_ARG,
                "not in host memory");
    CHECK(access("/tmp/vs_never.safetensors", F_OK) != 0);
    return 0;
}

TEST(failed_write_leaves_existing_file_intact) {
    char dir[64], path[128], tmp[256], sub[140];
    make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float w[2] = {1, 2};
    const char *names[] = {"w"};
    vs_tensor t = vs_tensor_view(w, VS_F32, VS_CPU, 1, (int64_t[]){2});
    CHECK_OK(vs_safetensors_write(path, 1, names, &t, 0, NULL, NULL));
    struct stat before, after;
    CHECK(stat(path, &before) == 0);
    /* the temporary cannot be created: a folder is in its place */
    CHECK(mkdir(tmp, 0700) == 0);
    w[0] = 5;
    CHECK_FAILS(vs_safetensors_write(path, 1, names, &t, 0, NULL, NULL), VS_ERR_IO, "m.safetensors.tmp");
    CHECK(rmdir(tmp) == 0);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, path));
    vs_test_defer(close_safetensors, st);
    CHECK(((const float *)vs_safetensors_find(st, "w")->data)[0] == 1.0f);
    CHECK(stat(path, &after) == 0 && after.st_size == before.st_size);
    /* the rename fails (the target is a non-empty folder): the temporary is removed */
    snprintf(sub, sizeof sub, "%s/x.safetensors", dir);
    char inner[200];
    snprintf(inner, sizeof inner, "%s/keep", sub);
    CHECK(mkdir(sub, 0700) == 0 && write_text(inner, "x") == 0);
    CHECK_FAILS(vs_safetensors_write(sub, 1, names, &t, 0, NULL, NULL), VS_ERR_IO, "rename");
    snprintf(tmp, sizeof tmp, "%s.tmp", sub);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(access(inner, F_OK) == 0);
    return 0;
}

/* ---- sharded sets and folders -------------------------------------------------------------- */

/* Writes shard1 {a, b} and shard2 {c} into dir. */
static int write_shards(const char *dir, float *a, float *b, float *c) {
    char p[200];
    const char *n1[] = {"a", "b"}, *n2[] = {"c"};
    vs_tensor t1[2] = {vs_tensor_view(a, VS_F32, VS_CPU, 1, (int64_t[]){4}),
                       vs_tensor_view(b, VS_F32, VS_CPU, 2, (int64_t[]){2, 2})};
    vs_tensor t2 = vs_tensor_view(c, VS_F32, VS_CPU, 1, (int64_t[]){3});
    snprintf(p, sizeof p, "%s/m-00001-of-00002.safetensors", dir);
    CHECK_OK(vs_safetensors_write(p, 2, n1, t1, 1, (const char *[]){"format"}, (const char *[]){"pt"}));
    snprintf(p, sizeof p, "%s/m-00002-of-00002.safetensors", dir);
    CHECK_OK(vs_safetensors_write(p, 1, n2, &t2, 0, NULL, NULL));
    return 0;
}

static int write_index(const char *dir, const char *name, const char *map) {
    char p[200], text[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    snprintf(text, sizeof text, "{\"metadata\": {\"total_size\": 44}, \"weight_map\": {%s}}", map);
    return write_text(p, text);
}

#define GOOD_MAP                                                                                       \
    "\"a\": \"m-00001-of-00002.safetensors\", \"c\": \"m-00002-of-00002.safetensors\", "              \
    "\"b\": \"m-00001-of-00002.safetensors\""

TEST(opens_a_sharded_set_by_index_and_by_folder) {
    char dir[64], p[200];
    make_temp_dir(dir);
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[3] = {9, 10, 11};
    CHECK(write_shards(dir, a, b, c) == 0);
    CHECK(write_index(dir, "diffusion_pytorch_model.safetensors.index.json", GOOD_MAP) == 0);
    snprintf(p, sizeof p, "%s/diffusion_pytorch_model.safetensors.index.json", dir);
    for (int how = 0; how < 2; how++) {
        vs_safetensors *st;
        CHECK_OK(vs_safetensors_open(&st, how == 0 ? p : dir));
        vs_test_defer(close_safetensors, st);
        CHECK(vs_safetensors_count(st) == 3);
        const vs_st_entry *e = vs_safetensors_find(st, "c");
        CHECK(e && strstr(e->file, "m-00002-of-00002.safetensors") && ((const float *)e->data)[2] == 11);
        CHECK(strstr(vs_safetensors_find(st, "b")->file, "m-00001-of-00002.safetensors") != NULL);
        CHECK(strcmp(vs_safetensors_metadata(st, "format"), "pt") == 0);
        vs_tensor *t = vs_test_tensor();
        CHECK_OK(vs_safetensors_load(st, "b", VS_F16, VS_CPU, 2, (int64_t[]){2, 2}, t));
        CHECK(vs_f16_to_f32(((uint16_t *)t->data)[3]) == 8.0f);
        vs_tensor missing;
        CHECK_FAILS(vs_safetensors_load(st, "d", VS_F32, VS_CPU, 0, NULL, &missing), VS_ERR_NOT_FOUND,
                    how == 0 ? p : dir);
    }
    /* without the index, the folder's files are all opened */
    CHECK(unlink(p) == 0);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, dir));
    vs_test_defer(close_safetensors, st);
    CHECK(vs_safetensors_count(st) == 3 && vs_safetensors_find(st, "a") && vs_safetensors_find(st, "c"));
    return 0;
}

TEST(rejects_inconsistent_sharded_sets) {
    char dir[64], idx[200], p[200];
    make_temp_dir(dir);
    float a[4] = {0}, b[4] = {0}, c[3] = {0};
    CHECK(write_shards(dir, a, b, c) == 0);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    vs_safetensors *st;

    CHECK(write_index(dir, "model.safetensors.index.json",
                      "\"a\": \"m-00002-of-00002.safetensors\", \"c\": \"m-00002-of-00002.safetensors\", "
                      "\"b\": \"m-00001-of-00002.safetensors\"") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_FORMAT, "weight_map puts 'a' in m-00002-of-00002.safetensors");
    CHECK(write_index(dir, "model.safetensors.index.json",
                      "\"a\": \"m-00001-of-00002.safetensors\", \"c\": \"m-00002-of-00002.safetensors\"") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, dir), VS_ERR_FORMAT, "tensor 'b' in");
    CHECK(strstr(vs_last_error(), "missing from weight_map") != NULL);
    CHECK(write_index(dir, "model.safetensors.index.json", GOOD_MAP ", \"a\": \"m-00001-of-00002.safetensors\"") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_FORMAT, "weight_map lists 'a' twice");
    CHECK(write_index(dir, "model.safetensors.index.json", GOOD_MAP ", \"z\": \"m-00003-of-00002.safetensors\"") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_NOT_FOUND, "m-00003-of-00002.safetensors");
    CHECK(strstr(vs_last_error(), "shard of") != NULL);
    CHECK(write_index(dir, "model.safetensors.index.json", "\"a\": \"../m.safetensors\"") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_FORMAT, "not a file beside the index");
    CHECK(write_index(dir, "model.safetensors.index.json", "\"a\": 3") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_FORMAT, "weight_map value of 'a' must be a file name");
    CHECK(write_index(dir, "model.safetensors.index.json", "") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_FORMAT, "weight_map is empty");
    CHECK(write_text(idx, "{\"metadata\": {}}") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_FORMAT, "no \"weight_map\" object");
    CHECK(write_text(idx, "{\"weight_map\": {") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, idx), VS_ERR_FORMAT, "model.safetensors.index.json: invalid JSON");
    CHECK(unlink(idx) == 0);

    /* the same name in two unindexed files */
    snprintf(p, sizeof p, "%s/extra.safetensors", dir);
    const char *names[] = {"c"};
    vs_tensor t = vs_tensor_view(c, VS_F32, VS_CPU, 1, (int64_t[]){3});
    CHECK_OK(vs_safetensors_write(p, 1, names, &t, 0, NULL, NULL));
    CHECK_FAILS(vs_safetensors_open(&st, dir), VS_ERR_FORMAT, "tensor 'c' appears in both");
    /* a malformed file among them names that file */
    CHECK(write_text(p, "xx") == 0);
    CHECK_FAILS(vs_safetensors_open(&st, dir), VS_ERR_FORMAT, "extra.safetensors: file is 2 bytes");

    make_temp_dir(dir);
    CHECK_FAILS(vs_safetensors_open(&st, dir), VS_ERR_NOT_FOUND, "no .safetensors files");
    remove_tree(dir);
    CHECK_FAILS(vs_safetensors_open(&st, dir), VS_ERR_NOT_FOUND, dir);
    CHECK(st == NULL);
    return 0;
}

RUN_TESTS(T(reads_a_valid_image), T(rejects_bad_header_lengths), T(rejects_malformed_headers),
          T(rejects_bad_dtypes_and_shapes), T(rejects_bad_byte_ranges), T(write_then_read_round_trip),
          T(load_converts_between_float_dtypes), T(load_reports_missing_wrong_shape_and_dtype),
          T(write_rejects_bad_arguments), T(failed_write_leaves_existing_file_intact),
          T(opens_a_sharded_set_by_index_and_by_folder), T(rejects_inconsistent_sharded_sets))
