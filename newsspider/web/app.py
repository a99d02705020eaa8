"""The dashboard's Starlette app: routes, templates, and which database a page shows.

Pages (all GET, all read-only): ``/`` portals, ``/runs`` and ``/runs/{id}``,
``/articles`` and ``/article?url=``, ``/rejects`` and ``/reject?id=``; plus
``/login`` (a form, when a token is set), ``/logout``, ``/healthz`` and
``/static``.  Endpoints are plain functions: Starlette runs them in its
thread pool, where pymongo's blocking calls belong.

Databases: the configured one (``MONGO_DATABASE``).  When it was not given
explicitly the demo's database (``newsspider_demo``) is offered as well, and
shown by default while the configured one holds nothing — so ``newsspider
web`` after ``make demo`` shows the demo's crawl.  ``?db=`` picks one of the
offered databases, never any other.

Reads no settings (:func:`create_app` is given everything), writes nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import jinja2
from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from newsspider.store.listing import parse_key_time, split_key, title_row_id
from newsspider.web import charts, queries, view
from newsspider.web.security import (
    COOKIE,
    COOKIE_MAX_AGE,
    SecurityHeaders,
    TokenGate,
    csp,
    session_value,
    token_ok,
)

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.database import Database

HERE = Path(__file__).resolve().parent
DEMO_DATABASE = "newsspider_demo"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
HAS_DATA_TTL = 10.0  # seconds the "configured database is empty" answer is kept


@dataclass
class Databases:
    """The databases the dashboard may show, and which one a request gets."""

    client: MongoClient[dict[str, Any]]
    primary: str
    offered: list[str]
    _empty: dict[str, tuple[float, bool]] = field(default_factory=dict)

    def _has_data(self, name: str) -> bool:
        cached = self._empty.get(name)
        if cached is not None and time.monotonic() - cached[0] < HAS_DATA_TTL:
            return cached[1]
        value = queries.has_data(self.client[name])
        self._empty[name] = (time.monotonic(), value)
        return value

    def default(self) -> str:
        if len(self.offered) > 1 and not self._has_data(self.primary):
            for name in self.offered[1:]:
                if self._has_data(name):
                    return name
        return self.primary

    def pick(self, request: Request) -> str:
        asked = request.query_params.get("db", "")
        return asked if asked in self.offered else self.default()


def _http_url(value: Any) -> str | None:
    """``value`` when it is an absolute http(s) URL (safe as an ``href``), else None."""
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
        return value
    return None


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is escaped; safe_body's output is the one marked safe
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(view.FILTERS)
    env.filters["http_url"] = _http_url
    env.globals["share_bar"] = charts.share_bar
    return Jinja2Templates(env=env)


class Dashboard:
    """The endpoints, bound to the databases and the templates."""

    def __init__(self, databases: Databases, token: str | None, page_size: int) -> None:
        self.databases = databases
        self.token = token or ""
        self.page_size = page_size
        self.templates = _templates()

    # -- helpers ----------------------------------------------------------

    def db(self, request: Request) -> Database[dict[str, Any]]:
        return self.databases.client[self.databases.pick(request)]

    def linker(self, request: Request) -> Callable[..., str]:
        name = self.databases.pick(request)
        keep_db = name != self.databases.default()

        def link(path: str, **params: Any) -> str:
            pairs = {k: v for k, v in params.items() if v not in (None, "")}
            if keep_db:
                pairs["db"] = name
            return path + ("?" + urlencode(pairs) if pairs else "")

        return link

    def render(self, request: Request, template: str, status: int = 200,
               img_origins: list[str] | None = None, **context: Any) -> Response:
        db_name = self.databases.pick(request)
        context.update(
            link=self.linker(request),
            db_name=db_name,
            databases=self.databases.offered,
            fallback=db_name != self.databases.primary and "db" not in request.query_params,
            primary=self.databases.primary,
            token_set=bool(self.token),
            path=request.url.path,
        )
        response = self.templates.TemplateResponse(request, template, context, status_code=status)
        if img_origins:
            response.headers["content-security-policy"] = csp(img_origins)
        return response

    def args(self, request: Request, *names: str) -> dict[str, str]:
        return {name: request.query_params.get(name, "").strip() for name in names}

    # -- pages --------------------------------------------------------------

    def portals(self, request: Request) -> Response:
        db = self.db(request)
        cards: list[dict[str, Any]] = []
        for name in queries.portal_names(db):
            runs = [view.run_summary(r) for r in queries.recent_runs(db, name)]
            points = [
                (float(r["item_count"]), r["status"],
                 f"{view.when(r['started_at'])} UTC · {r['item_count']:,} items · {r['status']}")
                for r in reversed(runs)
            ]
            newest = queries.newest_row(db, "@" + name)
            titles = queries.title_rows(db, [newest] if newest else [])
            last = runs[0] if runs else None
            cards.append({
                "name": name,
                "last": last,
                "spark": charts.sparkline(points, slots=queries.SPARK_RUNS),
                "runs": len(runs),
                "failed_recent": sum(1 for r in runs if r["status"] == "failed"),
                "newest": _row_view(newest, titles),
            })
        cards.sort(key=lambda c: (c["last"] is None or c["last"]["status"] != "failed", c["name"]))
        return self.render(request, "portals.html", cards=cards,
                           keys_complete=queries.keys_complete(db))

    def runs(self, request: Request) -> Response:
        db = self.db(request)
        args = self.args(request, "portal", "status", "from", "to", "before", "after")
        error = ""
        page = queries.Page([])
        try:
            page = queries.runs_page(
                db, portal=args["portal"], status=args["status"],
                start=queries.time_bound(args["from"], "from"), end=queries.time_bound(args["to"], "to"),
                before=args["before"] or None, after=args["after"] or None, limit=self.page_size)
        except queries.QueryError as exc:
            error = str(exc)
        rows = [view.run_summary(doc) for doc in page.items]
        return self.render(request, "runs.html", status=400 if error else 200, rows=rows,
                           page=page, args=args, error=error, portals=queries.portal_names(db),
                           statuses=queries.RUN_STATUSES, keys_complete=queries.keys_complete(db))

    def run(self, request: Request) -> Response:
        db = self.db(request)
        doc = queries.run(db, request.path_params["run_id"])
        if doc is None:
            raise HTTPException(404, "no run with this id")
        summary = view.run_summary(doc)
        groups = view.stat_groups(doc.get("stats") or {})
        newer, older = queries.run_neighbours(db, doc)
        started, finished = doc.get("started_at"), doc.get("finished_at")
        window = {}
        if started is not None:
            window["from"] = view.iso(started)[:19]
            window["to"] = view.iso((finished or started) + timedelta(seconds=1))[:19]
        return self.render(
            request, "run.html", run=summary, groups=groups, newer=newer, older=older,
            window=window, statuses=charts.hbars(groups["statuses"]),
            retries=charts.hbars(groups["retries"], css="bar warn"),
            reject_bars=charts.hbars(groups["rejects"], css="bar bad"),
        )

    def articles(self, request: Request) -> Response:
        db = self.db(request)
        args = self.args(request, "portal", "from", "to", "q", "sort", "before", "after")
        error = ""
        page = queries.Page([])
        try:
            filt = queries.article_filter(args["portal"], args["from"], args["to"], args["q"],
                                          args["sort"])
            page = queries.articles_page(db, filt, before=args["before"] or None,
                                         after=args["after"] or None, limit=self.page_size)
        except queries.QueryError as exc:
            error = str(exc)
        return self.render(request, "articles.html", status=400 if error else 200,
                           page=page, args=args, error=error, portals=queries.portal_names(db),
                           keys_complete=queries.keys_complete(db))

    def article(self, request: Request) -> Response:
        db = self.db(request)
        url = request.query_params.get("url", "")
        doc = queries.article(db, url) if url else None
        if doc is None:
            target = queries.alias_target(db, url) if url else None
            if target:
                return RedirectResponse(self.linker(request)("/article", url=target), 303)
            raise HTTPException(404, "no article with this URL")
        body = view.safe_body(doc.get("body_html"))
        origins = view.image_origins(body)
        lead = _http_url(doc.get("lead_image"))
        revisions = queries.revisions(db, doc)
        diffs = []
        versions = [*revisions, doc]
        for old, new in itertools.pairwise(versions):
            diffs.append({
                "old": old, "new_revision": new.get("revision"),
                "title_changed": old.get("title") != new.get("title"),
                "lines": view.text_diff(str(old.get("body_text") or ""), str(new.get("body_text") or "")),
            })
        return self.render(request, "article.html", img_origins=origins, doc=doc, body=body,
                           lead_image=lead, diffs=diffs, known=KNOWN_FIELDS,
                           raw_body=str(doc.get("raw_body_html") or "")[:200_000])

    def rejects(self, request: Request) -> Response:
        db = self.db(request)
        args = self.args(request, "portal", "reason", "before", "after")
        page = queries.rejects_page(db, portal=args["portal"], reason=args["reason"],
                                    before=args["before"] or None, after=args["after"] or None)
        last_runs = []
        for name in queries.portal_names(db):
            runs = queries.recent_runs(db, name, limit=1)
            if runs:
                counts = view.last_run_rejects(runs[0].get("stats") or {})
                last_runs.append({"portal": name, "run": view.run_summary(runs[0]),
                                  "bars": charts.hbars(counts, css="bar bad")})
        return self.render(request, "rejects.html", page=page, args=args,
                           reasons=queries.reject_reasons(db), portals=queries.portal_names(db),
                           last_runs=last_runs)

    def reject(self, request: Request) -> Response:
        db = self.db(request)
        doc = queries.reject(db, request.query_params.get("id", ""))
        if doc is None:
            raise HTTPException(404, "no reject with this id")
        return self.render(request, "reject.html", doc=doc,
                           item=view.pretty_json(doc.get("item") or {}))

    # -- login --------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        next_path = _local_path(request.query_params.get("next", "/"))
        if not self.token:
            return RedirectResponse(next_path, 303)
        error = ""
        if request.method == "POST":
            form = await request.form()
            next_path = _local_path(str(form.get("next") or "/"))
            if token_ok(str(form.get("token") or ""), self.token):
                response = RedirectResponse(next_path, 303)
                response.set_cookie(COOKIE, session_value(self.token), max_age=COOKIE_MAX_AGE,
                                    httponly=True, samesite="strict",
                                    secure=request.url.scheme == "https")
                return response
            await asyncio.sleep(1.0)  # a wrong token costs a second
            error = "wrong token"
        return self.render(request, "login.html", status=401 if error else 200,
                           error=error, next_path=next_path, hide_nav=True)

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict")
        return response

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    # -- errors -------------------------------------------------------------

    async def not_found(self, request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", "not found")
        status = getattr(exc, "status_code", 404)
        return self.render(request, "error.html", status=status, title=f"{status}", message=detail)

    async def store_error(self, request: Request, exc: Exception) -> Response:
        return self.render(request, "error.html", status=503, title="The store did not answer",
                           message=f"{type(exc).__name__}: {str(exc)[:300]}")


def _local_path(value: str) -> str:
    """A redirect target on this site only (``/…``, never ``//host`` or a URL)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _row_view(row: dict[str, Any] | None, titles: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if row is None:
        return None
    _, when, url = split_key(row["k"])
    title = (titles.get(title_row_id(row["k"])) or {}).get("t", "")
    return {"url": url, "title": title, "when": parse_key_time(when)}


# The article page shows these in its own sections; any other field is listed as is.
KNOWN_FIELDS = frozenset({
    "_id", "url", "fetched_url", "alternate_urls", "portal", "site_name", "channel",
    "categories", "title", "author", "published_at", "published_raw", "body_html", "body_text",
    "summary", "lead_image", "images", "language", "content_hash", "simhash", "revision",
    "first_seen_at", "last_crawled_at", "updated_at", "schema_version", "raw_body_html",
    "extraction",
})


def create_app(
    client: MongoClient[dict[str, Any]],
    database: str,
    *,
    offer_demo: bool = False,
    token: str | None = None,
    loopback_only: bool = True,
    page_size: int = queries.PAGE_SIZE,
) -> Starlette:
    """The ASGI app over ``client[database]`` (and the demo's database when ``offer_demo``).

    ``token``: required on every page when set.  ``loopback_only``: the server
    binds to loopback without a token, so only loopback ``Host`` headers are
    served (a page on another site cannot reach it through DNS rebinding).
    """
    offered = [database] + ([DEMO_DATABASE] if offer_demo and database != DEMO_DATABASE else [])
    dash = Dashboard(Databases(client, database, offered), token, page_size)
    routes = [
        Route("/", dash.portals, name="portals"),
        Route("/runs", dash.runs, name="runs"),
        Route("/runs/{run_id}", dash.run, name="run"),
        Route("/articles", dash.articles, name="articles"),
        Route("/article", dash.article, name="article"),
        Route("/rejects", dash.rejects, name="rejects"),
        Route("/reject", dash.reject, name="reject"),
        Route("/login", dash.login, methods=["GET", "POST"], name="login"),
        Route("/logout", dash.logout, methods=["POST"], name="logout"),
        Route("/healthz", dash.healthz, name="healthz"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if token:
        middleware.append(Middleware(TokenGate, token=token))
    elif loopback_only:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: dash.not_found, PyMongoError: dash.store_error},
    )


__all__ = ["DEMO_DATABASE", "create_app"]
