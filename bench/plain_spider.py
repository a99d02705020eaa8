"""The plain Scrapy spider ``pipeline_cpu_ratio`` measures against (CONTRACT §6).

``scrapy runspider bench/plain_spider.py -a start_url=URL -a max_pages=N``,
run outside the project (no ``scrapy.cfg`` above its working directory, so
none of newsspider's settings, middlewares, extensions or pipelines load):
it walks the replica's OFweek listing pages, follows every listed article
and its continuation pages (``…_2.html``), and yields one dict per article
with the fields a crawl stores from the page, picked with plain selectors —
``url``, ``title``, ``published_raw`` (the date text), ``author`` and
``body_html`` (the outer HTML of the body container, pages joined).  No
normalization, no dedup, no store.  The selectors are those of
``newsspider/portals/ofweek.py`` for the layouts the replica serves
(``h1`` or ``p.title``; the source in ``div.source-name``, ``#laiyuan span``
or ``#laiyuan_mp``).  It imports nothing from newsspider on purpose.

Settings match what the two crawls must share: 16 requests at once, 8 per
host, robots.txt obeyed, no telnet console; everything else is Scrapy's
default.  Reads no environment, writes Scrapy's own stats only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

_NEXT = "//div[contains(@class,'page')]//a[normalize-space(.)='下一页']/@href"


class PlainSpider(scrapy.Spider):
    name = "plain"
    custom_settings = {  # noqa: RUF012 (Scrapy declares it so; a ClassVar clashes with its type)
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "ROBOTSTXT_OBEY": True,
        "TELNETCONSOLE_ENABLED": False,
    }

    def __init__(self, start_url: str = "", max_pages: str = "1", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not start_url:
            raise ValueError("plain spider: -a start_url=URL is required")
        self.start_url = start_url
        self.max_pages = int(max_pages)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(self.start_url, callback=self.parse, cb_kwargs={"page": 1})

    def parse(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        for href in response.css("div.list-left div.con-details h3 > a::attr(href)").getall():
            yield response.follow(href, callback=self.parse_article, cb_kwargs={"parts": []})
        next_href = response.xpath(_NEXT).get()
        if next_href and page < self.max_pages:
            yield response.follow(next_href, callback=self.parse, cb_kwargs={"page": page + 1})

    def parse_article(self, response: Response, parts: list[dict[str, Any]]) -> Iterator[Any]:
        article = response.css("div.artical")
        parts.append({
            "url": response.url,
            "title": article.css("h1::text, p.title::text").get(default="").strip(),
            "published_raw": article.css("div.time.fl::text").get(default="").strip(),
            "author": " ".join(article.css(
                "div.source-name::text, #laiyuan span::text, #laiyuan_mp a span::text"
            ).getall()).strip(),
            "body_html": response.css("#articleC").get(default=""),
        })
        next_href = response.xpath(_NEXT).get()
        if next_href:
            yield response.follow(next_href, callback=self.parse_article, cb_kwargs={"parts": parts})
            return
        first = parts[0]
        yield {**first, "body_html": "".join(p["body_html"] for p in parts), "pages": len(parts)}
