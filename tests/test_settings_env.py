"""One name per setting: the environment under the setting's own name, typed, with old names for one release.

Every check runs the project's settings as a fresh process sees them
(``newsspider/settings.py`` reads the environment at import), or the real
commands (``scrapy list``, ``scrapy crawl``, ``newsspider``) in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from scrapy.settings import Settings

from newsspider import settings as project
from newsspider.config import DeprecatedSettingWarning, SettingError, check_settings, warn_removed
from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from tests.conftest import REPO, settings_free_env

SCRAPY = str(Path(sys.executable).with_name("scrapy"))
NEWSSPIDER = str(Path(sys.executable).with_name("newsspider"))


def _settings(*names: str, **env: str) -> tuple[dict, str]:
    """``names`` as ``get_project_settings()`` gives them in a fresh process with ``env``; and its stderr."""
    code = (
        "import json, os\n"
        "os.environ['SCRAPY_SETTINGS_MODULE'] = 'newsspider.settings'\n"
        "from scrapy.utils.project import get_project_settings\n"
        "s = get_project_settings()\n"
        f"print(json.dumps({{k: s[k] for k in {list(names)!r}}}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=settings_free_env(**env),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, env=settings_free_env(**env), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize(("name", "text", "value"), [
    ("CONCURRENT_REQUESTS", "4", 4),
    ("USER_AGENT", "acme-bot/1 (+https://acme.example)", "acme-bot/1 (+https://acme.example)"),
    ("LOG_LEVEL", "debug", "DEBUG"),
    ("RETRY_TIMES", "1", 1),
    ("AUTOTHROTTLE_ENABLED", "off", False),
    ("ROBOTSTXT_OBEY", "No", False),
    ("DOWNLOAD_TIMEOUT", "7.5", 7.5),
    ("IMAGES_STORE", "/srv/images", "/srv/images"),
    ("PLAYWRIGHT_MAX_CONTEXTS", "3", 3),
    ("PLAYWRIGHT_LAUNCH_OPTIONS", '{"slow_mo": 50}', {"slow_mo": 50}),
    ("NEWSSPIDER_STORE_BATCH_SIZE", "50", 50),
])
def test_a_setting_is_read_from_the_environment_under_its_own_name(name, text, value) -> None:
    got, stderr = _settings(name, **{name: text})
    assert got[name] == value
    assert "deprecated" not in stderr


def test_scrapy_settings_not_declared_are_read_too_typed_as_scrapy_default() -> None:
    got, _ = _settings("DOWNLOAD_DELAY", "HTTPCACHE_ENABLED", "JOBDIR", "CLOSESPIDER_ITEMCOUNT",
                       "PLAYWRIGHT_PROCESS_REQUEST_HEADERS",
                       DOWNLOAD_DELAY="1.5", HTTPCACHE_ENABLED="yes", JOBDIR="crawls/1",
                       CLOSESPIDER_ITEMCOUNT="100", PLAYWRIGHT_PROCESS_REQUEST_HEADERS="")
    assert got == {"DOWNLOAD_DELAY": 1.5, "HTTPCACHE_ENABLED": True, "JOBDIR": "crawls/1",
                   "CLOSESPIDER_ITEMCOUNT": 100, "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": None}


def test_fixed_settings_and_credentials_are_not_taken_from_the_environment() -> None:
    got, _ = _settings("TELNETCONSOLE_ENABLED", "REMOTE_CONTROL_ENABLED", "AWS_SECRET_ACCESS_KEY",
                       "DOWNLOADER",
                       TELNETCONSOLE_ENABLED="true", REMOTE_CONTROL_ENABLED="1",
                       AWS_SECRET_ACCESS_KEY="s3cret", DOWNLOADER="scrapy.core.downloader.Downloader")
    assert got == {"TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False,
                   "AWS_SECRET_ACCESS_KEY": None, "DOWNLOADER": "newsspider.downloader.Downloader"}


@pytest.mark.parametrize(("old", "new", "text", "value"), [
    ("NEWSSPIDER_CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS", "5", 5),
    ("NEWSSPIDER_RETRY_TIMES", "RETRY_TIMES", "0", 0),
    ("NEWSSPIDER_AUTOTHROTTLE", "AUTOTHROTTLE_ENABLED", "on", True),
    ("NEWSSPIDER_AUTOTHROTTLE", "AUTOTHROTTLE_ENABLED", "false", False),
    ("NEWSSPIDER_USER_AGENT", "USER_AGENT", "old-bot/1", "old-bot/1"),
    ("NEWSSPIDER_IMAGES_STORE", "IMAGES_STORE", "/srv/i", "/srv/i"),
    ("NEWSSPIDER_JS_TIMEOUT_MS", "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", "9000", 9000),
])
def test_an_old_name_still_works_for_one_release_with_a_warning(old, new, text, value) -> None:
    got, stderr = _settings(new, **{old: text})
    assert got[new] == value
    assert f"{old} is deprecated" in stderr and f"set {new} instead" in stderr


def test_a_retired_setting_is_ignored_with_a_warning_naming_it() -> None:
    got, stderr = _settings("NEWSSPIDER_DEDUP_INDEX_SIZE", NEWSSPIDER_DEDUP_BAND_FILTER="false")
    assert got == {"NEWSSPIDER_DEDUP_INDEX_SIZE": 10000}
    assert "NEWSSPIDER_DEDUP_BAND_FILTER is no longer used and is ignored" in stderr
    _, quiet = _settings("NEWSSPIDER_DEDUP_INDEX_SIZE")
    assert "NEWSSPIDER_DEDUP_BAND_FILTER" not in quiet


def test_dash_s_of_a_retired_setting_warns_too() -> None:
    settings = _cmdline(NEWSSPIDER_DEDUP_BAND_FILTER="false")
    with pytest.warns(DeprecatedSettingWarning, match="NEWSSPIDER_DEDUP_BAND_FILTER is no longer used and is ignored"):
        warn_removed(settings)  # run for every crawl (newsspider.runtime.configure_crawler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_removed(_cmdline(RETRY_TIMES="1"))


def test_the_new_name_wins_over_the_old_one() -> None:
    got, stderr = _settings("RETRY_TIMES", RETRY_TIMES="2", NEWSSPIDER_RETRY_TIMES="7")
    assert got["RETRY_TIMES"] == 2
    assert "RETRY_TIMES is set too, so NEWSSPIDER_RETRY_TIMES is ignored" in stderr


BAD = [
    ({"RETRY_TIMES": "abc"}, "RETRY_TIMES='abc'", "a whole number"),
    ({"NEWSSPIDER_RETRY_TIMES": "abc"}, "NEWSSPIDER_RETRY_TIMES='abc'", "a whole number"),
    ({"NEWSSPIDER_AUTOTHROTTLE": "maybe"}, "NEWSSPIDER_AUTOTHROTTLE='maybe'", "true or false"),
    ({"NEWSSPIDER_STORE_FLUSH_SECONDS": "soon"}, "NEWSSPIDER_STORE_FLUSH_SECONDS", "a number"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud'", "one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
    ({"PLAYWRIGHT_LAUNCH_OPTIONS": "[1]"}, "PLAYWRIGHT_LAUNCH_OPTIONS", "a JSON object"),
    ({"DOWNLOAD_DELAY": "x"}, "DOWNLOAD_DELAY='x'", "a number"),
]


@pytest.mark.parametrize("command", [
    [SCRAPY, "list"], [SCRAPY, "crawl", "ofweek"], [NEWSSPIDER, "runs"], [NEWSSPIDER, "--help"],
], ids=["scrapy list", "scrapy crawl", "newsspider runs", "newsspider --help"])
@pytest.mark.parametrize(("env", "names", "accepts"), BAD, ids=[next(iter(b[0])) for b in BAD])
def test_a_bad_value_fails_any_command_with_one_line(command, env, names, accepts) -> None:
    proc = _run(command, **env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "not a valid value" in line]
    assert len(errors) == 1 and names in errors[0] and accepts in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert "deprecated" in proc.stderr or proc.stderr.strip() == errors[0]  # nothing but the line


def test_an_empty_variable_counts_as_unset_except_for_text() -> None:
    got, _ = _settings("RETRY_TIMES", "AUTOTHROTTLE_ENABLED", "MONGO_URI",
                       RETRY_TIMES="", AUTOTHROTTLE_ENABLED="", MONGO_URI="")
    assert got == {"RETRY_TIMES": 3, "AUTOTHROTTLE_ENABLED": True, "MONGO_URI": ""}


# -- -s NAME=VALUE -------------------------------------------------------------


def _cmdline(**values: str) -> Settings:
    settings = Settings()
    settings.setmodule(project, priority="project")
    settings.setdict(values, priority="cmdline")
    return settings


def test_dash_s_values_of_declared_settings_are_parsed_as_their_type() -> None:
    settings = _cmdline(RETRY_TIMES="1", AUTOTHROTTLE_ENABLED="off", DOWNLOAD_TIMEOUT="2.5",
                        MONGO_URI="mongodb://db")
    check_settings(settings)
    assert settings["RETRY_TIMES"] == 1 and settings["AUTOTHROTTLE_ENABLED"] is False
    assert settings["DOWNLOAD_TIMEOUT"] == 2.5 and settings["MONGO_URI"] == "mongodb://db"
    assert settings.getpriority("RETRY_TIMES") == settings.getpriority("MONGO_URI")


def test_dash_s_of_an_old_name_sets_the_new_one_with_a_warning() -> None:
    settings = _cmdline(NEWSSPIDER_RETRY_TIMES="1")
    with pytest.warns(DeprecatedSettingWarning, match="set RETRY_TIMES instead"):
        check_settings(settings)
    assert settings["RETRY_TIMES"] == 1
    both = _cmdline(NEWSSPIDER_RETRY_TIMES="1", RETRY_TIMES="2")
    with pytest.warns(DeprecatedSettingWarning, match="NEWSSPIDER_RETRY_TIMES is ignored"):
        check_settings(both)
    assert both["RETRY_TIMES"] == 2


def test_dash_s_bad_value_is_a_setting_error(capsys) -> None:
    with pytest.raises(SettingError) as raised:
        check_settings(_cmdline(NEWSSPIDER_NEAR_DUP_DISTANCE="three"))
    assert raised.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "newsspider: NEWSSPIDER_NEAR_DUP_DISTANCE='three' (command line) is not a valid value: "
        "expected a whole number")


def test_project_values_are_left_alone() -> None:
    settings = _cmdline()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_settings(settings)
    assert settings["RETRY_TIMES"] == project.RETRY_TIMES


@pytest.mark.parametrize("program", ["scrapy crawl", "newsspider crawl"])
def test_dash_s_bad_value_stops_the_crawl_before_it_starts(program) -> None:
    argv = [SCRAPY, "crawl"] if program == "scrapy crawl" else [NEWSSPIDER, "crawl"]
    proc = _run([*argv, "ofweek", "-s", "RETRY_TIMES=abc"])
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "newsspider: RETRY_TIMES='abc' (command line) is not a valid value: expected a whole number")


# -- the "done when": CONCURRENT_REQUESTS=4 in the environment takes effect ----


def test_concurrent_requests_from_the_environment_holds_a_real_crawl(
    tmp_path, mongo_uri, mongo_db
) -> None:
    slow = FaultPlan(1.0, kinds=("slow",), seed=3, slow_seconds=0.05, targets=("article",))
    with ReplicaServer(scenario=Scenario.generated(60, per_page=20, seed=41), faults=slow) as rep:
        proc = _run([SCRAPY, "crawl", "ofweek", "-a", f"start_url={rep.listing_url}",
                     "-a", "max_pages=3"],
                    CONCURRENT_REQUESTS="4", AUTOTHROTTLE_ENABLED="false", MONGO_URI=mongo_uri,
                    MONGO_DATABASE=mongo_db.name, NEWSSPIDER_DATA_DIR=str(tmp_path))
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert rep.peak_in_flight == 4  # 8 per host would allow more: the overall 4 held
    assert mongo_db.articles.count_documents({}) > 0
    assert "'CONCURRENT_REQUESTS': 4" in proc.stderr  # Scrapy's "Overridden settings"
