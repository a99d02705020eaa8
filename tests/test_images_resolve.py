"""Image URL resolution: proxies, lazy attributes, srcset, placeholders."""

from __future__ import annotations

import pytest

from newsspider.normalize.html import normalize_body
from newsspider.normalize.images import (
    DEFAULT_PROXY_PATTERNS,
    ImageConfig,
    ProxyPattern,
    absolutize,
    choose_image_url,
    is_placeholder,
    largest_srcset_candidate,
    unwrap_proxy,
)

PAGE = "https://www.example.com/news/2022/a.html"


@pytest.mark.parametrize(
    ("wrapped", "original"),
    [
        (
            "https://cors.zfour.workers.dev/?http://images.ofweek.com/Upload/News/2022-08/31/yuanchen/1661932650283065333.png",
            "http://images.ofweek.com/Upload/News/2022-08/31/yuanchen/1661932650283065333.png",
        ),
        ("https://cors.zfour.workers.dev/?https://a.com/b.png?x=1&y=2", "https://a.com/b.png?x=1&y=2"),
        ("https://images.weserv.nl/?url=a.com/b.jpg&w=300", "http://a.com/b.jpg"),
        ("https://images.weserv.nl/?url=ssl:a.com/b.jpg", "https://a.com/b.jpg"),
        ("https://wsrv.nl/?url=https%3A%2F%2Fa.com%2Fb.jpg&h=80", "https://a.com/b.jpg"),
        ("https://img.proxy.example/fetch?url=https://a.com/c.webp", "https://a.com/c.webp"),
        ("https://site.example/_next/image?url=%2Fmedia%2Fd.png&w=640", "https://site.example/media/d.png"),
        ("https://proxy.example/?url=//cdn.a.com/e.png", "https://cdn.a.com/e.png"),
        # nested: cors proxy around weserv around the original
        ("https://cors.zfour.workers.dev/?https://wsrv.nl/?url=a.com/f.png", "http://a.com/f.png"),
        # not proxies: left alone
        ("https://a.com/g.png?url=not-a-url", "https://a.com/g.png?url=not-a-url"),
        ("https://a.com/h.png", "https://a.com/h.png"),
        ("https://cors.zfour.workers.dev/", "https://cors.zfour.workers.dev/"),
    ],
)
def test_unwrap_proxy(wrapped: str, original: str) -> None:
    assert unwrap_proxy(wrapped, DEFAULT_PROXY_PATTERNS) == original


def test_user_proxy_pattern_and_bad_pattern() -> None:
    config = ImageConfig.build(extra_proxies=["img.cdn.example/resize?src"])
    assert unwrap_proxy("https://img.cdn.example/resize?src=https://a.com/x.png&w=1", config.proxies) == (
        "https://a.com/x.png"
    )
    with pytest.raises(ValueError, match="no '\\?'"):
        ProxyPattern.parse("img.cdn.example/resize")
    with pytest.raises(ValueError, match="placeholder"):
        ImageConfig.build(extra_placeholders=["(unclosed"])


@pytest.mark.parametrize(
    ("srcset", "largest"),
    [
        ("a.jpg 1x, b.jpg 2x", "b.jpg"),
        ("small.jpg 320w, big.jpg 1280w, mid.jpg 640w", "big.jpg"),
        ("https://res.example/w_100,h_80/a.jpg 100w, https://res.example/w_900,h_720/a.jpg 900w",
         "https://res.example/w_900,h_720/a.jpg"),
        ("only.jpg", "only.jpg"),
        ("  a.jpg 1.5x,b.jpg   ", "a.jpg"),
        ("", None),
    ],
)
def test_srcset_largest(srcset: str, largest: str | None) -> None:
    assert largest_srcset_candidate(srcset) == largest


@pytest.mark.parametrize(
    "url",
    [
        "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "", "  ", "about:blank", "/images/blank.gif",
        "https://s.example/static/loading.gif", "https://s.example/img/lazyload-placeholder.png",
        "https://s.example/spacer.gif", "https://s.example/a/grey.gif?v=2", "https://s.example/1x1.png",
    ],
)
def test_placeholders(url: str) -> None:
    assert is_placeholder(url)


@pytest.mark.parametrize("url", ["https://s.example/2022/photo.jpg", "https://s.example/download.png", "https://s.example/loader-icon-2x/real.jpg"])
def test_not_placeholders(url: str) -> None:
    assert not is_placeholder(url)


@pytest.mark.parametrize(
    ("attrs", "url", "src"),
    [
        ({"src": "/img/loading.gif", "data-original": "/p/1.jpg"}, "https://www.example.com/p/1.jpg", "/img/loading.gif"),
        ({"src": "data:image/gif;base64,xx", "data-src": "//cdn.example.com/2.jpg"}, "https://cdn.example.com/2.jpg", "data:image/gif;base64,xx"),
        ({"data-lazy-src": "3.jpg"}, "https://www.example.com/news/2022/3.jpg", "3.jpg"),
        ({"data-actualsrc": "https://zhimg.example/4.jpg", "src": "https://zhimg.example/4_b.jpg"}, "https://zhimg.example/4.jpg", "https://zhimg.example/4_b.jpg"),
        ({"src": "blank.gif", "data-srcset": "s.jpg 300w, l.jpg 1200w"}, "https://www.example.com/news/2022/l.jpg", "blank.gif"),
        ({"src": "5.jpg", "srcset": "5.jpg 1x, 5@2x.jpg 2x"}, "https://www.example.com/news/2022/5@2x.jpg", "5.jpg"),
        ({"src": " https://cors.zfour.workers.dev/?http://x.cn/6.png "}, "http://x.cn/6.png", " https://cors.zfour.workers.dev/?http://x.cn/6.png "),
        ({"src": "data:image/png;base64,AAAA"}, None, "data:image/png;base64,AAAA"),
        ({"src": "javascript:alert(1)"}, None, "javascript:alert(1)"),
        ({}, None, ""),
    ],
)
def test_choose_image_url(attrs: dict[str, str], url: str | None, src: str) -> None:
    assert choose_image_url(attrs, PAGE) == (url, src)


def test_absolutize() -> None:
    assert absolutize("//cdn.example.com/a.png", "http://site.example/") == "http://cdn.example.com/a.png"
    assert absolutize("../b.png", PAGE) == "https://www.example.com/news/b.png"
    assert absolutize("/c 1.png", PAGE) == "https://www.example.com/c%201.png"
    assert absolutize("relative.png", None) is None
    assert absolutize("ftp://x.example/a.png", PAGE) is None


def test_body_images_records_and_removal() -> None:
    html = (
        '<p>a<img src="/img/loading.gif" data-original="/p/1.jpg" alt=" One "></p>'
        '<div class="img_box"><img class="lazy" data-src="//cdn.example.com/2.jpg"></div>'
        '<p><img src="data:image/gif;base64,R0lGOD"></p>'
        '<p><img src="https://t.example/pixel.png" width="1" height="1">b</p>'
    )
    result = normalize_body(html, PAGE)
    assert result.images == [
        {"url": "https://www.example.com/p/1.jpg", "src": "/img/loading.gif", "alt": "One"},
        {"url": "https://cdn.example.com/2.jpg", "src": "//cdn.example.com/2.jpg", "alt": ""},
    ]
    assert result.html == (
        '<p>a<img src="https://www.example.com/p/1.jpg" alt="One"></p>'
        '<p><img src="https://cdn.example.com/2.jpg"></p><p>b</p>'
    )
    assert result.events["images_removed"] == 2
