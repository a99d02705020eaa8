"""bench/cputree.py and bench/plain_spider.py, the two halves of ``pipeline_cpu_ratio``, on real processes.

Not timing tests: each process burns a fixed amount of its own CPU time
(``time.process_time``), and the accounting must find at least that much,
in the right process, whether its parent waited for it or it was orphaned.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.cputree import kind_of
from bench.procs import CPUTREE, PLAIN_SPIDER, Replica
from newsspider.replica.model import Scenario

# Burns CPU seconds of its own, given as argv[1]; a "nx-27017" argument marks it as a store.
BURN = "import sys, time\nt = float(sys.argv[1])\nwhile time.process_time() < t: pass\n"


def _account(tmp_path: Path, code: str, *args: str) -> dict:
    report = tmp_path / "cpu.json"
    done = subprocess.run([sys.executable, str(CPUTREE), str(report), "--", sys.executable, "-c", code, *args],
                          timeout=120, check=False)
    result = json.loads(report.read_text(encoding="utf-8"))
    result["exit"] = done.returncode
    return result


def test_a_waited_child_is_counted_and_split_by_kind(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {BURN!r}, '0.6', 'nx-27017'], check=True)\n"
        f"exec({BURN!r}.replace('float(sys.argv[1])', '0.3'))\n"
    )
    result = _account(tmp_path, code)
    assert result["exit"] == 0
    assert result["orphans"] == []
    assert result["by_kind"]["store"] >= 0.58  # the child's 0.6 s, ticks of 10 ms
    assert result["by_kind"]["crawl"] >= 0.28
    assert result["waited_children_s"] >= 0.58
    assert result["total_s"] >= result["own_s"] + 0.58
    assert abs(result["rusage_s"] - (result["own_s"] + result["waited_children_s"])) < 0.05


def test_an_orphan_is_reaped_and_counted(tmp_path: Path) -> None:
    # The command starts a worker and exits at once without waiting: the worker is
    # re-parented to the wrapper (a child subreaper), which must still count it.
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {BURN!r}, '0.5', '-m', 'newsspider.normalize.worker'])\n"
    )
    result = _account(tmp_path, code)
    assert result["exit"] == 0
    assert len(result["orphans"]) == 1
    assert result["orphans"][0]["cpu_s"] >= 0.48
    assert result["by_kind"]["workers"] >= 0.48
    assert result["total_s"] >= result["own_s"] + 0.48


def test_the_exit_status_is_the_commands(tmp_path: Path) -> None:
    assert _account(tmp_path, "raise SystemExit(3)")["exit"] == 3


def test_kinds_by_command_line() -> None:
    assert kind_of(["/venv/bin/python", "/venv/bin/nx-27017", "--port", "1"]) == "store"
    assert kind_of(["python", "-m", "newsspider.normalize.worker", "5"]) == "workers"
    assert kind_of(["python", "-m", "scrapy", "crawl", "ofweek"]) == "other"


def test_the_plain_spider_selects_every_article_and_its_fields(tmp_path: Path) -> None:
    articles, per_page, seed = 60, 20, 11
    expected = {a.path: a for a in Scenario.generated(articles, per_page=per_page, seed=seed).listed_articles}
    out = tmp_path / "items.jsonl"
    with Replica(articles, per_page, seed=seed) as replica:
        # Outside the project (no scrapy.cfg above tmp_path): plain Scrapy settings.
        subprocess.run([sys.executable, "-m", "scrapy", "runspider", str(PLAIN_SPIDER),
                        "-a", f"start_url={replica.listing_url}", "-a", "max_pages=3",
                        "-O", str(out), "-s", "LOG_LEVEL=WARNING"],
                       cwd=tmp_path, check=True, timeout=120)
        base = replica.listing_url.split("/CATList")[0]
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_path = {item["url"].removeprefix(base): item for item in items}
    assert set(by_path) == set(expected)  # each listed article once, none missed
    for path, spec in expected.items():
        item = by_path[path]
        assert item["title"] == spec.title, path
        assert item["published_raw"] == spec.published, path
        if spec.author:
            assert spec.author in item["author"], path
        assert item["pages"] == spec.n_pages, path
        assert item["body_html"].count('id="articleC"') == spec.n_pages, path


def test_a_sampled_stack_counts_for_its_outermost_newsspider_stage() -> None:
    from bench.stages import PROCESSES, REST, STARTUP, stage_of

    root = ['process 1:"python -m scrapy crawl ofweek"', "thread (1): MainThread",
            "_run_code (<frozen runpy>:88)", "Command.run (newsspider/commands/crawl.py:59)",
            "Handle._run (asyncio/events.py:80)"]
    assert stage_of([*root, "PortalSpider.parse_article (newsspider/spiders/base.py:543)",
                     "extract (newsspider/extract/heal.py:10)", "Selector.css (parsel/selector.py:1)"]
                    ).startswith("extraction")
    assert stage_of([*root, "DedupPipeline.process_item (newsspider/pipelines/dedup.py:90)",
                     "Store.find (newsspider/store/store.py:1)"]) == "dedup pipeline"
    assert stage_of([*root, "Scraper._scrape (scrapy/core/scraper.py:1)"]) == REST
    assert stage_of([*root, "_find_and_load (<frozen importlib._bootstrap>:1176)"]) == STARTUP
    assert stage_of([root[0], 'process 2:"python /venv/bin/nx-27017 --port 1"', "thread (2): MainThread",
                     "serve (nx27017/server.py:1)"]) == PROCESSES[0]
