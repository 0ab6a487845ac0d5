/* What the vidsparse command needs of the public pipeline (vidsparse.h)
 * beyond the public API; not exported from the shared library. */
#ifndef VS_PIPELINE_API_H
#define VS_PIPELINE_API_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_comm vs_comm;

/* Runs the DiT as one rank of `comm` (vs_t2v_set_comm); the caller keeps
 * `comm`, which must outlive the pipeline's generates. */
vs_status vs_pipeline_set_comm(vs_pipeline *pipeline, vs_comm *comm);

#ifdef __cplusplus
}
#endif
#endif
