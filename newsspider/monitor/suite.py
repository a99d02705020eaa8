"""The health checks as a spidermon ``MonitorSuite``, run by spidermon's ``MonitorRunner``.

Spidermon (1.27, checked with Scrapy 2.19) is the Scrapy convention for
monitors: each check is one monitor method, a failure is an assertion with a
message, and suites compose — a user's own spidermon suites (setting
``NEWSSPIDER_MONITOR_SUITES``) run beside ours and their failures fail the
run the same way (exit 1, an alert).  What we take from spidermon is the
monitor model and the runner; what we do not take, and why:

* its Scrapy extension runs suites *and their actions* synchronously in the
  reactor thread, and its Slack/Discord actions post with a 60-second
  timeout (``requests``), which would hold a crawl's exit that long;
  spidermon has no Feishu, DingTalk or WeCom action.  Our alerts are sent
  by :mod:`newsspider.monitor.alerts` off the reactor under a few seconds'
  deadline;
* its result class logs through ``Spider.log()``, which Scrapy 2.19
  deprecates (a warning per line): :class:`HealthResult` logs nothing, the
  extension logs each failure once;
* its field coverage counts fields that are merely non-empty on every
  scraped item; ours (:mod:`newsspider.monitor.coverage`) is over stored
  articles, has ``body_text`` ≥ 200 characters and the declared selectors'
  share of each field, and is judged against the portal's own history.

The data each monitor reads (``self.data``): ``stats``, ``reason`` (the
finish reason), ``thresholds``, ``coverage``, ``articles`` (stored),
``baseline``, ``drift`` (:class:`~newsspider.monitor.checks.DriftRules`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from spidermon import Monitor, MonitorSuite, monitors
from spidermon import settings as spidermon_settings
from spidermon.results.monitor import MonitorResult
from spidermon.runners import MonitorRunner

from newsspider.monitor import checks
from newsspider.monitor.checks import CheckResult
from newsspider.monitor.coverage import COVERAGE_KEYS

__all__ = ["CoverageMonitor", "HealthSuite", "RunMonitor", "run_suite"]

# Monitor name of our own monitors; stripped from check names ("newsspider/min_items" -> "min_items").
NAME = "newsspider"


class _Checked(Monitor):
    def _judge(self, result: CheckResult | None, why_skipped: str = "") -> None:
        if result is None:
            self.skipTest(why_skipped or "nothing to judge it by")
        elif not result.passed:
            self.fail(result.message)


def _run_check(check: Callable[..., CheckResult]) -> Callable[[_Checked], None]:
    def test(self: _Checked) -> None:
        self._judge(check(self.data.stats, self.data.reason, self.data.thresholds))

    return test


@monitors.name(NAME)
class RunMonitor(_Checked):
    """Items, errors, rejects and the finish reason against NEWSSPIDER_MONITOR_* thresholds,
    and the store's writes (none lost or refused)."""

    test_min_items = monitors.name("min_items")(_run_check(checks._min_items))
    test_error_ratio = monitors.name("error_ratio")(_run_check(checks._error_ratio))
    test_reject_ratio = monitors.name("reject_ratio")(_run_check(checks._reject_ratio))
    test_finish_reason = monitors.name("finish_reason")(_run_check(checks._finish_reason))
    test_store_writes = monitors.name("store_writes")(_run_check(checks._store_writes))


def _coverage_test(key: str) -> Callable[[_Checked], None]:
    def test(self: _Checked) -> None:
        data = self.data
        self._judge(
            checks.coverage_check(
                key, data.coverage, data.articles, data.stats, data.baseline, data.drift
            ),
            f"{key}: no baseline or floor, or fewer than {data.drift.min_articles} articles stored",
        )

    return monitors.name(f"coverage/{key}")(test)


@monitors.name(NAME)
class CoverageMonitor(_Checked):
    """Each coverage key against the portal's baseline and floors (one method per key)."""


for _key in COVERAGE_KEYS:
    setattr(CoverageMonitor, f"test_coverage_{_key.replace('/', '_')}", _coverage_test(_key))


class HealthSuite(MonitorSuite):
    monitors: ClassVar[list[type[Monitor]]] = [RunMonitor, CoverageMonitor]


class HealthResult(MonitorResult):
    """spidermon's result without output (the extension logs the failures once)."""


class _Runner(MonitorRunner):
    def create_result(self) -> MonitorResult:
        return HealthResult()


def check_name(monitor: Monitor) -> str:
    name = str(monitor.name)
    return name.removeprefix(f"{NAME}/")


def run_suite(
    suites: Iterable[MonitorSuite], data: Mapping[str, Any]
) -> tuple[list[str], list[dict[str, str]]]:
    """Run ``suites``; ``(names passed, [{name, message}] failed)`` — skipped checks in neither.

    A monitor that raises instead of asserting counts as failed, its error as the message.
    """
    passed: list[str] = []
    failed: list[dict[str, str]] = []
    for suite in suites:
        result = _Runner().run(suite, **data)
        for item in result.monitor_results:
            name = check_name(item.item)
            if item.status == spidermon_settings.MONITOR.STATUS.SUCCESS:
                passed.append(name)
            elif item in result.monitors_failed_results:
                # A failed assertion has its message as reason; an exception only a traceback.
                lines = (item.error or "").strip().splitlines()
                message = getattr(item, "reason", None) or (lines[-1] if lines else "error")
                failed.append({"name": name, "message": str(message)})
    return passed, failed
