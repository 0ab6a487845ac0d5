/* A timeline of every kernel, copy and memset a CUDA program runs, for machines without Nsight Systems.
 *
 * Built as a shared library and loaded by the CUDA driver into an unmodified program:
 *     cc -shared -fPIC -O2 tools/cupti_trace.c -I<cuda>/include -L<dir of libcupti> -lcupti -o cupti_trace.so
 *     CUDA_INJECTION64_PATH=$PWD/cupti_trace.so VS_CUPTI_TRACE=trace.tsv build-gpu/vidsparse bench dit ...
 * The driver calls InitializeInjection when the program first uses CUDA; CUPTI's activity API then hands
 * back buffers of records, written at exit as one line each:
 *     kind (K kernel, C copy, S memset) <TAB> start ns <TAB> end ns <TAB> stream <TAB> kernel name or bytes
 * tools/timeline.py reads the file: busy and idle time, the kernels by total time, a window of it. */
#include <cupti.h>
#include <stdio.h>
#include <stdlib.h>

static FILE *trace_file;

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records) {
    *size = (size_t)16 << 20;
    *buffer = aligned_alloc(ACTIVITY_RECORD_ALIGNMENT, *size);
    *max_records = 0; /* as many as fit */
}

static void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream, uint8_t *buffer, size_t size,
                                      size_t valid_size) {
    (void)context, (void)stream, (void)size;
    CUpti_Activity *record = NULL;
    while (trace_file && cuptiActivityGetNextRecord(buffer, valid_size, &record) == CUPTI_SUCCESS) {
        if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || record->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
            const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)record;
            fprintf(trace_file, "K\t%llu\t%llu\t%u\t%s\n", (unsigned long long)k->start,
                    (unsigned long long)k->end, k->streamId, k->name ? k->name : "?");
        } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
            const CUpti_ActivityMemcpy6 *c = (const CUpti_ActivityMemcpy6 *)record;
            fprintf(trace_file, "C\t%llu\t%llu\t%u\t%llu\n", (unsigned long long)c->start,
                    (unsigned long long)c->end, c->streamId, (unsigned long long)c->bytes);
        } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
            const CUpti_ActivityMemset4 *m = (const CUpti_ActivityMemset4 *)record;
            fprintf(trace_file, "S\t%llu\t%llu\t%u\t%llu\n", (unsigned long long)m->start,
                    (unsigned long long)m->end, m->streamId, (unsigned long long)m->bytes);
        }
    }
    free(buffer);
}

static void flush_at_exit(void) {
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    if (trace_file) fclose(trace_file);
    trace_file = NULL;
}

int InitializeInjection(void) {
    const char *path = getenv("VS_CUPTI_TRACE");
    trace_file = fopen(path ? path : "cupti_trace.tsv", "w");
    if (!trace_file) {
        fprintf(stderr, "cupti_trace: cannot write %s\n", path ? path : "cupti_trace.tsv");
        return 0;
    }
    if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
        cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS ||
        cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY) != CUPTI_SUCCESS ||
        cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET) != CUPTI_SUCCESS) {
        fprintf(stderr, "cupti_trace: CUPTI refused the activity records\n");
        return 0;
    }
    atexit(flush_at_exit);
    return 1;
}
