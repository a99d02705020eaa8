"""Exports straight from the store: Hexo posts, JSON Lines, RSS 2.0.

Each format is pure formatting functions plus a thin streaming writer over one sorted
cursor (:mod:`newsspider.export.source`); :mod:`newsspider.export.cli` is the argparse
half of ``newsspider export``.

Settings read: none.  Stats written: none.
"""

from __future__ import annotations

from newsspider.export.cli import add_export_parser, run_export
from newsspider.export.hexo import export_hexo, render_post
from newsspider.export.jsonl import export_jsonl
from newsspider.export.rss import export_rss

__all__ = [
    "add_export_parser",
    "export_hexo",
    "export_jsonl",
    "export_rss",
    "render_post",
    "run_export",
]
