#include "models/common/timestep.h"

#include <math.h>

void vs_timestep_embedding(float *out, float t, int dim) {
    const int half = dim / 2;
    const float log_period = (float)-log(10000.0);
    for (int i = 0; i < half; i++) {
        float freq = expf(log_period * (float)i / (float)half);
        float arg = t * freq;
        out[i] = cosf(arg);
        out[half + i] = sinf(arg);
    }
}
