"""The seed's own round trip: its article served as an OFweek page, crawled, exported as Hexo.

The export with the seed's CORS proxy must reproduce the seed post's front
matter line for line, the same body text, and the same proxied images in order.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import lxml.html

from newsspider.replica.server import ReplicaServer
from tests.conftest import FIXTURES, REPO

SEED_POST = FIXTURES / "seed" / "seed-post.md"
PROXY = "https://cors.zfour.workers.dev/?{url}"
SEED_TITLE = "昌平生命谷国际精准医学产业园工程启动仪式隆重举行"


def split_post(text: str) -> tuple[list[str], str]:
    _, front, body = text.split("---", 2)
    return front.strip("\n").split("\n"), body


def body_text(body: str) -> str:
    root = lxml.html.fragment_fromstring(body, create_parent="div")
    return re.sub(r"\s+", "", root.text_content())


def body_images(body: str) -> list[tuple[str, str | None]]:
    root = lxml.html.fragment_fromstring(body, create_parent="div")
    return [(img.get("src"), img.get("referrerpolicy")) for img in root.iter("img")]


def test_crawled_seed_article_exports_as_the_seed_post(run_crawl, mongo_uri, mongo_db, tmp_path) -> None:
    with ReplicaServer() as replica:
        result = run_crawl("ofweek", f"start_url={replica.listing_url}", "max_pages=1")
    assert result.returncode == 0, result
    stored = mongo_db.articles.find_one({"title": SEED_TITLE})
    assert stored is not None, "the seed article was not stored"

    out = tmp_path / "posts"
    env = {**os.environ, "MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("newsspider")), "export", "hexo", "--out", str(out),
         "--image-proxy", PROXY, "--portal", "ofweek"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    posts = [p for p in out.glob("*.md") if SEED_TITLE in p.read_text(encoding="utf-8")]
    assert len(posts) == 1

    seed_front, seed_body = split_post(SEED_POST.read_text(encoding="utf-8"))
    got_front, got_body = split_post(posts[0].read_text(encoding="utf-8"))
    assert got_front == seed_front
    assert body_text(got_body) == body_text(seed_body)
    assert body_images(got_body) == body_images(seed_body)
    assert len(body_images(seed_body)) == 6
