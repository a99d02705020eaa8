"""Pure extraction: HTML + URL + a portal declaration → plain data. No I/O, no Scrapy."""

from newsspider.extract.article import ArticlePage, parse_article
from newsspider.extract.encoding import decode_html
from newsspider.extract.listing import ListingItem, ListingPage, parse_listing
from newsspider.extract.page import extract_page

__all__ = [
    "ArticlePage",
    "ListingItem",
    "ListingPage",
    "decode_html",
    "extract_page",
    "parse_article",
    "parse_listing",
]
