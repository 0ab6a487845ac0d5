#!/usr/bin/env bash
# The command's contract: help and version succeed, bad usage exits non-zero
# with a one-line message, and nothing crashes.
set -u
bin=${VS_BIN:?}
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" --help | grep -q "usage: vidsparse" || fail "--help"
"$bin" --version | grep -q "vidsparse 0" || fail "--version"
"$bin" frobnicate 2>/dev/null; [ $? -eq 2 ] || fail "unknown command must exit 2"
"$bin" --bogus 2>/dev/null; [ $? -eq 2 ] || fail "unknown option must exit 2"
"$bin" 2>/dev/null; [ $? -eq 2 ] || fail "no command must exit 2"
"$bin" encode -p x 2>/dev/null; [ $? -eq 2 ] || fail "encode without --model must exit 2"
"$bin" encode --model tests/data/umt5 -p "a cat" -o "$tmp/e.safetensors" || fail "encode"
[ -s "$tmp/e.safetensors" ] || fail "encode wrote nothing"
"$bin" encode --model tests/data/umt5 --device cpu -p "a cat" -o "$tmp/e.safetensors" || fail "encode --device cpu"
"$bin" encode --model tests/data/umt5 --device tpu -p "a cat" -o "$tmp/e.safetensors" 2>/dev/null; [ $? -eq 2 ] || fail "encode --device tpu must exit 2"
"$bin" encode --model tests/data/no-such-model -p "a cat" -o "$tmp/f.safetensors" 2>/dev/null; [ $? -eq 1 ] || fail "encode with a missing model must exit 1"

# denoise: the tiny Wan DiT, 2 steps; bad sizes are usage errors, a bad model a one-line error.
"$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --frames 9 \
  --height 32 --width 48 --steps 2 -o "$tmp/latents.safetensors" 2>/dev/null || fail "denoise"
[ -s "$tmp/latents.safetensors" ] || fail "denoise wrote no latents"
# denoise --noise: initial latents from a file (any tensor 'latents' of the options' shape); the same file twice
# gives the same result; a wrong shape is one line naming both shapes, and writes nothing.
for i in 1 2; do
  "$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --frames 9 --height 32 \
    --width 48 --steps 2 --noise "$tmp/latents.safetensors" -o "$tmp/n$i.safetensors" 2>/dev/null || fail "denoise --noise"
done
cmp -s "$tmp/n1.safetensors" "$tmp/n2.safetensors" || fail "denoise --noise must be deterministic"
VS_LOG=error "$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --frames 9 --height 32 \
  --width 64 --steps 2 --noise "$tmp/latents.safetensors" -o "$tmp/n3.safetensors" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "denoise --noise of a wrong shape must fail with one line, got $rc"
grep -q "has shape \[1, 16, 3, 4, 6\], expected \[1, 16, 3, 4, 8\]" "$tmp/err" || fail "denoise --noise: the message must name the expected shape: $(cat "$tmp/err")"
[ ! -e "$tmp/n3.safetensors" ] || fail "a failed denoise --noise left a file"
"$bin" denoise --help | grep -q "^      --noise FILE" || fail "denoise --help must list --noise"
"$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --frames 8 \
  -o "$tmp/x.safetensors" 2>/dev/null; [ $? -eq 2 ] || fail "denoise --frames 8 must exit 2"
# denoise from a text prompt (the embedded model's tokenizer and text encoder); --embeds and -p exclude each other
"$bin" denoise --model models/vidsparse-tiny -p "a red circle moving left on a blue background" --max-length 32 \
  --frames 5 --height 32 --width 32 --steps 2 --device cpu -o "$tmp/p.safetensors" 2>/dev/null || fail "denoise -p"
[ -s "$tmp/p.safetensors" ] || fail "denoise -p wrote no latents"
"$bin" denoise --model models/vidsparse-tiny -p x --embeds y -o "$tmp/q.safetensors" 2>/dev/null; [ $? -eq 2 ] || fail "denoise -p with --embeds must exit 2"
[ "$("$bin" denoise --model "$tmp/none" --embeds x -o "$tmp/x.safetensors" 2>&1 | wc -l)" -eq 1 ] || fail "denoise error must be one line"
[ ! -e "$tmp/x.safetensors" ] || fail "a failed denoise left a file"

# step caching: an unknown policy is a usage error; teacache on a model without a published fit is one line;
# the run summary counts the DiT passes run and reused.
"$bin" generate --cache sometimes 2>/dev/null; [ $? -eq 2 ] || fail "generate --cache sometimes must exit 2"
VS_LOG=error "$bin" generate --device cpu --cache teacache -o "$tmp/t.y4m" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ "$(grep -c . "$tmp/err")" -eq 1 ] && grep -q "teacache has published coefficients" "$tmp/err" ||
  fail "generate --cache teacache on the embedded model must fail with one line, got $rc: $(cat "$tmp/err")"
[ ! -e "$tmp/t.y4m" ] || fail "a refused --cache left a file"
"$bin" generate --device cpu --frames 2 --height 16 --width 16 --steps 6 --cache fora -o "$tmp/f.y4m" 2>"$tmp/err" >/dev/null ||
  fail "generate --cache fora"
grep -q "DiT passes (steps x CFG branches): 6 run, 6 reused" "$tmp/err" || fail "generate --cache fora: $(grep passes "$tmp/err")"

# generate: Ctrl-C cancels at the next denoising step with one "cancelled" line and writes nothing. The signal
# goes once the run has printed its settings (the handler is in place by then): a fixed delay raced the loading
# of the CUDA libraries on a busy CI machine, where a signal before main() ends the process (exit 130).
"$bin" generate --device cpu --steps 10000 -o "$tmp/c.y4m" >/dev/null 2>"$tmp/err" &
pid=$!
for _ in $(seq 600); do grep -q '^prompt ' "$tmp/err" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"; wait "$pid"; rc=$?
[ $rc -eq 1 ] || fail "generate interrupted must exit 1, got $rc"
grep -q "^vidsparse: error: generate: generation cancelled at step" "$tmp/err" ||
  fail "generate interrupted: $(tail -1 "$tmp/err")"
[ ! -e "$tmp/c.y4m" ] || fail "an interrupted generate left a file"

# inspect: the tiny pipeline lists its components and parameter counts
out=$("$bin" inspect tests/data/tiny-wan) || fail "inspect tests/data/tiny-wan"
echo "$out" | grep -q "^transformer (WanTransformer3DModel): 69 tensors, 24520 parameters" || fail "inspect: transformer line"
echo "$out" | grep -q "^total: 236999 parameters" || fail "inspect: total parameter count"
"$bin" inspect tests/data/tiny-wan --json | grep -q '"parameters":236999}' || fail "inspect --json"
# inspect errors: exit 1 with exactly one line
printf 'not a safetensors file' >"$tmp/bad.safetensors"
for path in "$tmp/missing" "$tmp/bad.safetensors"; do
  "$bin" inspect "$path" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 1 ] || fail "inspect $path must exit 1, got $rc"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "inspect $path must print one error line: $(cat "$tmp/err")"
done
"$bin" inspect 2>/dev/null; [ $? -eq 2 ] || fail "inspect without PATH must exit 2"
# denoise on a named device; bench dit at a toy size on the CPU (one layer of the 1.3B config).
"$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --device gpu \
  -o "$tmp/x.safetensors" 2>/dev/null; [ $? -eq 2 ] || fail "denoise --device gpu must exit 2"
"$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --frames 5 \
  --height 16 --width 16 --steps 1 --device cpu --attention svg -o "$tmp/cpu.safetensors" 2>/dev/null ||
  fail "denoise --device cpu"
"$bin" bench dit --device cpu --resolution 32x32 --frames 5 --layers 1 --text-len 16 --repeats 1 --warmup 0 \
  --attention svg -o "$tmp/dit.json" >/dev/null 2>&1 || fail "bench dit on the cpu"
grep -q '"attention_share"' "$tmp/dit.json" || fail "bench dit JSON lacks attention_share"
# FP8 weights: the JSON says whether the FP8 GEMMs used fast accumulation (on unless VS_FP8_FAST_ACCUM=0).
for fast in 1 0; do
  VS_FP8_FAST_ACCUM=$fast "$bin" bench dit --device cpu --resolution 32x32 --frames 5 --layers 1 --text-len 16 \
    --repeats 1 --warmup 0 --precision fp8 -o "$tmp/dit_fp8.json" >/dev/null 2>&1 || fail "bench dit --precision fp8"
  grep -q "\"precision\": \"fp8\".*\"fp8_fast_accum\": $fast" "$tmp/dit_fp8.json" ||
    fail "bench dit --precision fp8 JSON lacks fp8_fast_accum $fast"
done
"$bin" bench dit --config wan7b 2>/dev/null; [ $? -eq 2 ] || fail "bench dit --config wan7b must exit 2"
"$bin" bench dit --resolution 481p 2>/dev/null; [ $? -eq 2 ] || fail "bench dit --resolution 481p must exit 2"
# decode: the fixture's latents (3 frames of 8x10) become 9 frames of 80x64.
"$bin" decode --model tests/data/vae tests/data/vae/reference.safetensors -o "$tmp/v.y4m" 2>/dev/null || fail "decode to y4m"
[ "$(head -c 10 "$tmp/v.y4m")" = "YUV4MPEG2 " ] || fail "decode wrote no Y4M"
[ "$(grep -c FRAME "$tmp/v.y4m")" -eq 9 ] || fail "decode must give 9 frames"
"$bin" decode --device cpu --model tests/data/vae tests/data/vae/reference.safetensors -o "$tmp/c.y4m" 2>/dev/null || fail "decode --device cpu"
[ "$(grep -c FRAME "$tmp/c.y4m")" -eq 9 ] || fail "decode --device cpu must give 9 frames"
"$bin" decode --device tpu --model tests/data/vae tests/data/vae/reference.safetensors -o "$tmp/t.y4m" 2>/dev/null; [ $? -eq 2 ] || fail "decode --device tpu must exit 2"
"$bin" bench vae 2>/dev/null; [ $? -eq 2 ] || fail "bench vae without --model must exit 2"
# bench generate (the whole pipeline at real sizes: GPU only) refuses bad settings with usage errors.
"$bin" bench generate --precision fp4 2>/dev/null; [ $? -eq 2 ] || fail "bench generate --precision fp4 must exit 2"
"$bin" bench generate --resolution 481p 2>/dev/null; [ $? -eq 2 ] || fail "bench generate --resolution 481p must exit 2"
"$bin" bench generate --steps 0 2>/dev/null; [ $? -eq 2 ] || fail "bench generate --steps 0 must exit 2"
VS_LOG=error "$bin" bench generate --config wan7b --device cpu 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "bench generate --config wan7b must fail with one line, got $rc"
"$bin" decode --model tests/data/vae tests/data/vae/reference.safetensors 2>/dev/null; [ $? -eq 2 ] || fail "decode without -o must exit 2"
"$bin" decode --model "$tmp/none" tests/data/vae/reference.safetensors -o "$tmp/x.y4m" 2>/dev/null; [ $? -eq 1 ] || fail "decode with a missing model must exit 1"
[ ! -e "$tmp/x.y4m" ] || fail "a failed decode left a file"
# generate: the embedded model (found without --model), a small video; check and eval on it.
"$bin" generate -p "two yellow squares moving up on a black background" --frames 4 --height 16 --width 16 --steps 2 \
  -o "$tmp/g.y4m" >"$tmp/out" 2>"$tmp/err" || fail "generate: $(cat "$tmp/err")"
grep -q "^wrote 4 frames of 16x16 to $tmp/g.y4m" "$tmp/out" || fail "generate must say where it wrote"
grep -q "^time: load" "$tmp/err" || fail "generate must print the stage times"
[ "$(grep -c FRAME "$tmp/g.y4m")" -eq 4 ] || fail "generate must write 4 frames"
VS_MODEL_DIR="$tmp/none" "$bin" generate -o "$tmp/h.y4m" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "generate with a missing model must exit 1 with one line"
[ ! -e "$tmp/h.y4m" ] || fail "a failed generate left a file"
# generate --image: CogVideoX 1.5 image to video on the tiny folder; a text-only model given an image, the image
# model given none or an unreadable image: one line each, no file.
cog=tests/data/cogvideox_pipeline
VS_LOG=error "$bin" generate --device cpu -m $cog/i2v --image tests/data/image/rgb.jpg --frames 9 --height 32 \
  --width 48 --steps 2 -o "$tmp/i.y4m" >"$tmp/out" 2>"$tmp/err" || fail "generate --image: $(cat "$tmp/err")"
grep -q "^wrote 9 frames of 48x32 to $tmp/i.y4m" "$tmp/out" || fail "generate --image must write 9 frames"
for bad in "-m $cog/t2v --image tests/data/image/rgb.jpg" "-m $cog/i2v" "-m $cog/i2v --image tests/data/image/none.png" \
  "-m $cog/i2v --image tests/data/tokenizer/padded.bin"; do
  VS_LOG=error "$bin" generate --device cpu $bad --frames 9 --height 32 --width 48 --steps 1 -o "$tmp/j.y4m" \
    >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 1 ] && [ "$(grep -c error "$tmp/err")" -eq 1 ] || fail "generate $bad must fail with one line, got $rc: $(cat "$tmp/err")"
  [ ! -e "$tmp/j.y4m" ] || fail "a failed generate $bad left a file"
done
# denoise (--image) then decode gives generate's video from the same seed, T2V and I2V: the first frame encoded
# alike, the scheduler's noise seeded alike, the padding frame (metadata padding_frames) dropped by decode.
size="--frames 9 --height 32 --width 48 --steps 2 --seed 5 --device cpu"
for kind in t2v i2v; do
  img=; [ $kind = i2v ] && img="--image tests/data/image/rgb.jpg"
  VS_LOG=error "$bin" generate -m $cog/$kind $img -p cat --attention dense $size -o "$tmp/$kind-g.y4m" >/dev/null \
    2>"$tmp/err" || fail "generate $kind: $(cat "$tmp/err")"
  VS_LOG=error "$bin" denoise -m $cog/$kind $img -p cat $size -o "$tmp/$kind-l.safetensors" 2>"$tmp/err" ||
    fail "denoise $kind: $(cat "$tmp/err")"
  grep -q '"padding_frames":"1"' "$tmp/$kind-l.safetensors" || fail "denoise $kind must record padding_frames 1"
  "$bin" decode --device cpu -m $cog/$kind "$tmp/$kind-l.safetensors" -o "$tmp/$kind-d.y4m" 2>"$tmp/err" ||
    fail "decode $kind: $(cat "$tmp/err")"
  grep -q "(1 padding frames dropped) into 9 frames" "$tmp/err" || fail "decode $kind: $(cat "$tmp/err")"
  cmp -s "$tmp/$kind-g.y4m" "$tmp/$kind-d.y4m" || fail "denoise + decode ($kind) must give generate's video"
done
cmp -s "$tmp/t2v-d.y4m" "$tmp/i2v-d.y4m" && fail "the T2V and I2V videos must differ"
"$bin" denoise --help | grep -q "^      --image FILE" || fail "denoise --help must list --image"
# denoise refuses a text-only model given an image, the image model given none, an unreadable image: one line, no file
for case in "-m $cog/t2v --image tests/data/image/rgb.jpg|text-to-video model: it takes no image" \
  "-m $cog/i2v|image-to-video model: give the first frame (--image)" \
  "-m $cog/i2v --image tests/data/image/none.png|none.png: cannot open"; do
  bad=${case%%|*}
  VS_LOG=error "$bin" denoise --device cpu $bad -p cat --frames 9 --height 32 --width 48 --steps 1 -o "$tmp/j.st" \
    2>"$tmp/err"; rc=$?
  [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF "${case#*|}" "$tmp/err" ||
    fail "denoise $bad must fail with one line, got $rc: $(cat "$tmp/err")"
  [ ! -e "$tmp/j.st" ] || fail "a failed denoise $bad left a file"
done
# decode: a padding_frames that is not a count below the latent frames is one line naming the file and the key
sed 's/"padding_frames":"1"/"padding_frames":"9"/' "$tmp/i2v-l.safetensors" >"$tmp/pad.safetensors"
"$bin" decode --device cpu -m $cog/i2v "$tmp/pad.safetensors" -o "$tmp/pad.y4m" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "pad.safetensors: metadata \"padding_frames\" is \"9\"" "$tmp/err" ||
  fail "decode of a bad padding_frames must fail with one line, got $rc: $(cat "$tmp/err")"
[ ! -e "$tmp/pad.y4m" ] || fail "a failed decode left a file"
"$bin" generate --attention sparse 2>/dev/null; [ $? -eq 2 ] || fail "generate --attention sparse must exit 2"
"$bin" generate -o "$tmp/x.avi" 2>/dev/null; [ $? -eq 1 ] || fail "generate to .avi must exit 1"
"$bin" check tests/data/scenes/clip1.y4m -p "two yellow squares moving up on a black background" >/dev/null || fail "check"
"$bin" check tests/data/scenes/clip1.y4m -p "three yellow squares" >/dev/null; [ $? -eq 1 ] || fail "check of a wrong prompt must exit 1"
"$bin" check tests/data/scenes/clip1.y4m 2>/dev/null; [ $? -eq 2 ] || fail "check without -p must exit 2"
"$bin" check "$tmp/bad.safetensors" -p "a red circle" 2>/dev/null; [ $? -eq 1 ] || fail "check of a non-video must exit 1"
"$bin" eval --prompts 1 --seeds 1 --steps 1 --frames 2 --height 16 --width 16 -o "$tmp/eval.json" >"$tmp/out" 2>/dev/null \
  || fail "eval"
grep -q "^prompt accuracy" "$tmp/out" || fail "eval must print the prompt accuracy"
grep -q '"speedup"' "$tmp/eval.json" || fail "eval must write its JSON"
"$bin" eval --prompts 0 2>/dev/null; [ $? -eq 2 ] || fail "eval --prompts 0 must exit 2"
grep -q '"dense_steps": 0.4' "$tmp/eval.json" || fail "eval must record the model's SVG warm-up (vidsparse.json)"
# SVG settings: the model's defaults, overridden by options in range
"$bin" generate --frames 2 --height 16 --width 16 --steps 2 --density 0.3 --dense-steps 0.5 --dense-layers 0.25 \
  -o "$tmp/s.y4m" 2>"$tmp/err" >/dev/null || fail "generate with SVG options: $(cat "$tmp/err")"
grep -q "density 0.3; dense: the first 0.5 of the steps and 0.25 of the layers" "$tmp/err" || fail "generate must name its SVG settings"
"$bin" generate --density 1.5 2>/dev/null; [ $? -eq 2 ] || fail "generate --density 1.5 must exit 2"
"$bin" eval --dense-steps 2 2>/dev/null; [ $? -eq 2 ] || fail "eval --dense-steps 2 must exit 2"
# --gpus: errors name what is missing (no NCCL in the build, or fewer GPUs than asked), one line each
"$bin" bench dit --gpus 2 --device cpu 2>/dev/null; [ $? -eq 2 ] || fail "bench dit --gpus with --device cpu must exit 2"
"$bin" denoise --model tests/data/wan/tiny_hd64 --embeds x --gpus -1 -o "$tmp/x.safetensors" 2>/dev/null
[ $? -eq 2 ] || fail "denoise --gpus -1 must exit 2"
"$bin" generate --gpus 64 -o "$tmp/gpus.y4m" 2>"$tmp/err"; rc=$?
[ $rc -ge 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "generate --gpus 64 must fail with one line"
grep -Eq "needs NCCL|--gpus 64, but [0-9]+ GPUs? (is|are) present" "$tmp/err" || fail "generate --gpus: $(cat "$tmp/err")"
[ ! -e "$tmp/gpus.y4m" ] || fail "a failed generate --gpus left a file"
# HunyuanVideo: the tiny random pipeline folder; encode -> denoise -> decode, generate, inspect. Bad input (a
# model no family runs, a missing component, weights of the wrong shape, a size that is not a multiple of 16)
# gives one line and no file.
hy=tests/data/hunyuan_pipeline
"$bin" encode --model $hy --device cpu -p "a cat" -o "$tmp/hy_e.safetensors" || fail "encode (HunyuanVideo)"
grep -q pooled_prompt_embeds "$tmp/hy_e.safetensors" || fail "encode (HunyuanVideo) must write pooled_prompt_embeds"
"$bin" denoise --model $hy --embeds "$tmp/hy_e.safetensors" --frames 9 --height 32 --width 48 --steps 2 --device cpu \
  -o "$tmp/hy_l.safetensors" 2>/dev/null || fail "denoise (HunyuanVideo)"
"$bin" decode --model $hy "$tmp/hy_l.safetensors" -o "$tmp/hy_d.y4m" 2>/dev/null || fail "decode (HunyuanVideo)"
[ "$(grep -c FRAME "$tmp/hy_d.y4m")" -eq 9 ] || fail "decode (HunyuanVideo) must write 9 frames"
"$bin" generate --model $hy -p "a cat" --frames 9 --height 32 --width 48 --steps 2 --device cpu -o "$tmp/hy_g.y4m" \
  >/dev/null 2>"$tmp/err" || fail "generate (HunyuanVideo): $(cat "$tmp/err")"
grep -q "embedded guidance 6" "$tmp/err" || fail "generate (HunyuanVideo) must name its embedded guidance"
[ "$(grep -c FRAME "$tmp/hy_g.y4m")" -eq 9 ] || fail "generate (HunyuanVideo) must write 9 frames"
"$bin" inspect $hy | grep -q "HunyuanVideoPipeline" || fail "inspect (HunyuanVideo)"
mkdir -p "$tmp/hy_missing" && cp -rL $hy/model_index.json $hy/scheduler $hy/vae "$tmp/hy_missing/"
cp -rL $hy "$tmp/hy_shape" && sed -i 's/"text_embed_dim": 64/"text_embed_dim": 32/' "$tmp/hy_shape/transformer/config.json"
for bad in "--model tests/data/hunyuan_text" "--model $tmp/hy_missing" "--model $tmp/hy_shape" \
  "--model $hy --height 40" "--model $hy --frames 10"; do
  VS_LOG=error "$bin" generate -p x --steps 2 --frames 9 --height 32 --width 48 --device cpu $bad -o "$tmp/hy_bad.y4m" \
    >/dev/null 2>"$tmp/err"
  rc=$?
  [ $rc -ge 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "generate $bad must fail with one line, got $rc: $(cat "$tmp/err")"
  [ ! -e "$tmp/hy_bad.y4m" ] || fail "a failed generate $bad left a file"
done
echo "cli smoke ok"
