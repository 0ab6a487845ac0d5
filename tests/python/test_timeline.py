"""tools/timeline.py on a synthetic CUPTI timeline (tools/cupti_trace.c's format): busy and idle time, the
kernels by total time, the gaps, the segments split at long idle times, a window between two kernels with
per-layer times, and malformed lines skipped with a count rather than a crash."""
import importlib.util
import pathlib
import subprocess
import sys

TOOL = pathlib.Path(__file__).resolve().parents[2] / "tools" / "timeline.py"
spec = importlib.util.spec_from_file_location("timeline", TOOL)
timeline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(timeline)

MS = 1_000_000  # ns
TRACE = "\n".join([
    f"K\t{0 * MS}\t{2 * MS}\t7\t_Z5setupv",            # a first segment, 50 ms before the rest
    f"K\t{52 * MS}\t{53 * MS}\t7\t_Z8patchifyv",
    f"K\t{53 * MS}\t{56 * MS}\t7\t_Z4gemmPfi",
    f"C\t{56 * MS}\t{57 * MS}\t7\t4096",
    f"K\t{58 * MS}\t{61 * MS}\t7\t_Z4gemmPfi",        # after 1 ms idle
    f"S\t{60 * MS}\t{61 * MS}\t9\t64",                 # overlaps the GEMM on another stream
    f"K\t{61 * MS}\t{62 * MS}\t7\t_Z10unpatchifyv",
    "garbage line",
    f"K\t{70 * MS}\t{69 * MS}\t7\t_Z3badv",            # ends before it starts
    "",
])


def write(tmp_path):
    path = tmp_path / "trace.tsv"
    path.write_text(TRACE)
    return path


def test_read_skips_malformed_lines(tmp_path):
    rows, skipped = timeline.read(write(tmp_path))
    assert len(rows) == 7 and skipped == 2
    assert [r[0] for r in rows] == ["K", "K", "K", "C", "K", "S", "K"]


def test_segments_and_summary(tmp_path):
    rows, _ = timeline.read(write(tmp_path))
    segs = timeline.segments(rows, 20 * MS)
    assert [len(s) for s in segs] == [1, 6]
    names = timeline.demangle(sorted({r[4] for r in rows if r[0] == "K"}))
    s = timeline.summarise(segs[1], names, top=10)
    assert abs(s["span_ms"] - 10) < 1e-9 and abs(s["busy_ms"] - 9) < 1e-9 and abs(s["idle_ms"] - 1) < 1e-9
    gemm = [k for k in s["kernels"] if k["name"].startswith("gemm")]
    assert len(gemm) == 1 and gemm[0]["count"] == 2 and abs(gemm[0]["total_ms"] - 6) < 1e-9
    assert abs(s["gaps"][0]["idle_ms"] - 1) < 1e-9 and s["gaps"][0]["before"].startswith("gemm")


def test_between_window_per_layer(tmp_path):
    out = subprocess.run([sys.executable, str(TOOL), str(write(tmp_path)), "--between", "patchify", "unpatchify",
                          "--per", "2", "--json", str(tmp_path / "s.json")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "2 lines that are not records skipped" in out.stdout
    assert "between patchify and unpatchify: span 10.0 ms" in out.stdout
    assert "3.000 ms/2" in out.stdout  # the two GEMMs' 6 ms over 2 layers


def test_bad_input_is_one_line(tmp_path):
    missing = subprocess.run([sys.executable, str(TOOL), str(tmp_path / "none.tsv")], capture_output=True, text=True)
    assert missing.returncode != 0 and "none.tsv" in missing.stderr and "Traceback" not in missing.stderr
    empty = tmp_path / "empty.tsv"
    empty.write_text("nothing here\n")
    out = subprocess.run([sys.executable, str(TOOL), str(empty)], capture_output=True, text=True)
    assert out.returncode != 0 and "no records" in out.stderr
    out = subprocess.run([sys.executable, str(TOOL), str(write(tmp_path)), "--between", "nope", "unpatchify"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "no kernel named like 'nope'" in out.stderr
