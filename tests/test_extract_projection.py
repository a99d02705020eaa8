"""The projection of trafilatura's text onto the page (extract/projection.py), rule by rule.

Each test builds a small news page around the same article and checks one
rule through ``extract_main``, the function the ``feed`` spider calls.
"""

from __future__ import annotations

from lxml import html as lxml_html

from newsspider.extract.auto import extract_main
from newsspider.extract.projection import _continuations

URL = "https://news.example.com/2024/05/harbour-bridge.html"
TITLE = "Harbour bridge reopens after two years of repairs"

PARAGRAPHS = [
    (
        "The harbour bridge reopened to traffic on Monday morning after two years of repairs "
        "that replaced most of its steel deck and all of the cables holding it."
    ),
    (
        "City engineers said the work had cost less than planned, because the old foundations "
        "turned out to be in better shape than the first survey had suggested."
    ),
    (
        "Commuters who had spent the closure on ferries and detours lined up before dawn, and "
        "the first bus crossed at six o'clock to applause from the workers on the pier."
    ),
    (
        "The council will keep a lower speed limit for the first month while the new surface "
        "settles, and cyclists get a separate lane on the western side for the first time."
    ),
    (
        "Local shops on both ends of the bridge expect their trade to recover quickly now that "
        "the traffic that passed their doors every day for decades is back again."
    ),
    (
        "A small ceremony is planned for the weekend, when the mayor will unveil a plaque "
        "listing the names of the engineers and the welders who rebuilt the deck."
    ),
]


def _page(body: str) -> str:
    nav = "".join(f'<li><a href="/section/{i}.html">Section {i}</a></li>' for i in range(12))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{TITLE} | Example News</title><meta property="og:title" content="{TITLE}">
</head><body><header><nav><ul>{nav}</ul></nav></header>
<main><h1>{TITLE}</h1>{body}</main>
<footer><p>Copyright Example News. All rights reserved. Terms of use and privacy policy.</p>
</footer></body></html>"""


def _article(paragraphs: list[str] = PARAGRAPHS) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def _text(body: str | None) -> str:
    assert body is not None
    return " ".join(lxml_html.fragment_fromstring(body, create_parent="div").text_content().split())


def test_the_article_comes_out_whole_without_the_page_around_it() -> None:
    body, method = extract_main(_page(f'<div class="story">{_article()}</div>'), URL)
    assert method == "container"
    text = _text(body)
    assert all(p in text for p in PARAGRAPHS)
    assert "Section 3" not in text and "Copyright" not in text and TITLE not in text


def test_a_caption_goes_and_its_image_stays() -> None:
    figure = (
        '<figure><img src="/img/bridge.jpg" alt="the bridge">'
        "<figcaption>The bridge at dawn on Monday. Photo: Example News</figcaption></figure>"
    )
    story = f'<div class="story">{_article(PARAGRAPHS[:3])}{figure}{_article(PARAGRAPHS[3:])}</div>'
    body, _ = extract_main(_page(story), URL)
    assert "Photo: Example News" not in _text(body)
    assert 'src="/img/bridge.jpg"' in body


def test_bare_text_and_an_embedded_post_between_paragraphs_stay() -> None:
    bare = "Officials say a second bridge further upstream will be inspected in the autumn."
    tweet = (
        '<blockquote class="social-post"><p>Finally crossing the bridge again, what a view '
        'this morning!</p>— A commuter (@commuter) <a href="https://social.example/1">May 6</a>'
        "</blockquote>"
    )
    story = (
        f'<div class="story">{_article(PARAGRAPHS[:2])}<div class="ad"></div>{bare}'
        f"{_article(PARAGRAPHS[2:4])}{tweet}{_article(PARAGRAPHS[4:])}</div>"
    )
    text = _text(extract_main(_page(story), URL)[0])
    assert bare in text
    assert "Finally crossing the bridge again" in text
    assert all(p in text for p in PARAGRAPHS)


def test_link_lines_teaser_boxes_and_hover_cards_go() -> None:
    related = (
        '<p>Related: <a href="/2024/04/ferries.html">Ferries end their bridge service after two '
        "busy years on the water</a></p>"
    )
    teasers = "".join(
        f'<div class="teaser"><a href="/2024/05/{i}.html">Another story about the city number '
        f"{i}</a><p>A short summary of that other story {i}.</p></div>"
        for i in range(4)
    )
    card = (
        '<span class="card"><a href="/people/mayor">Mayor Jones</a>'
        '<a href="/2024/01/a.html">Mayor opens the new library downtown</a> '
        '<a href="/2024/02/b.html">Mayor announces the budget for next year</a></span>'
    )
    paragraphs = [*PARAGRAPHS]
    paragraphs[5] = paragraphs[5].replace("the mayor", f"the mayor {card}")
    story = (
        f'<div class="story">{_article(paragraphs[:3])}{related}{_article(paragraphs[3:])}'
        f'<div class="latest">{teasers}</div></div>'
    )
    text = _text(extract_main(_page(story), URL)[0])
    assert "Related:" not in text
    assert "Another story about the city" not in text and "A short summary" not in text
    assert "Mayor opens the new library" not in text
    assert "A small ceremony is planned for the weekend" in text


def test_the_headline_and_the_page_address_printed_in_the_body_go() -> None:
    story = f'<div class="story"><p>{TITLE}</p><p>{URL}</p>{_article()}</div>'
    text = _text(extract_main(_page(story), URL)[0])
    assert TITLE not in text and URL not in text
    assert all(p in text for p in PARAGRAPHS)


def test_a_body_split_into_sections_comes_out_whole() -> None:
    section = '<div class="grid"><div class="article-body">{}</div><aside></aside></div>'
    story = (
        section.format(_article(PARAGRAPHS[:3]))
        + '<div class="ad-row">Advertisement</div>'
        + section.format(_article(PARAGRAPHS[3:]))
    )
    text = _text(extract_main(_page(story), URL)[0])
    assert all(p in text for p in PARAGRAPHS)
    assert "Advertisement" not in text


def test_the_next_article_appended_below_is_not_a_section_of_this_one() -> None:
    """Same markup as a split body, but the second part has its own headline."""
    page = _page(
        f'<div class="article-body">{_article()}</div><div class="ad-row">Advertisement</div>'
        f'<div class="article-body"><h1>River tunnel closes</h1>{_article()}</div>'
        f'<div class="article-body">{_article()}</div>'
    )
    def parts(html: str) -> tuple[lxml_html.HtmlElement, list[lxml_html.HtmlElement]]:
        root = lxml_html.document_fromstring(html)
        return root.find("body"), root.find_class("article-body")

    body, (first, appended, _) = parts(page)
    assert appended.find("h1") is not None
    assert _continuations(first, body) == []
    body, (first, second, third) = parts(page.replace("<h1>River tunnel closes</h1>", ""))
    assert _continuations(first, body) == [second, third]
