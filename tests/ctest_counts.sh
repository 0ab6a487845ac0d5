# Sourced by tests/run.sh and tests/gpu/run.sh: runs ctest in a build folder
# (extra arguments go to ctest) and adds its results to $passed and $failed,
# counting one line per test so both CMake 3 and 4 output formats work.
run_ctest() {
  local dir=$1; shift
  local log
  log=$(ctest --test-dir "$dir" --output-on-failure "$@" 2>&1)
  echo "$log"
  local ok bad
  ok=$(echo "$log" | grep -cE 'Test +#[0-9]+: .* Passed')
  bad=$(echo "$log" | grep -E 'Test +#[0-9]+: ' | grep -cvE ' Passed')
  if [ "$((ok + bad))" -eq 0 ]; then
    echo "ctest in $dir ran no test"; failed=$((failed + 1)); return
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
}
