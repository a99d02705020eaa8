"""How a setting is declared, and how it is read from the environment and from ``-s``.

Every setting is declared once, in ``newsspider/settings.py``, with a one-line
comment and a typed default::

    # Seconds to wait for the store (embedded or remote) to answer at start.
    NEWSSPIDER_STORE_START_TIMEOUT = _env("NEWSSPIDER_STORE_START_TIMEOUT", 30.0)

The default's type is the setting's type: ``True``/``False`` a boolean,
``3`` a whole number, ``30.0`` a number (write seconds as ``30.0``), ``""`` a
string, ``[]`` a list, ``{}`` a dict.  The environment variable of the same name,
when set, replaces the default; a value the type does not accept stops the
program at once with one line naming the setting and what it accepts (exit
code 2), whatever the command, ``scrapy list`` included.  ``-s NAME=VALUE``
goes through the same check in ``scrapy crawl`` and ``newsspider``
(:func:`check_settings`).

Scrapy's and its plugins' settings keep their own names (``CONCURRENT_REQUESTS``,
``PLAYWRIGHT_MAX_CONTEXTS``); ``NEWSSPIDER_*`` is only for newsspider's own.
A renamed setting keeps its old name for one release: ``old="NEWSSPIDER_…"``
reads it, with a :class:`DeprecatedSettingWarning`, when the new name is not set.
A removed setting is declared with :func:`removed`: given anyway (environment,
``-s``, a project's settings), it is ignored with a :class:`DeprecatedSettingWarning`
naming it (:func:`warn_removed`, run for every crawl).  A renamed item pipeline
(:data:`RENAMED_PIPELINES`) listed in ``ITEM_PIPELINES`` is replaced by its
successor, with the same warning (:func:`rename_pipelines`).
Any other Scrapy setting is read from the environment under its own name too
(:func:`scrapy_settings_from_env`).

This module and the CLI are the only code that reads the environment.
Hand-written rather than pydantic-settings: Scrapy's settings are a flat
module of names, and the whole rule is a dozen lines of parsing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from newsspider.exitcodes import UsageExit

T = TypeVar("T")

# When the old names of renamed settings stop being read.
OLD_NAMES_UNTIL = "newsspider 0.2"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# Credentials are never taken from the environment by the catch-all of
# scrapy_settings_from_env (Scrapy would log them as overridden settings);
# botocore reads AWS_* from the environment by itself.
_SECRET = re.compile(r"PASS|SECRET|TOKEN|^AWS_|_USER(NAME)?$")
_PLUGIN_PREFIXES = ("PLAYWRIGHT_",)


class SettingError(UsageExit):
    """A setting's value is not one its type accepts (the one-line message is already printed)."""


class DeprecatedSettingWarning(FutureWarning):
    """A setting was given under its old name (read for one more release)."""


@dataclass(frozen=True, slots=True)
class Declaration:
    name: str
    default: Any
    old: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def accepts(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return _ACCEPTS[_kind(self.default)]


# Every setting declared with env(), by name (filled as newsspider.settings is imported).
DECLARED: dict[str, Declaration] = {}

_ACCEPTS = {
    bool: "true or false (also yes/no, on/off, 1/0)",
    int: "a whole number",
    float: "a number",
    str: "any text",
    list: "a comma-separated list or a JSON array",
    dict: "a JSON object",
}


def _kind(default: Any) -> type:
    for kind in (bool, int, float, list, dict):  # bool before int: True is an int
        if isinstance(default, kind):
            return kind
    if isinstance(default, tuple):
        return list
    return str


def parse_value(decl: Declaration, text: str) -> Any:
    """``text`` as ``decl``'s type; ``ValueError`` when the type does not accept it."""
    kind = _kind(decl.default)
    word = text.strip()
    if decl.choices:
        for choice in decl.choices:
            if word.upper() == choice.upper():
                return choice
        raise ValueError(text)
    if kind is bool:
        if word.lower() in _TRUE:
            return True
        if word.lower() in _FALSE:
            return False
        raise ValueError(text)
    if kind is int:
        return int(word)
    if kind is float:
        return float(word)
    if kind is dict:
        value = json.loads(word)
        if not isinstance(value, dict):
            raise ValueError(text)
        return value
    if kind is list:
        if word.startswith("["):
            value = json.loads(word)
            if not isinstance(value, list):
                raise ValueError(text)
            return value
        return [part.strip() for part in word.split(",") if part.strip()]
    return text


def _bad(name: str, text: str, where: str, accepts: str) -> NoReturn:
    message = f"{name}={text!r} ({where}) is not a valid value: expected {accepts}"
    print(f"newsspider: {message}", file=sys.stderr, flush=True)
    raise SettingError(message)


def _deprecated(old: str, new: str, *, ignored: bool = False) -> None:
    tail = f"{new} is set too, so {old} is ignored" if ignored else f"set {new} instead"
    warnings.warn(f"{old} is deprecated and read only until {OLD_NAMES_UNTIL}: {tail}",
                  DeprecatedSettingWarning, stacklevel=3)


def env(name: str, default: T, *, old: str | None = None, choices: Iterable[str] = ()) -> T:
    """The setting ``name``: its environment variable parsed as ``default``'s type, else ``default``.

    ``old`` is the setting's previous name, still read (with a warning) for one
    release; ``choices`` restricts a string to those words (matched case-insensitively).
    An empty variable counts as unset, except for a string setting.
    """
    decl = Declaration(name, default, old, tuple(choices))
    DECLARED[name] = decl
    source = name
    text = os.environ.get(name)
    if old is not None and os.environ.get(old) is not None:
        _deprecated(old, name, ignored=text is not None)
        if text is None:
            source, text = old, os.environ[old]
    if text is None or (text == "" and _kind(default) is not str):
        return default
    try:
        value: T = parse_value(decl, text)
    except ValueError:
        _bad(source, text, "in the environment", decl.accepts)
    return value


# Settings that no longer do anything: name → what to know (filled by removed()).
REMOVED: dict[str, str] = {}
# Item pipelines that were merged into another: old class path → the one that does their work.
RENAMED_PIPELINES: dict[str, str] = {
    "newsspider.pipelines.images.ImageResolvePipeline": "newsspider.pipelines.body.BodyPipeline",
    "newsspider.pipelines.normalize.NormalizePipeline": "newsspider.pipelines.body.BodyPipeline",
}


def _removed_warning(name: str) -> None:
    warnings.warn(f"{name} is no longer used and is ignored (deprecated; accepted until {OLD_NAMES_UNTIL}): "
                  f"{REMOVED[name]}",
                  DeprecatedSettingWarning, stacklevel=3)


def removed(name: str, note: str) -> None:
    """Declare ``name`` removed; set in the environment, it is ignored with a warning now."""
    REMOVED[name] = note
    if os.environ.get(name) is not None:
        _removed_warning(name)


def warn_removed(settings: Any) -> None:
    """Warn about each removed setting a crawl's settings still give (``-s``, project, spider)."""
    for name in REMOVED:
        if settings.get(name) is not None:
            _removed_warning(name)


def rename_pipelines(settings: Any) -> None:
    """``ITEM_PIPELINES`` with each renamed pipeline replaced by its successor, with a warning.

    The successor takes the lowest order of the pipelines it replaces, unless
    it is listed itself; an old entry set to None (disabled) is dropped.
    """
    pipelines = dict(settings.getdict("ITEM_PIPELINES"))
    old = [name for name in pipelines if name in RENAMED_PIPELINES]
    if not old:
        return
    added: set[str] = set()
    for name in old:
        new = RENAMED_PIPELINES[name]
        order = pipelines.pop(name)
        warnings.warn(f"ITEM_PIPELINES: {name} is no longer a pipeline; {new} does its work "
                      f"(list that instead)", DeprecatedSettingWarning, stacklevel=2)
        if order is None or (new in pipelines and new not in added):
            continue  # disabled, or the successor is listed itself
        pipelines[new] = min(pipelines[new], order) if new in added else order
        added.add(new)
    settings.set("ITEM_PIPELINES", pipelines,
                 priority=settings.getpriority("ITEM_PIPELINES") or "spider")


def check_settings(settings: Any, priority: str = "cmdline") -> None:
    """Parse the ``-s NAME=VALUE`` strings of declared settings as their type, in place.

    Also moves a value given under a setting's old name to the new one (with
    the deprecation warning).  A bad value exits 2 with one line (:class:`SettingError`).
    """
    from scrapy.settings import SETTINGS_PRIORITIES

    def given(name: str) -> bool:
        return (settings.getpriority(name) or 0) >= SETTINGS_PRIORITIES[priority]

    for decl in DECLARED.values():
        if decl.old is not None and given(decl.old):
            _deprecated(decl.old, decl.name, ignored=given(decl.name))
            if not given(decl.name):
                _set_parsed(settings, decl, decl.old, settings[decl.old], priority)
        if given(decl.name) and isinstance(settings[decl.name], str):
            _set_parsed(settings, decl, decl.name, settings[decl.name], priority)


def _set_parsed(settings: Any, decl: Declaration, given_as: str, value: Any, priority: str) -> None:
    if isinstance(value, str):
        try:
            value = parse_value(decl, value)
        except ValueError:
            _bad(given_as, value, "command line", decl.accepts)
    settings.set(decl.name, value, priority=priority)


def scrapy_settings_from_env(assigned: Mapping[str, Any]) -> dict[str, Any]:
    """Every other Scrapy (or scrapy-playwright) setting found in the environment, under its own name.

    ``assigned`` is the settings module's namespace: a name it sets is fixed
    there (``TELNETCONSOLE_ENABLED = False``) or declared with :func:`env`, so
    it is skipped.  Values are parsed as Scrapy's default's type
    (``DOWNLOAD_DELAY=1.5``, ``HTTPCACHE_ENABLED=true``, ``JOBDIR=crawls/1``);
    scrapy-playwright's reach Scrapy as text, which its typed getters read.
    """
    from scrapy.settings import default_settings

    found: dict[str, Any] = {}
    for name, text in os.environ.items():
        if name in assigned or name in DECLARED or _SECRET.search(name) or text == "":
            continue
        if name.startswith(_PLUGIN_PREFIXES):
            found[name] = text
            continue
        if not name.isupper() or not hasattr(default_settings, name):
            continue
        default = getattr(default_settings, name)
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            default = 0.0  # Scrapy's getint/getfloat read the number; 0 vs 0.0 is not a contract
        decl = Declaration(name, default)
        try:
            value = parse_value(decl, text)
        except ValueError:
            _bad(name, text, "in the environment", decl.accepts)
        if isinstance(value, float) and value.is_integer() and isinstance(
            getattr(default_settings, name), int
        ):
            value = int(value)
        found[name] = value
    return found
