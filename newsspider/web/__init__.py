"""``newsspider web``: the read-only dashboard over the store (CONTRACT §9).

A Starlette app (:mod:`newsspider.web.app`) with Jinja2 templates, served by
uvicorn (:mod:`newsspider.web.server`).  Every page reads through
:mod:`newsspider.web.queries`: ``_id`` lookups and keyset pages on the
string keys of :mod:`newsspider.store.listing`, each on one index, so a page
costs the same on 500 articles as on 50,000 (``make bench``:
``web_scaling_ratio``).  Charts are SVG drawn by the templates from
geometry computed in :mod:`newsspider.web.charts`; no script runs on any
page.  See docs/dashboard.md.
"""
