/* The "dense" method: exact attention everywhere, nothing to plan or keep. */
#include "ops/attention.h"
#include "sparse/method.h"

static vs_status attend(const vs_sparse_setup *setup, void *context, void *layer, vs_attn_args *args,
                        void *stream) {
    (void)context, (void)layer;
    return vs_attention_dense(setup->device, args, stream);
}

const vs_sparse_method vs_sparse_method_dense = {.name = "dense", .attend = attend};
