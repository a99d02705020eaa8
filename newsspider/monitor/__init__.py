"""Crawl health, Scrapy-free: field coverage, the checks, their spidermon suite, and alerts.

``coverage`` (what share of a run's stored articles has each field),
``checks`` (pure functions from a run's stats, its coverage, the portal's
baseline and floors to pass/fail with a message), ``suite`` (the checks as a
spidermon ``MonitorSuite``) and ``alerts`` (webhook messages by host, and
their delivery).  The Scrapy glue is :mod:`newsspider.extensions.monitor`.
"""
