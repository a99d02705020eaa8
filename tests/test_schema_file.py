"""docs/article.schema.json is the pydantic model's schema, and stored articles match it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from newsspider.export.jsonl import export_jsonl
from newsspider.models import SCHEMA_FILE, article_json_schema_text
from newsspider.store.store import Store
from tests.conftest import REPO
from tests.test_store_writer import article

REGENERATE = f"newsspider schema > {SCHEMA_FILE}"


def schema() -> dict:
    return json.loads((REPO / SCHEMA_FILE).read_text(encoding="utf-8"))


def test_the_schema_file_is_the_models_schema() -> None:
    text = (REPO / SCHEMA_FILE).read_text(encoding="utf-8")
    assert text == article_json_schema_text(), f"the model changed: regenerate with `{REGENERATE}`"


def test_newsspider_schema_prints_the_file() -> None:
    proc = subprocess.run([str(Path(sys.executable).with_name("newsspider")), "schema"],
                          capture_output=True, timeout=60, check=True)
    assert proc.stdout.decode("utf-8") == (REPO / SCHEMA_FILE).read_text(encoding="utf-8")


def test_the_schema_is_valid_and_says_what_every_field_is() -> None:
    document = schema()
    jsonschema.Draft202012Validator.check_schema(document)
    for name, field in document["properties"].items():
        assert field.get("description"), f"{name} has no description (a docstring in the model)"
    assert {"first_seen_at", "last_crawled_at", "updated_at", "revision"} <= set(document["required"])


def test_exported_articles_validate_and_broken_ones_do_not(mongo_uri, mongo_db, tmp_path) -> None:
    store = Store(uri=mongo_uri, database=mongo_db.name, data_dir=tmp_path / "data")
    store.open()
    try:
        for n in range(3):
            store.put_article_blocking(article(f"https://a.test/schema/{n}", f"第 {n} 篇。",
                                               images=[{"url": "https://img.test/1.png", "src": "1.png",
                                                        "alt": ""}]))
    finally:
        store.close()
    out = tmp_path / "articles.jsonl"
    assert export_jsonl(mongo_db, out) == 3
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    docs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for doc in docs:
        validator.validate(doc)

    for broken, why in (
        ({k: v for k, v in docs[0].items() if k != "updated_at"}, "'updated_at' is a required"),
        (dict(docs[0], published_at="yesterday"), "is not a 'date-time'"),
        (dict(docs[0], revision=0), "less than the minimum"),
        (dict(docs[0], images=[{"src": "x.png"}]), "'url' is a required"),
    ):
        with pytest.raises(jsonschema.ValidationError, match=why):
            validator.validate(copy.deepcopy(broken))
