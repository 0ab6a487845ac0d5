#include <stdint.h>

#include "check.h"
#include "core/arena.h"

/* The sanitizer build would abort on the deliberately impossible allocation
 * below instead of returning NULL as malloc does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static void free_arena(void *a) { vs_arena_free(a); }

TEST(allocations_are_aligned_and_bumped) {
    vs_arena *a;
    CHECK_OK(vs_arena_create(&a, "test", VS_CPU, 4000));
    vs_test_defer(free_arena, a);
    CHECK(vs_arena_capacity(a) == 4096 && vs_arena_device(a) == VS_CPU);
    void *p[4];
    const size_t sizes[4] = {1, 300, 0, 257};
    for (int i = 0; i < 4; i++) {
        CHECK_OK(vs_arena_alloc(a, sizes[i], &p[i]));
        CHECK((uintptr_t)p[i] % VS_ARENA_ALIGN == 0);
        memset(p[i], 0xab, sizes[i]); /* the sanitizer build checks the writes stay inside */
    }
    CHECK((char *)p[1] - (char *)p[0] == 256 && (char *)p[2] - (char *)p[1] == 512 && p[3] == p[2]);
    CHECK(vs_arena_used(a) == 768 + 257);
    vs_arena_free(NULL);
    return 0;
}

TEST(marks_release_and_peak) {
    vs_arena *a;
    CHECK_OK(vs_arena_create(&a, "test", VS_CPU, 1 << 16));
    vs_test_defer(free_arena, a);
    void *x, *y, *z;
    CHECK_OK(vs_arena_alloc(a, 1000, &x));
    size_t mark = vs_arena_mark(a);
    CHECK_OK(vs_arena_alloc(a, 5000, &y));
    CHECK(vs_arena_used(a) == 1024 + 5000);
    vs_arena_release(a, mark);
    CHECK(vs_arena_used(a) == 1000);
    CHECK_OK(vs_arena_alloc(a, 10, &z));
    CHECK(z == y); /* the released space is reused */
    vs_arena_release(a, 1 << 20); /* above the top: ignored */
    CHECK(vs_arena_used(a) == 1034);
    CHECK(vs_arena_peak(a) == 6024);
    vs_arena_reset(a);
    CHECK(vs_arena_used(a) == 0 && vs_arena_peak(a) == 6024);
    return 0;
}

TEST(out_of_space_says_what_was_asked_and_what_remains) {
    vs_arena *a;
    CHECK_OK(vs_arena_create(&a, "activations", VS_CPU, 3 << 20));
    vs_test_defer(free_arena, a);
    void *p;
    CHECK_OK(vs_arena_alloc(a, 2 << 20, &p));
    CHECK_FAILS(vs_arena_alloc(a, (size_t)3 << 19, &p), VS_ERR_OOM, "arena 'activations' (cpu) is full");
    CHECK(p == NULL);
    CHECK(strstr(vs_last_error(), "asked for 1.50 MiB, 1.00 MiB of 3.00 MiB remain") != NULL);
    CHECK_FAILS(vs_arena_alloc(a, SIZE_MAX, &p), VS_ERR_OOM, "remain");
    CHECK(vs_arena_used(a) == 2 << 20); /* failures leave the arena as it was */
    return 0;
}

TEST(tensors_are_views_into_the_arena) {
    vs_arena *a;
    CHECK_OK(vs_arena_create(&a, "t", VS_CPU, 1 << 12));
    vs_test_defer(free_arena, a);
    vs_tensor t;
    int64_t shape[3] = {2, 3, 5};
    CHECK_OK(vs_arena_tensor(a, VS_BF16, 3, shape, &t));
    CHECK(t.owned == 0 && t.device == VS_CPU && t.dtype == VS_BF16 && vs_tensor_numel(&t) == 30);
    CHECK(t.stride[0] == 15 && t.stride[1] == 5 && t.stride[2] == 1);
    CHECK(vs_arena_used(a) == 60);
    vs_tensor_free(&t); /* a view: releases nothing */
    int64_t bad[2] = {3, -2}, huge[2] = {INT64_MAX / 2, 4};
    CHECK_FAILS(vs_arena_tensor(a, VS_F32, 2, bad, &t), VS_ERR_INVALID_ARG, "negative");
    CHECK_FAILS(vs_arena_tensor(a, VS_F32, 2, huge, &t), VS_ERR_INVALID_ARG, "overflows");
    CHECK_FAILS(vs_arena_tensor(a, VS_F32, 6, shape, &t), VS_ERR_INVALID_ARG, "rank");
    int64_t big[1] = {1025};
    CHECK_FAILS(vs_arena_tensor(a, VS_F32, 1, big, &t), VS_ERR_OOM, "asked for 4.00 KiB");
    CHECK(t.data == NULL);
    return 0;
}

TEST(bad_arguments) {
    vs_arena *a;
    CHECK_FAILS(vs_arena_create(&a, "zero", VS_CPU, 0), VS_ERR_INVALID_ARG, "arena 'zero'");
    CHECK(a == NULL);
    CHECK_FAILS(vs_arena_create(&a, "huge", VS_CPU, SIZE_MAX / 2), VS_ERR_OOM, "arena 'huge'");
#if !VS_HAVE_CUDA
    CHECK_FAILS(vs_arena_create(&a, "gpu", VS_CUDA, 1024), VS_ERR_UNSUPPORTED, "arena 'gpu'");
#endif
    return 0;
}

RUN_TESTS(T(allocations_are_aligned_and_bumped), T(marks_release_and_peak),
          T(out_of_space_says_what_was_asked_and_what_remains), T(tensors_are_views_into_the_arena),
          T(bad_arguments))
