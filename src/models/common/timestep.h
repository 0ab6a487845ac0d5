/* The sinusoidal timestep embedding of the video DiTs, diffusers' Timesteps(dim,
 * flip_sin_to_cos=True, downscale_freq_shift=0): [cos(t w_i), sin(t w_i)] with
 * w_i = 10000^(-i / (dim / 2)), f32 in the order torch evaluates it. Wan 2.1 and
 * HunyuanVideo (its time, guidance and token-refiner embedders) use it. */
#ifndef VS_MODELS_COMMON_TIMESTEP_H
#define VS_MODELS_COMMON_TIMESTEP_H

#ifdef __cplusplus
extern "C" {
#endif

/* out: dim floats (dim even). */
void vs_timestep_embedding(float *out, float t, int dim);

#ifdef __cplusplus
}
#endif
#endif
