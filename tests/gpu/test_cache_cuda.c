/* Step caching on the GPU: HunyuanVideo's TeaCache signal (bf16 forward pieces) against diffusers' f32 values
 * (tests/hunyuan_teacache_check.h). */
#include <stdio.h>

#include "check.h"
#include "hunyuan_teacache_check.h"

TEST(hunyuan_teacache_signal_on_the_gpu) { return check_hunyuan_teacache(VS_CUDA, 2e-2); }

RUN_TESTS(T(hunyuan_teacache_signal_on_the_gpu))
