"""Pure extraction: HTML + URL + a portal declaration → plain data. No I/O, no Scrapy.

:func:`extract_page` (``page.py``) is the one entry point that also runs the
body stage (``newsspider.normalize``), so it returns the fields as stored;
``cli.py``, the ``newsspider extract`` command, is the one module that reads
a file.
"""

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
