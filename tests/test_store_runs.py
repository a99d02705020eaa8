"""The runs document: one per crawl, written through the store at close."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from newsspider.extensions.runs import run_document
from newsspider.store.values import bson_key, bson_value

REPO = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "fixtures" / "store" / "crawl.py"


def test_a_crawl_records_one_run(mongo_uri: str, mongo_db, tmp_path: Path) -> None:
    config, out = tmp_path / "crawl.json", tmp_path / "stats.json"
    config.write_text(json.dumps({
        "settings": {"MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name,
                     "NEWSSPIDER_DATA_DIR": str(tmp_path)},
        "batches": [[]],
    }), encoding="utf-8")
    done = subprocess.run([sys.executable, str(DRIVER), str(config), str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    runs = list(mongo_db.runs.find())
    assert len(runs) == 1
    run = runs[0]
    assert re.fullmatch(r"[0-9a-f]{32}", run["_id"])
    assert run["portal"] == "fixture" and run["finish_reason"] == "finished"
    assert isinstance(run["started_at"], datetime) and run["started_at"] <= run["finished_at"]
    host, pid = run["worker"].rsplit(":", 1)
    assert host and pid.isdigit()
    stats = run["stats"]
    assert isinstance(stats["start_time"], datetime)
    assert stats["downloader/response_count"] == 1
    assert not [key for key in stats if "." in key or "$" in key]
    assert json.loads(out.read_text())["newsspider/store/runs"] == 1


def test_stats_become_bson_safe() -> None:
    stats = {
        "a.b.c": 1, "$where": "x", "when": datetime(2024, 1, 1, 12), "day": date(2024, 1, 2),
        "took": timedelta(seconds=1.5), "nested": {"x.y": float("nan")}, "huge": 2**70,
        "other": object,
    }
    safe = bson_value(stats)
    assert safe["a_b_c"] == 1 and safe["\uff04where"] == "x"
    assert safe["when"] == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert safe["day"] == datetime(2024, 1, 2, tzinfo=UTC)
    assert safe["took"] == 1.5 and safe["nested"] == {"x_y": "nan"}
    assert safe["huge"] == str(2**70) and safe["other"] == str(object)
    assert bson_key("log_count/INFO") == "log_count/INFO"


def test_run_document_shape() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    doc = run_document("abc", "ofweek", now, now, "finished", {"item_scraped_count": 3})
    assert set(doc) == {"_id", "portal", "started_at", "finished_at", "finish_reason", "worker", "stats"}
    assert doc["stats"] == {"item_scraped_count": 3}
