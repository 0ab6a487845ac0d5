#include "models/common/rope.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/status.h"
#include "ops/ops.h"

void vs_rope3d_table(const int axis_dims[3], double theta, int frames, int height, int width, float *cos_out,
                     float *sin_out) {
    const int pairs = (axis_dims[0] + axis_dims[1] + axis_dims[2]) / 2;
    const int first_row_pair = axis_dims[0] / 2, first_column_pair = first_row_pair + axis_dims[1] / 2;
    int64_t n = 0;
    for (int f = 0; f < frames; f++)
        for (int h = 0; h < height; h++)
            for (int w = 0; w < width; w++, n++)
                for (int j = 0; j < pairs; j++) {
                    /* Pair j belongs to the frame, row or column run, each with its own frequencies. */
                    int i = j, part_dim = axis_dims[0], pos = f;
                    if (j >= first_column_pair) i = j - first_column_pair, part_dim = axis_dims[2], pos = w;
                    else if (j >= first_row_pair) i = j - first_row_pair, part_dim = axis_dims[1], pos = h;
                    double angle = pos * (1.0 / pow(theta, (double)(2 * i) / part_dim));
                    cos_out[n * pairs + j] = (float)cos(angle);
                    sin_out[n * pairs + j] = (float)sin(angle);
                }
}

vs_status vs_rope3d_tensors(const int axis_dims[3], double theta, const int grid[3], vs_device device,
                            vs_tensor *cos, vs_tensor *sin) {
    const int64_t shape[2] = {(int64_t)grid[0] * grid[1] * grid[2], (axis_dims[0] + axis_dims[1] + axis_dims[2]) / 2};
    const int64_t n = shape[0] * shape[1];
    float *host = malloc((size_t)(2 * n) * sizeof(float));
    if (!host) return vs_fail(VS_ERR_OOM, "out of memory for the RoPE tables");
    vs_rope3d_table(axis_dims, theta, grid[0], grid[1], grid[2], host, host + n);
    vs_tensor hc = vs_tensor_view(host, VS_F32, VS_CPU, 2, shape), hs = vs_tensor_view(host + n, VS_F32, VS_CPU, 2, shape);
    vs_status s = vs_tensor_alloc(cos, VS_F32, device, 2, shape);
    if (!s) s = vs_tensor_alloc(sin, VS_F32, device, 2, shape);
    if (!s) s = vs_op_copy(cos, &hc);
    if (!s) s = vs_op_copy(sin, &hs);
    free(host);
    if (s) {
        vs_tensor_free(cos);
        vs_tensor_free(sin);
    }
    return s;
}
