"""Alerts: each bot's format received by a real loopback webhook, signatures, redaction, deadlines."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time

import pytest

from newsspider.monitor.alerts import Alert, deliver, payload, redact, webhook_kind
from tests.webhooks import WebhookReceiver

FAILED = Alert(
    event="failed", portal="ofweek", worker="host:42", run_id="abc123", finish_reason="finished",
    failed=[{"name": "coverage/selectors/body_html",
             "message": "share of articles whose body_html the declared selectors found, 0.00"}],
    counts={"stored": 27, "rejected": 1},
)
RECOVERED = Alert(event="recovered", portal="ofweek", worker="host:42", run_id="def456",
                  finish_reason="finished", counts={"stored": 27},
                  previously_failed=["coverage/selectors/body_html"])


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", "slack"),
        ("https://discord.com/api/webhooks/123/abc", "discord"),
        ("https://discordapp.com/api/webhooks/123/abc", "discord"),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/8c1d-aa", "feishu"),
        ("https://open.larksuite.com/open-apis/bot/v2/hook/8c1d-aa", "feishu"),
        ("https://oapi.dingtalk.com/robot/send?access_token=t0k", "dingtalk"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k3y", "wecom"),
        ("https://alerts.example.com/newsspider", "json"),
        ("https://chat.example.com/hooks/x#format=slack", "slack"),
    ],
)
def test_the_format_follows_the_host(url: str, kind: str) -> None:
    assert webhook_kind(url) == kind


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown webhook format 'teams'"):
        webhook_kind("https://example.com/x#format=teams")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/services/***"),
        ("https://discord.com/api/webhooks/123/abc", "https://discord.com/api/***"),
        ("https://oapi.dingtalk.com/robot/send?access_token=t0k",
         "https://oapi.dingtalk.com/robot/***?access_token=***"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k3y",
         "https://qyapi.weixin.qq.com/cgi-bin/***?key=***"),
        ("https://user:pw@example.com/t0k#secret=SEC", "https://example.com/***"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_redaction_keeps_no_token(url: str, shown: str) -> None:
    assert redact(url) == shown


def _formats(receiver: WebhookReceiver) -> dict[str, str]:
    return {kind: receiver.url(f"/{kind}/TOKEN-{kind}", f"format={kind}")
            for kind in ("slack", "discord", "feishu", "dingtalk", "wecom", "json")}


def test_each_format_as_the_receiver_gets_it() -> None:
    with WebhookReceiver() as receiver:
        urls = _formats(receiver)
        outcomes = deliver(list(urls.values()), FAILED, timeout=5)
        assert all(o.delivered for o in outcomes), outcomes
        got = {post.path.split("/")[1]: post for post in receiver.posts}
    assert set(got) == set(urls)
    assert all(post.headers["Content-Type"].startswith("application/json") for post in got.values())
    slack = got["slack"].body["text"]
    assert slack.startswith("*newsspider: ofweek failed 1 health check*")
    assert "`coverage/selectors/body_html`" in slack and "`abc123`" in slack
    assert got["discord"].body["content"].startswith("**newsspider: ofweek failed 1 health check**")
    feishu = got["feishu"].body
    assert feishu["msg_type"] == "text" and "coverage/selectors/body_html" in feishu["content"]["text"]
    ding = got["dingtalk"].body
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"].startswith("newsspider:")
    assert "stored 27, rejected 1" in ding["markdown"]["text"]
    wecom = got["wecom"].body
    assert wecom["msgtype"] == "markdown" and "host:42" in wecom["markdown"]["content"]
    doc = got["json"].body
    assert doc["event"] == "failed" and doc["portal"] == "ofweek" and doc["run_id"] == "abc123"
    assert doc["worker"] == "host:42" and doc["finish_reason"] == "finished"
    assert doc["failed"] == [dict(c) for c in FAILED.failed] and doc["counts"]["stored"] == 27


def test_a_recovery_names_what_recovered() -> None:
    _, body = payload("https://alerts.example.com/x", RECOVERED)
    assert body["event"] == "recovered" and body["failed"] == []
    assert body["previously_failed"] == ["coverage/selectors/body_html"]
    assert body["text"].startswith("newsspider: ofweek recovered, every health check passed")


def test_long_messages_fit_each_bot() -> None:
    long = Alert("failed", "ofweek", "h:1", "r", "finished",
                 failed=[{"name": f"c{i}", "message": "字" * 300} for i in range(40)])
    assert len(payload("https://discord.com/api/webhooks/1/a", long)[1]["content"]) <= 2000
    wecom = payload("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", long)[1]
    assert len(wecom["markdown"]["content"].encode("utf-8")) <= 4096


def test_dingtalk_and_feishu_signatures() -> None:
    secret = "SEC0123"
    target, _ = payload("https://oapi.dingtalk.com/robot/send?access_token=t#secret=SEC0123",
                        FAILED, now=lambda: 1700000000.5)
    assert "#" not in target and "secret" not in target
    assert "timestamp=1700000000500" in target
    expected = base64.b64encode(hmac.new(
        secret.encode(), f"1700000000500\n{secret}".encode(), hashlib.sha256).digest()).decode()
    from urllib.parse import parse_qs, urlsplit

    assert parse_qs(urlsplit(target).query)["sign"] == [expected]
    _, body = payload("https://open.feishu.cn/open-apis/bot/v2/hook/x#secret=SEC0123", FAILED,
                      now=lambda: 1700000000.5)
    assert body["timestamp"] == "1700000000"
    assert body["sign"] == base64.b64encode(hmac.new(
        f"1700000000\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def test_a_hanging_webhook_is_given_up_within_the_deadline(caplog) -> None:
    caplog.set_level(logging.INFO, logger="newsspider.monitor.alerts")
    with WebhookReceiver("hang") as hanging, WebhookReceiver() as fine:
        started = time.monotonic()
        outcomes = deliver([hanging.url(), fine.url()], FAILED, timeout=1.5, retries=2)
        elapsed = time.monotonic() - started
        tries = len(hanging.posts)
    assert elapsed < 1.5 + 0.5, elapsed
    assert [o.delivered for o in outcomes] == [False, True]  # the other webhook still got it
    assert tries >= 2  # each try had its share of the time, so it was retried
    text = caplog.text
    assert "not delivered to http://127.0.0.1:" in text and "/hook/***" in text
    assert "SECRET-TOKEN-123" not in text


def test_a_server_error_is_retried_and_a_refusal_is_not(caplog) -> None:
    caplog.set_level(logging.INFO, logger="newsspider.monitor.alerts")
    with WebhookReceiver("error") as failing, WebhookReceiver("refuse") as refusing:
        outcomes = deliver([failing.url(), refusing.url("/robot/x", "format=dingtalk")], FAILED,
                           timeout=3, retries=2)
        assert len(failing.posts) == 3  # the first try and two retries
        assert len(refusing.posts) == 1  # a keyword rule will not change on retry
    assert not outcomes[0].delivered and outcomes[0].error == "HTTP 500 Internal Server Error"
    assert not outcomes[1].delivered
    assert "the bot answered code 310000: keywords not in content" in outcomes[1].error
    assert "after 3 tries: HTTP 500" in caplog.text
