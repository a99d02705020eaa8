"""MongoStorePipeline in a real crawl: backpressure on a tiny queue, known_ids for the spider."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from newsspider.normalize.text import simhash64

REPO = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "fixtures" / "store" / "crawl.py"


def item(i: int) -> dict[str, Any]:
    rnd = random.Random(i)  # unrelated bodies: none is a near duplicate of another
    text = f"第 {i} 篇：" + "".join(chr(0x4E00 + rnd.randrange(5000)) for _ in range(300))
    url = f"https://p.test/n/{i:05d}"
    return {
        "_id": url, "url": url, "fetched_url": url, "portal": "fixture", "site_name": "站",
        "channel": "新闻", "categories": ["新闻"], "title": f"T{i}", "author": None,
        "published_at": "2024-05-01T08:30:00+00:00", "published_raw": "2024-05-01",
        "body_html": f"<p>{text}</p>", "body_text": text, "summary": None, "lead_image": None,
        "images": [], "language": "zh",
        "content_hash": hashlib.sha256(text.encode()).hexdigest(), "simhash": simhash64(text),
    }


def crawl(tmp: Path, config: dict[str, Any]) -> dict[str, Any]:
    path, out = tmp / "crawl.json", tmp / "stats.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    done = subprocess.run([sys.executable, str(DRIVER), str(path), str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_full_queue_makes_items_wait_not_vanish(mongo_uri: str, mongo_db, tmp_path: Path) -> None:
    items = [item(i) for i in range(120)]
    mongo_db.articles.insert_one({"_id": "https://p.test/n/00007", "url": "https://p.test/n/00007"})
    stats = crawl(tmp_path, {
        "settings": {"MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name,
                     "NEWSSPIDER_DATA_DIR": str(tmp_path), "NEWSSPIDER_STORE_QUEUE_SIZE": 4,
                     "NEWSSPIDER_STORE_BATCH_SIZE": 16, "NEWSSPIDER_STORE_FLUSH_SECONDS": 0.1},
        "batches": [items[:60], items[60:]],
        "ask_known": ["https://p.test/n/00007", "https://p.test/n/00008"],
    })
    assert stats["fixture/known"] == ["https://p.test/n/00007"]
    assert mongo_db.articles.count_documents({}) == 120
    assert stats["newsspider/store/inserted"] == 119  # 00007 existed: re-written, not inserted
    assert stats["newsspider/store/revised"] == 1  # the stub had no content_hash
    assert stats["newsspider/store/flushes"] >= 120 // 16
    assert stats["item_scraped_count"] == 120
    assert "newsspider/dedup/near" not in stats and "newsspider/dedup/exact" not in stats
