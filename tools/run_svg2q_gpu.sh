#!/usr/bin/env bash
# The svg2q round on the accelerator (issue 19: SVG2 quality at matched kept fraction) is the SVG2 script:
# the CUDA test of the kernels, SVG against SVG2 at SVG's real kept fraction (bench attention, eval on the
# embedded model at 8 prompts x 2 seeds) and bench dit against diffusers. See tools/run_svg2_gpu.sh.
exec bash "$(dirname "$0")/run_svg2_gpu.sh" "$@"
