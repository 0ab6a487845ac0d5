#!/usr/bin/env bash
# The layer order of docs/architecture.md, checked over every #include "..." in src/ and examples/:
#
#   core < io < backend < ops < parallel < sparse < eval < models/common < models < pipeline < cli
#
# A file may include its own layer or a lower one, never a higher one. Besides:
#   - backend/cpu and backend/cuda do not include each other (the shared contracts are backend/*.h);
#   - a model family (models/<family>/) includes no other family;
#   - pipeline/ and cli/ reach models only through the family interface (models/*.h), never a
#     family's folder or models/common/;
#   - examples/ include the public header alone.
# Prints each offending line and exits non-zero; "layers: ok (N includes)" otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

rank() { # the layer of a path under src/ (without the src/ prefix)
  case $1 in
    core/*) echo 0 ;; io/*) echo 1 ;; backend/*) echo 2 ;; ops/*) echo 3 ;; parallel/*) echo 4 ;;
    sparse/*) echo 5 ;; eval/*) echo 6 ;; models/common/*) echo 7 ;; models/*) echo 8 ;;
    pipeline/*) echo 9 ;; cli/*) echo 10 ;; *) echo -1 ;;
  esac
}

bad=0
count=0
complain() { echo "layers: $1"; bad=$((bad + 1)); }

while IFS= read -r file; do
  from=${file#src/}
  from_rank=$(rank "$from")
  while IFS= read -r line; do
    target=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")
    count=$((count + 1))
    case $target in vidsparse.h) continue ;; esac
    case $file in
      examples/*) complain "$file: examples include only vidsparse.h, not $target"; continue ;;
    esac
    to_rank=$(rank "$target")
    # Includes relative to the file's own folder (kernel helpers such as "wgmma_tiles.cuh").
    if [ "$to_rank" -lt 0 ]; then
      [ -f "$(dirname "$file")/$target" ] || complain "$file includes $target, which is in no layer"
      continue
    fi
    if [ "$to_rank" -gt "$from_rank" ]; then
      complain "$file ($(cut -d/ -f1 <<<"$from")) includes $target from a higher layer"
      continue
    fi
    case $from in
      backend/cpu/*) case $target in backend/cuda/*) complain "$file: the CPU backend includes $target" ;; esac ;;
      backend/cuda/*) case $target in backend/cpu/*) complain "$file: the CUDA backend includes $target" ;; esac ;;
      models/common/*) ;;
      models/*/*)
        family=$(cut -d/ -f2 <<<"$from")
        case $target in
          models/common/* | models/"$family"/*) ;;
          models/*/*) complain "$file: family $family includes another family's $target" ;;
        esac ;;
      pipeline/* | cli/*)
        case $target in models/*/*) complain "$file reaches $target; use the family interface (models/*.h)" ;; esac ;;
    esac
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$file")
done < <(find src examples -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) 2>/dev/null | sort)

if [ "$bad" -gt 0 ]; then
  echo "layers: $bad include(s) break the layer order (docs/architecture.md)"
  exit 1
fi
echo "layers: ok ($count includes)"
