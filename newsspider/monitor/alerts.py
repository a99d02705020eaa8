"""Alerts: one message per webhook when a run fails its checks, and when a portal recovers.

The format is chosen by the webhook URL's host:

=====================================  ==========  =========================================
host                                   kind        body
=====================================  ==========  =========================================
``hooks.slack.com``                    slack       ``{"text"}`` (mrkdwn)
``discord.com``, ``discordapp.com``    discord     ``{"content"}`` (≤ 2,000 characters)
``open.feishu.cn``, ``open.larksuite`` feishu      ``{"msg_type": "text", "content": {"text"}}``
``oapi.dingtalk.com``                  dingtalk    ``{"msgtype": "markdown", "markdown"}``
``qyapi.weixin.qq.com`` (企业微信)     wecom       ``{"msgtype": "markdown", "markdown"}`` (≤ 4,096 bytes)
anything else                          json        the alert document itself (:meth:`Alert.document`)
=====================================  ==========  =========================================

The URL's fragment, which HTTP never sends, can carry options:
``#format=slack`` picks a kind for another host (a Mattermost or Rocket.Chat
that speaks Slack's format, a relay), and ``#secret=SEC…`` signs DingTalk and
Feishu messages for bots whose security setting is a signature.

Delivery (:func:`deliver`) posts to every webhook at once, each in a daemon
thread, and gives up on whatever has not answered within ``timeout`` seconds
altogether: a webhook that hangs, times out or answers an error (HTTP ≥ 400, or
a bot's ``errcode``/``code`` ≠ 0) is retried within that time and logged, and
never fails the crawl or holds its exit longer.  Webhook URLs hold their
tokens (Slack's path, ``access_token=``, ``key=``…): logs only ever show
:func:`redact`'s form.

Hand-written on the standard library (``urllib.request``): spidermon's
actions block the reactor for up to 60 s and know none of the Chinese bots
(see :mod:`newsspider.monitor.suite`); nothing else well kept does this.
Reads no settings (the extension passes them), writes no stats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["Alert", "Delivery", "deliver", "payload", "redact", "webhook_kind"]

logger = logging.getLogger(__name__)

KINDS = ("slack", "discord", "feishu", "dingtalk", "wecom", "json")
_HOSTS = {
    "hooks.slack.com": "slack",
    "discord.com": "discord",
    "discordapp.com": "discord",
    "ptb.discord.com": "discord",
    "canary.discord.com": "discord",
    "open.feishu.cn": "feishu",
    "open.larksuite.com": "feishu",
    "oapi.dingtalk.com": "dingtalk",
    "qyapi.weixin.qq.com": "wecom",
}
DISCORD_MAX_CHARS = 2000
WECOM_MAX_BYTES = 4096
TEXT_MAX_CHARS = 8000
# Pause before a retry, doubled each time (within the delivery's deadline).
RETRY_PAUSE = 0.25
USER_AGENT = "newsspider-alerts/1"


@dataclass(frozen=True, slots=True)
class Alert:
    """What happened to one run: ``event`` is ``"failed"`` or ``"recovered"``."""

    event: str
    portal: str
    worker: str
    run_id: str | None
    finish_reason: str
    failed: Sequence[Mapping[str, str]] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    # Checks that failed in the previous run (a recovery names what recovered).
    previously_failed: Sequence[str] = ()

    def title(self) -> str:
        if self.event == "recovered":
            return f"newsspider: {self.portal} recovered, every health check passed"
        n = len(self.failed)
        return f"newsspider: {self.portal} failed {n} health check{'s' if n != 1 else ''}"

    def lines(self, *, markdown: bool) -> list[str]:
        code = (lambda s: f"`{s}`") if markdown else (lambda s: s)
        run = self.run_id or "not recorded"
        lines = [
            f"run {code(run)} on {self.worker}, finish reason {code(self.finish_reason)}",
            ", ".join(f"{name} {value}" for name, value in self.counts.items()),
        ]
        for check in self.failed:
            bullet = "- " if markdown else "• "
            lines.append(f"{bullet}{code(check['name'])}: {check['message']}")
        if self.event == "recovered" and self.previously_failed:
            lines.append("previously failed: " + ", ".join(code(n) for n in self.previously_failed))
        return lines

    def text(self, *, markdown: bool = False) -> str:
        title = f"*{self.title()}*" if markdown else self.title()
        return "\n".join([title, *self.lines(markdown=markdown)])

    def document(self) -> dict[str, Any]:
        """The plain-JSON body: everything, machine-readable, plus the text."""
        return {
            "source": "newsspider",
            "event": self.event,
            "portal": self.portal,
            "worker": self.worker,
            "run_id": self.run_id,
            "finish_reason": self.finish_reason,
            "failed": [dict(check) for check in self.failed],
            "previously_failed": list(self.previously_failed),
            "counts": dict(self.counts),
            "text": self.text(),
        }


def _fragment(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).fragment))


def webhook_kind(url: str) -> str:
    """The message format for this URL: its ``#format=`` if given, else by host."""
    wanted = _fragment(url).get("format", "").lower()
    if wanted:
        if wanted not in KINDS:
            raise ValueError(f"unknown webhook format {wanted!r}; known: {', '.join(KINDS)}")
        return wanted
    host = (urlsplit(url).hostname or "").lower()
    return _HOSTS.get(host, "json")


def redact(url: str) -> str:
    """``url`` as logs may show it: host and first path segment, every token replaced by ``***``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    segments = [s for s in parts.path.split("/") if s]
    path = "/" + "/".join([*segments[:1], "***"]) if len(segments) > 1 else (
        "/***" if segments else "")
    query = "&".join(f"{quote(k)}=***" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sign(secret: str, timestamp: str, *, dingtalk: bool) -> str:
    to_sign = f"{timestamp}\n{secret}".encode()
    if dingtalk:  # key = secret, message = "timestamp\nsecret"
        digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    else:  # Feishu: key = "timestamp\nsecret", empty message
        digest = hmac.new(to_sign, b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def payload(
    url: str, alert: Alert, now: Callable[[], float] = time.time
) -> tuple[str, dict[str, Any]]:
    """``(URL to post to, JSON body)`` for this webhook; the fragment is never sent."""
    kind = webhook_kind(url)
    secret = _fragment(url).get("secret")
    target = urlunsplit(urlsplit(url)._replace(fragment=""))
    if kind == "slack":
        return target, {"text": _truncate(alert.text(markdown=True), TEXT_MAX_CHARS)}
    if kind == "discord":
        text = alert.text(markdown=True).replace(f"*{alert.title()}*", f"**{alert.title()}**", 1)
        return target, {"content": _truncate(text, DISCORD_MAX_CHARS)}
    if kind == "feishu":
        body: dict[str, Any] = {
            "msg_type": "text",
            "content": {"text": _truncate(alert.text(), TEXT_MAX_CHARS)},
        }
        if secret:
            timestamp = str(int(now()))
            body.update(timestamp=timestamp, sign=_sign(secret, timestamp, dingtalk=False))
        return target, body
    if kind == "dingtalk":
        text = "\n\n".join([f"### {alert.title()}", *alert.lines(markdown=True)])
        if secret:
            timestamp = str(int(now() * 1000))
            parts = urlsplit(target)
            query = parts.query + ("&" if parts.query else "") + urlencode(
                {"timestamp": timestamp, "sign": _sign(secret, timestamp, dingtalk=True)})
            target = urlunsplit(parts._replace(query=query))
        return target, {
            "msgtype": "markdown",
            "markdown": {"title": alert.title(), "text": _truncate(text, TEXT_MAX_CHARS)},
        }
    if kind == "wecom":
        text = "\n".join([f"**{alert.title()}**", *alert.lines(markdown=True)])
        return target, {"msgtype": "markdown",
                        "markdown": {"content": _truncate_bytes(text, WECOM_MAX_BYTES)}}
    return target, alert.document()


@dataclass(slots=True)
class Delivery:
    """How one webhook's delivery went (``webhook`` already redacted)."""

    webhook: str
    kind: str
    delivered: bool = False
    tries: int = 0
    error: str = ""


class _Refused(Exception):
    """The webhook answered, and said no: retrying will not help (a bad token, a keyword rule)."""


def _bot_error(kind: str, raw: bytes) -> str:
    """The error a Chinese bot reports with HTTP 200 (``errcode``/``code`` ≠ 0), else ``""``."""
    if kind not in ("dingtalk", "wecom", "feishu"):
        return ""
    try:
        answer = json.loads(raw.decode("utf-8", "replace") or "{}")
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code in (0, None):
        return ""
    message = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
    return f"the bot answered code {code}: {message}"


def _post_once(target: str, body: bytes, timeout: float, kind: str) -> None:
    request = urllib.request.Request(
        target, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        if exc.code < 500 and exc.code not in (408, 429):
            raise _Refused(f"HTTP {exc.code} {exc.reason}") from exc
        raise
    refused = _bot_error(kind, raw)
    if refused:
        raise _Refused(refused)


def _send(url: str, alert: Alert, deadline: float, retries: int, outcome: Delivery) -> None:
    target, document = payload(url, alert)
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    pause = RETRY_PAUSE
    for attempt in range(retries + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            break
        outcome.tries = attempt + 1
        try:
            # Each try gets its share of what is left, so a hang still leaves room to retry.
            _post_once(target, body, max(0.05, remaining / (retries + 1 - attempt)), outcome.kind)
        except _Refused as exc:
            outcome.error = str(exc)
            return
        except (OSError, urllib.error.URLError, ValueError) as exc:
            # Timeouts, refused connections, resets and 5xx answers are worth another try.
            outcome.error = _describe(exc)
            time.sleep(max(0.0, min(pause, deadline - time.monotonic() - 0.05)))
            pause *= 2
            continue
        outcome.delivered = True
        outcome.error = ""
        return


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def deliver(
    webhooks: Sequence[str], alert: Alert, *, timeout: float = 5.0, retries: int = 2
) -> list[Delivery]:
    """Post ``alert`` to every webhook at once; returns within ``timeout`` seconds, whatever they do.

    Blocking: call it off the reactor.  Each outcome is logged (URLs redacted).
    """
    deadline = time.monotonic() + timeout
    outcomes: list[Delivery] = []
    threads: list[threading.Thread] = []
    for url in webhooks:
        try:
            kind = webhook_kind(url)
        except ValueError as exc:
            outcome = Delivery(redact(url), "?", error=str(exc))
            outcomes.append(outcome)
            continue
        outcome = Delivery(redact(url), kind)
        outcomes.append(outcome)
        # Daemon threads: one that hangs past the deadline never holds the process.
        thread = threading.Thread(
            target=_send, args=(url, alert, deadline, retries, outcome),
            name=f"alert-{kind}", daemon=True,
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for outcome in outcomes:
        if outcome.delivered:
            logger.info("alert (%s) sent to %s (%s)", alert.event, outcome.webhook, outcome.kind)
        else:
            why = outcome.error or f"no answer within {timeout:g} s"
            logger.warning(
                "alert (%s) not delivered to %s (%s) after %d tr%s: %s",
                alert.event, outcome.webhook, outcome.kind, outcome.tries,
                "y" if outcome.tries == 1 else "ies", why,
            )
    return outcomes
