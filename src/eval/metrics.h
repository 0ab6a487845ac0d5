/* Image quality of one video against a reference of the same size, on 8-bit
 * RGB frames u8 [T, H, W, 3]: what `vidsparse eval` reports for SVG against
 * dense attention with the same seed. */
#ifndef VS_EVAL_METRICS_H
#define VS_EVAL_METRICS_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PSNR in dB over all frames and channels, peak 255; +infinity for identical videos. */
vs_status vs_video_psnr(const vs_tensor *video, const vs_tensor *reference, double *psnr);

/* SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
 * peak 255) of the BT.601 luma, over the window positions that fit inside the
 * frame, averaged over positions and frames. Frames must be at least 11x11. */
vs_status vs_video_ssim(const vs_tensor *video, const vs_tensor *reference, double *ssim);

#ifdef __cplusplus
}
#endif
#endif
