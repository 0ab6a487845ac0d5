/* safetensors reader and writer.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {str: str}}, then the data section; offsets are relative
 * to the start of the data section. */
#include "io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/devmem.h"
#include "core/dtype.h"
#include "core/json.h"
#include "core/status.h"

#define ST_MAX_HEADER_BYTES 100000000ull /* the limit the reference implementation uses */

typedef struct st_file {
    char *path;                 /* owned; what messages and vs_st_entry.file name */
    const unsigned char *bytes; /* the whole file image */
    size_t len;
    void *map; /* non-NULL when `bytes` is our own mapping */
    vs_json_doc *header;
} st_file;

struct vs_safetensors {
    char *source; /* the path or label it was opened from */
    st_file *files;
    size_t n_files;
    vs_st_entry *entries; /* file order, shard after shard */
    size_t n_entries, cap_entries;
    const vs_st_entry **by_name; /* sorted by name, for lookups */
    const vs_json *metadata;     /* "__metadata__" of the first file, or NULL */
};

static const struct {
    const char *name;
    vs_dtype dtype;
} dtype_names[] = {{"F32", VS_F32}, {"F16", VS_F16}, {"BF16", VS_BF16}, {"F8_E4M3", VS_F8E4M3},
                   {"I32", VS_I32}, {"I64", VS_I64}, {"U8", VS_U8}};
#define N_DTYPES (sizeof dtype_names / sizeof dtype_names[0])

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

/* "[2, 3, 4]" into buf. */
static const char *format_shape(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

void vs_safetensors_close(vs_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_files; i++) {
        if (st->files[i].map) munmap(st->files[i].map, st->files[i].len);
        vs_json_free(st->files[i].header);
        free(st->files[i].path);
    }
    free(st->files);
    free(st->source);
    free(st->entries);
    free(st->by_name);
    free(st);
}

/* Adds a file slot holding `bytes` (mapped when `map` is set). The slot
 * takes ownership of the mapping even when this fails. */
static vs_status add_file(vs_safetensors *st, const char *path, const void *bytes, size_t len, void *map) {
    st_file *grown = realloc(st->files, (st->n_files + 1) * sizeof *grown);
    char *copy = copy_string(path);
    if (grown) st->files = grown;
    if (!grown || !copy) {
        free(copy);
        if (map) munmap(map, len);
        return vs_fail(VS_ERR_OOM, "%s: out of memory", path);
    }
    st->files[st->n_files++] = (st_file){copy, bytes, len, map, NULL};
    return VS_OK;
}

static vs_status map_file(vs_safetensors *st, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return vs_fail(VS_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return vs_fail(VS_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) {
        close(fd);
        return vs_fail(VS_ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return vs_fail(VS_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, len, strerror(e));
    return add_file(st, path, map, len, map);
}

static vs_status push_entry(vs_safetensors *st, const vs_st_entry *e) {
    if (st->n_entries == st->cap_entries) {
        size_t cap = st->cap_entries ? st->cap_entries * 2 : 64;
        vs_st_entry *grown = realloc(st->entries, cap * sizeof *grown);
        if (!grown) return vs_fail(VS_ERR_OOM, "%s: out of memory", e->file);
        st->entries = grown;
        st->cap_entries = cap;
    }
    st->entries[st->n_entries++] = *e;
    return VS_OK;
}

/* Reads one tensor's header record into *e (name and file already set);
 * `data`/`data_len` is the file's data section. Offsets go to range[2]. */
static vs_status parse_tensor_info(const vs_json *info, const unsigned char *data, size_t data_len, vs_st_entry *e,
                                   uint64_t range[2]) {
    const char *file = e->file, *name = e->name;
    if (vs_json_typeof(info) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': header entry must be an object, not %s", file, name,
                       vs_json_type_name(vs_json_typeof(info)));
    static const char *const fields[3] = {"dtype", "shape", "data_offsets"};
    const vs_json *field[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < vs_json_size(info); i++) {
        const char *key = vs_json_key_at(info, i);
        int k = 0;
        while (k < 3 && strcmp(key, fields[k]) != 0) k++;
        if (k == 3) return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': unknown field '%s'", file, name, key);
        if (field[k]) return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': field '%s' given twice", file, name, key);
        field[k] = vs_json_at(info, i);
    }
    for (int k = 0; k < 3; k++)
        if (!field[k]) return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", file, name, fields[k]);

    const char *dtype = vs_json_string(field[0], NULL);
    if (!dtype) return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': dtype must be a string", file, name);
    size_t d = 0;
    while (d < N_DTYPES && strcmp(dtype, dtype_names[d].name) != 0) d++;
    if (d == N_DTYPES)
        return vs_fail(VS_ERR_FORMAT,
                       "%s: tensor '%s': unsupported dtype '%s' (supported: F32 F16 BF16 F8_E4M3 I32 I64 U8)", file,
                       name, dtype);
    e->dtype = dtype_names[d].dtype;

    const vs_json *shape = field[1];
    if (vs_json_typeof(shape) != VS_JSON_ARRAY)
        return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': shape must be an array", file, name);
    if (vs_json_size(shape) > VS_MAX_DIMS)
        return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': shape has %zu dimensions, at most %d are supported", file,
                       name, vs_json_size(shape), VS_MAX_DIMS);
    e->ndim = (int)vs_json_size(shape);
    /* The product of the non-zero dimensions x element size must stay below
     * 2^63 / 16 even when another dimension is 0, so that strides computed
     * from the shape later cannot overflow and vs_tensor_alloc (which allows
     * up to 16-byte elements) accepts every shape this accepts. */
    uint64_t bytes = vs_dtype_size(e->dtype);
    int empty = 0;
    for (int i = 0; i < e->ndim; i++) {
        int64_t dim;
        if (!vs_json_int64(vs_json_at(shape, (size_t)i), &dim) || dim < 0)
            return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': shape must hold non-negative integers", file, name);
        e->shape[i] = dim;
        if (dim == 0) {
            empty = 1;
            continue;
        }
        if (bytes > (uint64_t)INT64_MAX / 16 / (uint64_t)dim)
            return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': shape overflows (too many elements)", file, name);
        bytes *= (uint64_t)dim;
    }
    if (empty) bytes = 0;

    const vs_json *offsets = field[2];
    int64_t begin, end;
    if (vs_json_typeof(offsets) != VS_JSON_ARRAY || vs_json_size(offsets) != 2 ||
        !vs_json_int64(vs_json_at(offsets, 0), &begin) || !vs_json_int64(vs_json_at(offsets, 1), &end) ||
        begin < 0 || end < begin)
        return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end",
                       file, name);
    if ((uint64_t)end > data_len)
        return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] run past the end of the data (%zu bytes)",
                       file, name, (long long)begin, (long long)end, data_len);
    if ((uint64_t)(end - begin) != bytes) {
        char s[128];
        return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': %s %s needs %llu bytes but data_offsets [%lld, %lld] hold %lld",
                       file, name, dtype, format_shape(s, sizeof s, e->ndim, e->shape), (unsigned long long)bytes,
                       (long long)begin, (long long)end, (long long)(end - begin));
    }
    e->data = data + begin;
    e->nbytes = (size_t)bytes;
    range[0] = (uint64_t)begin;
    range[1] = (uint64_t)end;
    return VS_OK;
}

typedef struct {
    uint64_t begin, end;
    const char *name;
} byte_range;

static int compare_ranges(const void *a, const void *b) {
    const byte_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* The tensors' byte ranges must tile the data section exactly. */
static vs_status check_ranges(const char *file, byte_range *ranges, size_t n, size_t data_len) {
    qsort(ranges, n, sizeof *ranges, compare_ranges);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].begin < at)
            return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': bytes [%llu, %llu) overlap tensor '%s'", file,
                           ranges[i].name, (unsigned long long)ranges[i].begin, (unsigned long long)ranges[i].end,
                           ranges[i - 1].name);
        if (ranges[i].begin > at)
            return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s': unused gap of %llu bytes before it in the data section",
                           file, ranges[i].name, (unsigned long long)(ranges[i].begin - at));
        at = ranges[i].end;
    }
    if (at != data_len)
        return vs_fail(VS_ERR_FORMAT, "%s: %llu bytes at the end of the data section belong to no tensor", file,
                       (unsigned long long)(data_len - at));
    return VS_OK;
}

static vs_status parse_metadata(const char *file, const vs_json *meta) {
    if (vs_json_typeof(meta) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: __metadata__ must be an object of strings, not %s", file,
                       vs_json_type_name(vs_json_typeof(meta)));
    for (size_t i = 0; i < vs_json_size(meta); i++)
        if (vs_json_typeof(vs_json_at(meta, i)) != VS_JSON_STRING)
            return vs_fail(VS_ERR_FORMAT, "%s: __metadata__ value of '%s' must be a string, not %s", file,
                           vs_json_key_at(meta, i), vs_json_type_name(vs_json_typeof(vs_json_at(meta, i))));
    return VS_OK;
}

/* Validates file slot `index` and appends its tensors. */
static vs_status parse_file(vs_safetensors *st, size_t index) {
    st_file *f = &st->files[index];
    if (f->len < 8)
        return vs_fail(VS_ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", f->path, f->len);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | f->bytes[i];
    if (header_len < 2)
        return vs_fail(VS_ERR_FORMAT, "%s: header length %llu is below the minimum of 2", f->path,
                       (unsigned long long)header_len);
    if (header_len > ST_MAX_HEADER_BYTES)
        return vs_fail(VS_ERR_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", f->path,
                       (unsigned long long)header_len, ST_MAX_HEADER_BYTES);
    if (header_len > f->len - 8)
        return vs_fail(VS_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", f->path,
                       (unsigned long long)header_len, f->len);

    char label[1100];
    snprintf(label, sizeof label, "%s (header)", f->path);
    VS_TRY(vs_json_parse(&f->header, (const char *)f->bytes + 8, (size_t)header_len, label));
    const vs_json *root = vs_json_root(f->header);
    if (vs_json_typeof(root) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: header must be a JSON object, not %s", f->path,
                       vs_json_type_name(vs_json_typeof(root)));

    const unsigned char *data = f->bytes + 8 + header_len;
    size_t data_len = f->len - 8 - (size_t)header_len;
    size_t n = vs_json_size(root);
    byte_range *ranges = malloc((n ? n : 1) * sizeof *ranges);
    if (!ranges) return vs_fail(VS_ERR_OOM, "%s: out of memory", f->path);
    size_t n_ranges = 0;
    int seen_metadata = 0;
    vs_status s = VS_OK;
    for (size_t i = 0; i < n && s == VS_OK; i++) {
        const char *name = vs_json_key_at(root, i);
        if (strcmp(name, "__metadata__") == 0) {
            if (seen_metadata) s = vs_fail(VS_ERR_FORMAT, "%s: __metadata__ given twice", f->path);
            else s = parse_metadata(f->path, vs_json_at(root, i));
            if (index == 0) st->metadata = vs_json_at(root, i);
            seen_metadata = 1;
            continue;
        }
        vs_st_entry e;
        memset(&e, 0, sizeof e);
        e.name = name;
        e.file = f->path;
        uint64_t range[2] = {0, 0};
        s = parse_tensor_info(vs_json_at(root, i), data, data_len, &e, range);
        if (s == VS_OK) s = push_entry(st, &e);
        if (s == VS_OK) ranges[n_ranges++] = (byte_range){range[0], range[1], name};
    }
    if (s == VS_OK) s = check_ranges(f->path, ranges, n_ranges, data_len);
    free(ranges);
    return s;
}

static int compare_entry_names(const void *a, const void *b) {
    return strcmp((*(const vs_st_entry *const *)a)->name, (*(const vs_st_entry *const *)b)->name);
}

/* Sorts the name index and rejects duplicate names (also across shards). */
static vs_status index_names(vs_safetensors *st) {
    st->by_name = malloc((st->n_entries ? st->n_entries : 1) * sizeof *st->by_name);
    if (!st->by_name) return vs_fail(VS_ERR_OOM, "out of memory indexing %zu tensors", st->n_entries);
    for (size_t i = 0; i < st->n_entries; i++) st->by_name[i] = &st->entries[i];
    qsort(st->by_name, st->n_entries, sizeof *st->by_name, compare_entry_names);
    for (size_t i = 1; i < st->n_entries; i++)
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0) {
            const vs_st_entry *a = st->by_name[i - 1], *b = st->by_name[i];
            if (a > b) {
                const vs_st_entry *t = a;
                a = b;
                b = t;
            }
            if (a->file == b->file) return vs_fail(VS_ERR_FORMAT, "%s: tensor '%s' appears twice", a->file, a->name);
            return vs_fail(VS_ERR_FORMAT, "tensor '%s' appears in both %s and %s", a->name, a->file, b->file);
        }
    return VS_OK;
}

const vs_st_entry *vs_safetensors_find(const vs_safetensors *st, const char *name) {
    if (!st || !name || !st->by_name) return NULL;
    size_t lo = 0, hi = st->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "dir/name" into a new string. */
static char *join_path(const char *dir, size_t dir_len, const char *name) {
    size_t n = strlen(name);
    char *p = malloc(dir_len + 1 + n + 1);
    if (!p) return NULL;
    memcpy(p, dir, dir_len);
    p[dir_len] = '/';
    memcpy(p + dir_len + 1, name, n + 1);
    return p;
}

/* A sharded set: every shard named in weight_map is opened, and weight_map
 * must list exactly the tensors the shards hold, each in its own shard. */
static vs_status open_index(vs_safetensors *st, const char *index_path) {
    vs_json_doc *doc;
    VS_TRY(vs_json_parse_file(&doc, index_path));
    const vs_json *map = vs_json_get(vs_json_root(doc), "weight_map");
    vs_status s = VS_OK;
    if (vs_json_typeof(map) != VS_JSON_OBJECT)
        s = vs_fail(VS_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
    const char *slash = strrchr(index_path, '/');
    size_t dir_len = slash ? (size_t)(slash - index_path) : 1;
    const char *dir = slash ? index_path : ".";
    if (slash == index_path) dir_len = 0; /* "/x.json": shards under "/" */

    /* open each distinct shard in order of first mention */
    for (size_t i = 0; s == VS_OK && i < vs_json_size(map); i++) {
        const char *shard = vs_json_string(vs_json_at(map, i), NULL);
        if (!shard) {
            s = vs_fail(VS_ERR_FORMAT, "%s: weight_map value of '%s' must be a file name", index_path,
                        vs_json_key_at(map, i));
            break;
        }
        if (shard[0] == '\0' || shard[0] == '/' || strstr(shard, "..")) {
            s = vs_fail(VS_ERR_FORMAT, "%s: weight_map names shard '%s', which is not a file beside the index",
                        index_path, shard);
            break;
        }
        char *path = join_path(dir, dir_len, shard);
        if (!path) {
            s = vs_fail(VS_ERR_OOM, "%s: out of memory", index_path);
            break;
        }
        int known = 0;
        for (size_t f = 0; f < st->n_files && !known; f++) known = strcmp(st->files[f].path, path) == 0;
        if (!known) {
            s = map_file(st, path);
            if (s == VS_OK) s = parse_file(st, st->n_files - 1);
            if (s != VS_OK) vs_fail_context(s, "shard of %s", index_path);
        }
        free(path);
    }
    if (s == VS_OK) s = index_names(st);

    /* weight_map <-> shard contents, both ways */
    unsigned char *listed = s == VS_OK ? calloc(st->n_entries ? st->n_entries : 1, 1) : NULL;
    if (s == VS_OK && !listed) s = vs_fail(VS_ERR_OOM, "%s: out of memory", index_path);
    for (size_t i = 0; s == VS_OK && i < vs_json_size(map); i++) {
        const char *name = vs_json_key_at(map, i), *shard = vs_json_string(vs_json_at(map, i), NULL);
        const vs_st_entry *e = vs_safetensors_find(st, name);
        char *path = join_path(dir, dir_len, shard);
        if (!path) {
            s = vs_fail(VS_ERR_OOM, "%s: out of memory", index_path);
            break;
        }
        int in_shard = e && strcmp(e->file, path) == 0;
        free(path);
        if (!in_shard) {
            s = vs_fail(VS_ERR_FORMAT, "%s: weight_map puts '%s' in %s, but that shard has no such tensor", index_path,
                        name, shard);
        } else if (listed[e - st->entries]) {
            s = vs_fail(VS_ERR_FORMAT, "%s: weight_map lists '%s' twice", index_path, name);
        } else {
            listed[e - st->entries] = 1;
        }
    }
    for (size_t i = 0; s == VS_OK && i < st->n_entries; i++)
        if (!listed[i])
            s = vs_fail(VS_ERR_FORMAT, "%s: tensor '%s' in %s is missing from weight_map", index_path,
                        st->entries[i].name, st->entries[i].file);
    if (s == VS_OK && st->n_files == 0) s = vs_fail(VS_ERR_FORMAT, "%s: weight_map is empty", index_path);
    free(listed);
    vs_json_free(doc);
    return s;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A folder: a known index if present, else all *.safetensors files in it. */
static vs_status open_folder(vs_safetensors *st, const char *dir) {
    static const char *const index_names_known[] = {"model.safetensors.index.json",
                                                    "diffusion_pytorch_model.safetensors.index.json"};
    size_t dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/') dir_len--;
    for (int i = 0; i < 2; i++) {
        char *path = join_path(dir, dir_len, index_names_known[i]);
        if (!path) return vs_fail(VS_ERR_OOM, "%s: out of memory", dir);
        struct stat sb;
        if (stat(path, &sb) == 0) {
            vs_status s = open_index(st, path);
            free(path);
            return s;
        }
        free(path);
    }
    DIR *d = opendir(dir);
    if (!d) return vs_fail(VS_ERR_IO, "%s: cannot list folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    vs_status s = VS_OK;
    struct dirent *ent;
    while (s == VS_OK && (ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.' || !ends_with(ent->d_name, ".safetensors")) continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        char *path = join_path(dir, dir_len, ent->d_name);
        if (grown) names = grown;
        if (!grown || !path) {
            free(path);
            s = vs_fail(VS_ERR_OOM, "%s: out of memory", dir);
            break;
        }
        names[n++] = path;
    }
    closedir(d);
    if (s == VS_OK && n == 0) s = vs_fail(VS_ERR_NOT_FOUND, "%s: no .safetensors files in this folder", dir);
    if (s == VS_OK) qsort(names, n, sizeof *names, compare_strings);
    for (size_t i = 0; s == VS_OK && i < n; i++) {
        s = map_file(st, names[i]);
        if (s == VS_OK) s = parse_file(st, st->n_files - 1);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (s == VS_OK) s = index_names(st);
    return s;
}

vs_status vs_safetensors_open(vs_safetensors **out, const char *path) {
    *out = NULL;
    if (!path) return vs_fail(VS_ERR_INVALID_ARG, "safetensors path is NULL");
    vs_safetensors *st = calloc(1, sizeof *st);
    if (st) st->source = copy_string(path);
    if (!st || !st->source) {
        free(st);
        return vs_fail(VS_ERR_OOM, "%s: out of memory", path);
    }
    struct stat sb;
    vs_status s;
    if (stat(path, &sb) != 0) {
        s = vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        s = open_folder(st, path);
    } else if (ends_with(path, ".json")) {
        s = open_index(st, path);
    } else {
        s = map_file(st, path);
        if (s == VS_OK) s = parse_file(st, 0);
        if (s == VS_OK) s = index_names(st);
    }
    if (s != VS_OK) {
        vs_safetensors_close(st);
        return s;
    }
    *out = st;
    return VS_OK;
}

vs_status vs_safetensors_open_buffer(vs_safetensors **out, const void *data, size_t len, const char *label) {
    *out = NULL;
    if (!label) label = "safetensors buffer";
    if (!data && len) return vs_fail(VS_ERR_INVALID_ARG, "%s: NULL data", label);
    vs_safetensors *st = calloc(1, sizeof *st);
    if (st) st->source = copy_string(label);
    if (!st || !st->source) {
        free(st);
        return vs_fail(VS_ERR_OOM, "%s: out of memory", label);
    }
    vs_status s = add_file(st, label, data, len, NULL);
    if (s == VS_OK) s = parse_file(st, 0);
    if (s == VS_OK) s = index_names(st);
    if (s != VS_OK) {
        vs_safetensors_close(st);
        return s;
    }
    *out = st;
    return VS_OK;
}

size_t vs_safetensors_count(const vs_safetensors *st) { return st ? st->n_entries : 0; }

const vs_st_entry *vs_safetensors_entry(const vs_safetensors *st, size_t i) {
    return st && i < st->n_entries ? &st->entries[i] : NULL;
}

const char *vs_safetensors_metadata(const vs_safetensors *st, const char *key) {
    return st ? vs_json_get_string(st->metadata, key, NULL) : NULL;
}

/* Converts n elements; the source may sit at any alignment inside the
 * mapping (the header length is arbitrary), so it is staged in aligned
 * pieces before vs_convert reads it as typed values. */
static void convert_unaligned(void *dst, vs_dtype dst_dtype, const unsigned char *src, vs_dtype src_dtype, int64_t n) {
    size_t src_size = vs_dtype_size(src_dtype), dst_size = vs_dtype_size(dst_dtype);
    if (src_dtype == dst_dtype) {
        memcpy(dst, src, (size_t)n * src_size);
        return;
    }
    _Alignas(16) unsigned char stage[16384];
    int64_t chunk = (int64_t)(sizeof stage / src_size);
    for (int64_t i = 0; i < n; i += chunk) {
        int64_t c = n - i < chunk ? n - i : chunk;
        memcpy(stage, src + (size_t)i * src_size, (size_t)c * src_size);
        vs_convert((unsigned char *)dst + (size_t)i * dst_size, dst_dtype, stage, src_dtype, c);
    }
}

vs_status vs_safetensors_load(const vs_safetensors *st, const char *name, vs_dtype dtype, vs_device device, int ndim,
                              const int64_t *shape, vs_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!st || !name) return vs_fail(VS_ERR_INVALID_ARG, "vs_safetensors_load: NULL checkpoint or name");
    if (ndim < 0 || ndim > VS_MAX_DIMS || (ndim > 0 && !shape))
        return vs_fail(VS_ERR_INVALID_ARG, "loading '%s': expected rank %d is invalid", name, ndim);
    const vs_st_entry *e = vs_safetensors_find(st, name);
    if (!e) return vs_fail(VS_ERR_NOT_FOUND, "tensor '%s' not found in %s", name, st->source);
    if (ndim > 0) {
        int same = e->ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same = e->shape[i] == shape[i];
        if (!same) {
            char want[128], have[128];
            return vs_fail(VS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", e->file, name,
                           format_shape(have, sizeof have, e->ndim, e->shape),
                           format_shape(want, sizeof want, ndim, shape));
        }
    }
    if (e->dtype != dtype && !(vs_dtype_is_float(e->dtype) && vs_dtype_is_float(dtype)))
        return vs_fail(VS_ERR_SHAPE, "%s: tensor '%s' is %s and cannot be converted to %s", e->file, name,
                       vs_dtype_name(e->dtype), vs_dtype_name(dtype));

    int64_t numel = 1;
    for (int i = 0; i < e->ndim; i++) numel *= e->shape[i];
    vs_tensor t;
    VS_TRY(vs_tensor_alloc(&t, dtype, device, e->ndim, e->shape));
    if (device == VS_CPU) {
        convert_unaligned(t.data, dtype, e->data, e->dtype, numel);
        *out = t;
        return VS_OK;
    }
    /* device: convert on the host, then one copy up */
    vs_status s;
    if (dtype == e->dtype) {
        s = vs_device_memcpy_h2d(t.data, e->data, e->nbytes);
    } else {
        size_t bytes = (size_t)numel * vs_dtype_size(dtype);
        void *host = malloc(bytes ? bytes : 1);
        if (!host) {
            vs_tensor_free(&t);
            return vs_fail(VS_ERR_OOM, "loading '%s': out of host memory for %zu bytes", name, bytes);
        }
        convert_unaligned(host, dtype, e->data, e->dtype, numel);
        s = vs_device_memcpy_h2d(t.data, host, bytes);
        free(host);
    }
    if (s != VS_OK) {
        vs_tensor_free(&t);
        return vs_fail_context(s, "loading '%s'", name);
    }
    *out = t;
    return VS_OK;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text_buf;

static void append(text_buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *grown = realloc(b->buf, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void append_str(text_buf *b, const char *s) { append(b, s, strlen(s)); }

static void append_json_string(text_buf *b, const char *s) {
    append_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            append(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            append_str(b, esc);
        } else {
            append(b, (const char *)p, 1);
        }
    }
    append_str(b, "\"");
}

static vs_status check_write_args(const char *path, size_t count, const char *const *names, const vs_tensor *tensors,
                                  size_t n_meta, const char *const *meta_keys, const char *const *meta_values) {
    if (!path) return vs_fail(VS_ERR_INVALID_ARG, "safetensors write: NULL path");
    if (count && (!names || !tensors)) return vs_fail(VS_ERR_INVALID_ARG, "%s: NULL names or tensors", path);
    if (n_meta && (!meta_keys || !meta_values)) return vs_fail(VS_ERR_INVALID_ARG, "%s: NULL metadata", path);
    for (size_t i = 0; i < n_meta; i++)
        if (!meta_keys[i] || !meta_values[i]) return vs_fail(VS_ERR_INVALID_ARG, "%s: metadata pair %zu is NULL", path, i);
    for (size_t i = 0; i < count; i++) {
        const vs_tensor *t = &tensors[i];
        if (!names[i] || !names[i][0]) return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor %zu has no name", path, i);
        if (strcmp(names[i], "__metadata__") == 0)
            return vs_fail(VS_ERR_INVALID_ARG, "%s: '__metadata__' cannot name a tensor", path);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor name '%s' given twice", path, names[i]);
        if (t->device != VS_CPU)
            return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor '%s' is not in host memory", path, names[i]);
        if (t->ndim < 0 || t->ndim > VS_MAX_DIMS || vs_dtype_size(t->dtype) == 0)
            return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor '%s' has an invalid rank or dtype", path, names[i]);
        if (!vs_tensor_is_contiguous(t))
            return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor '%s' is not contiguous", path, names[i]);
        if (!t->data && vs_tensor_numel(t) > 0)
            return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor '%s' has no data", path, names[i]);
    }
    return VS_OK;
}

vs_status vs_safetensors_write(const char *path, size_t count, const char *const *names, const vs_tensor *tensors,
                               size_t n_meta, const char *const *meta_keys, const char *const *meta_values) {
    VS_TRY(check_write_args(path, count, names, tensors, n_meta, meta_keys, meta_values));

    /* Layout: larger elements first (stable), so every tensor starts aligned
     * to its element size once the header is padded to 8 bytes. */
    size_t *order = malloc((count ? count : 1) * sizeof *order);
    if (!order) return vs_fail(VS_ERR_OOM, "%s: out of memory", path);
    size_t n_order = 0;
    for (size_t size = 8; size >= 1; size /= 2)
        for (size_t i = 0; i < count; i++)
            if (vs_dtype_size(tensors[i].dtype) == size) order[n_order++] = i;

    text_buf h = {NULL, 0, 0, 0};
    append_str(&h, "{");
    if (n_meta) {
        append_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) append_str(&h, ",");
            append_json_string(&h, meta_keys[i]);
            append_str(&h, ":");
            append_json_string(&h, meta_values[i]);
        }
        append_str(&h, "}");
    }
    uint64_t offset = 0;
    for (size_t k = 0; k < count; k++) {
        const vs_tensor *t = &tensors[order[k]];
        uint64_t bytes = (uint64_t)vs_tensor_numel(t) * vs_dtype_size(t->dtype);
        char num[64];
        if (k || n_meta) append_str(&h, ",");
        append_json_string(&h, names[order[k]]);
        append_str(&h, ":{\"dtype\":\"");
        append_str(&h, vs_dtype_name(t->dtype));
        append_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            append_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)(offset + bytes));
        append_str(&h, num);
        offset += bytes;
    }
    append_str(&h, "}");
    while (!h.failed && h.len % 8) append_str(&h, " ");
    if (h.failed) {
        free(h.buf);
        free(order);
        return vs_fail(VS_ERR_OOM, "%s: out of memory building the header", path);
    }

    size_t path_len = strlen(path);
    char *tmp = malloc(path_len + 5);
    if (!tmp) {
        free(h.buf);
        free(order);
        return vs_fail(VS_ERR_OOM, "%s: out of memory", path);
    }
    memcpy(tmp, path, path_len);
    memcpy(tmp + path_len, ".tmp", 5);

    vs_status s = VS_OK;
    FILE *f = fopen(tmp, "wb");
    int created = f != NULL;
    if (!f) s = vs_fail(VS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    int ok = f && fwrite(len_bytes, 1, 8, f) == 8 && fwrite(h.buf, 1, h.len, f) == h.len;
    for (size_t k = 0; ok && k < count; k++) {
        const vs_tensor *t = &tensors[order[k]];
        size_t bytes = (size_t)vs_tensor_numel(t) * vs_dtype_size(t->dtype);
        ok = fwrite(t->data, 1, bytes, f) == bytes;
    }
    if (f) {
        ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
        int e = errno;
        ok = fclose(f) == 0 && ok;
        if (!ok) s = vs_fail(VS_ERR_IO, "%s: write failed: %s", tmp, strerror(e ? e : errno));
    }
    if (s == VS_OK && rename(tmp, path) != 0)
        s = vs_fail(VS_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    if (s != VS_OK && created) unlink(tmp);
    free(tmp);
    free(h.buf);
    free(order);
    return s;
}
