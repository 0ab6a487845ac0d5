/* The token-major row map of SVG's temporal heads (vs_attn_row in
 * src/ops/attention.h) for device code, in 32-bit arithmetic without a division. */
#ifndef VS_BACKEND_CUDA_STORED_ROW_CUH
#define VS_BACKEND_CUDA_STORED_ROW_CUH

/* Stored row of sequence position r for this head's layout. Token-major
 * position r is token (f = r % F, p = r / F); the quotient comes from a float
 * reciprocal: (r + 0.5) / F is at least 0.5/F away from an integer and the
 * float error is about r * 2^-23 / F, so for r < 2^22 the floor is exact. */
static __device__ __forceinline__ int stored_row(int r, int token_major, int frames, float inv_frames,
                                                 int tokens_per_frame) {
    if (!token_major || r >= frames * tokens_per_frame) return r;
    int p = (int)(((float)r + 0.5f) * inv_frames);
    return (r - p * frames) * tokens_per_frame + p;
}

#endif
