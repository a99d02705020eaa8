"""bench/instructions.py: instruction counts from a real callgrind run (no crawl: seconds, not minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.instructions import callgrind_total, measure, valgrind
from bench.procs import BenchError


@pytest.fixture(autouse=True)
def _needs_valgrind() -> None:
    if valgrind() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but valgrind is missing: apt-get install valgrind")
        pytest.skip("valgrind is not installed (.ci/run installs it)")


def _count(tmp_path: Path, code: str) -> int:
    out = tmp_path / f"callgrind.{len(list(tmp_path.iterdir()))}"  # a fresh file per run
    subprocess.run([str(valgrind()), "--tool=callgrind", f"--callgrind-out-file={out}",
                    sys.executable, "-S", "-c", code], check=True, capture_output=True, timeout=300)
    return callgrind_total(out)


def test_more_work_counts_more_instructions_and_repeats(tmp_path: Path) -> None:
    idle = _count(tmp_path, "pass")
    busy = _count(tmp_path, "sum(range(200000))")
    again = _count(tmp_path, "sum(range(200000))")
    assert busy > idle * 1.1
    assert abs(again - busy) < busy * 0.01  # what makes the figure worth having: it repeats


def test_a_file_without_a_total_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "callgrind.out"
    broken.write_text("version: 1\ncreator: nothing\n", encoding="utf-8")
    with pytest.raises(BenchError, match="no instruction total"):
        callgrind_total(broken)


def test_without_valgrind_the_figure_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no valgrind on PATH
    with pytest.raises(BenchError, match="valgrind is not installed"):
        measure("http://127.0.0.1:9/CATList-8100-CHANGYIEXINWE.html")



def test_periodic_dumps_sum_to_the_total_and_name_the_process(tmp_path: Path) -> None:
    """What the crawl's count relies on: dump parts add up, every process is traced and named."""
    from bench.instructions import DUMP_EVERY_BB, count_files

    alone = _count(tmp_path, "sum(range(2000000))")
    parts = tmp_path / "parts"
    parts.mkdir()
    # The child's command line names it a store; the parent's does not (the name is built).
    code = ("import subprocess, sys; sum(range(2000000)); "
            "subprocess.run([sys.executable, '-S', '-c', 'sum(range(2000000))', 'nx-' + '27017'], check=True)")
    subprocess.run([str(valgrind()), "--tool=callgrind", "--trace-children=yes",
                    f"--dump-every-bb={DUMP_EVERY_BB // 20}", f"--callgrind-out-file={parts}/callgrind.%p",
                    sys.executable, "-S", "-c", code], check=True, capture_output=True, timeout=300)
    assert len(list(parts.iterdir())) > 2  # periodic parts were written, not only two final dumps
    counts, killed = count_files(parts)
    assert killed == []
    assert abs(counts["store"] - alone) < alone * 0.05  # the traced child, all its parts
    assert counts["other"] > alone  # the parent did the same work and started a process
