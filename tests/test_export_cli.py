"""``newsspider export …`` argument handling and dispatch (the lead's CLI mounts this parser)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from newsspider.export.cli import add_export_parser, run_export

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The seed post (a copy of shared/seed/seed-post.md) and the seed article as stored (by hand).
SEED_POST = FIXTURES / "seed" / "seed-post.md"
SEED_ARTICLE = FIXTURES / "export" / "seed-article.json"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="newsspider")
    add_export_parser(root.add_subparsers(dest="command", required=True))
    return root


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "hexo", "--out", "d", "--image-proxy", "https://p.example/?u="], "{url}"),
        (["export", "jsonl", "--out", "-", "--since", "2022-13-01"], "YYYY-MM-DD"),
        (["export", "rss", "--out", "-", "--since", "yesterday"], "YYYY-MM-DD"),
        (["export", "xml", "--out", "-"], "invalid choice"),
        (["export", "hexo"], "--out"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_run_export_writes_the_seed_post(mongo_db, tmp_path: Path, capsys) -> None:
    doc = json.loads(SEED_ARTICLE.read_text(encoding="utf-8"))
    for field in ("published_at", "first_seen_at", "last_crawled_at", "updated_at"):
        doc[field] = dt.datetime.fromisoformat(doc[field])
    mongo_db.articles.insert_one(doc)
    args = parser().parse_args(
        [
            "export",
            "hexo",
            "--out",
            str(tmp_path),
            "--image-proxy",
            "https://cors.zfour.workers.dev/?{url}",
            "--portal",
            "ofweek",
            "--since",
            "2022-08-31",
        ]
    )
    assert run_export(args, mongo_db) == 0
    [post] = tmp_path.iterdir()
    seed = SEED_POST.read_text(encoding="utf-8")
    assert post.read_text(encoding="utf-8").split("<div>")[0] == seed.split("<div>")[0]
    assert "exported 1 posts" in capsys.readouterr().err

    args = parser().parse_args(
        ["export", "jsonl", "--out", str(tmp_path / "a.jsonl"), "--since", "2022-09-01"]
    )
    assert run_export(args, mongo_db) == 0
    assert (tmp_path / "a.jsonl").read_text() == ""


def test_run_export_without_a_database_says_so() -> None:
    args = parser().parse_args(["export", "rss", "--out", "-"])
    with pytest.raises(ValueError, match="Database"):
        run_export(args)
