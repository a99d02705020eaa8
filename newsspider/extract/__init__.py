"""Pure extraction: HTML + URL + a portal declaration → plain data. No I/O, no Scrapy."""

from newsspider.extract.article import ArticlePage, parse_article
from newsspider.extract.encoding import decode_html
from newsspider.extract.listing import ListingItem, ListingPage, parse_listing

__all__ = [
    "ArticlePage",
    "ListingItem",
    "ListingPage",
    "decode_html",
    "parse_article",
    "parse_listing",
]
