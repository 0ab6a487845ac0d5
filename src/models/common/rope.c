#include "models/common/rope.h"

#include <math.h>
#include <stdint.h>

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
