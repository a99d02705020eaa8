"""Turning arbitrary Python values into what the store (and JSON) accept.

* :func:`json_safe` — for ``rejects.item``: JSON types only, dates as ISO
  strings, bytes decoded, very long strings cut (one pathological page must
  not exceed MongoDB's 16 MB document limit).
* :func:`bson_key` / :func:`bson_value` — for ``runs.stats``: keys without
  ``.`` (→ ``_``) or ``$`` (→ ``＄``), datetimes as (UTC) dates, timedeltas
  as seconds, anything unknown as its ``str``.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

MAX_STRING = 1_000_000


def json_safe(value: Any, max_string: int = MAX_STRING) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= max_string else value[:max_string] + "…[truncated]"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray)):
        return json_safe(bytes(value).decode("utf-8", "replace"), max_string)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, max_string) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, max_string) for v in value]
    return json_safe(str(value), max_string)


def bson_key(key: Any) -> str:
    """A key MongoDB accepts anywhere in a document: no dots, no ``$``."""
    return str(key).replace(".", "_").replace("$", "\uff04")


def bson_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {bson_key(k): bson_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [bson_value(v) for v in value]
    return str(value)
