"""The review page: what the traps saw, server-rendered by the gateway, and people's verdicts.

Routes (a sub-application at ``/review``; the gateway's bearer-token middleware leaves it to
this module's own login, and no page but the login form answers without a session)::

    GET  /review/login            the login form
    POST /review/login            token -> session cookie (HttpOnly, SameSite=Strict, 12 h)
    POST /review/logout
    GET  /review/                 devices' last status; events newest first with their best
                                  image and boxes; filters: device, date, class, min score
    GET  /review/media/<sha256>   a stored JPEG (thumbnails, full frames)
    POST /review/verdict          device, event, verdict (correct|wrong|species), species

People log in with the operator token, or with the shared token only while the API still
accepts it (with ``device_tokens_only``, until a device is registered; a session opened with it
ends then too). A device's own token never opens the page: a stolen trap must not read the
fleet's events. Forms carry a per-session token against cross-site posts. Verdicts go to
:class:`~wildcam.gateway.verdicts.VerdictStore` in the gateway's store directory.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from wildcam.ecology.frames import DeviceStatus, Event, collect, devices, events
from wildcam.errors import InputError
from wildcam.gateway.store import GatewayStore
from wildcam.gateway.verdicts import Verdict, VerdictStore

__all__ = ["PREFIX", "review_app"]

PREFIX = "/review"
COOKIE = "wildcam_review"
SESSION_S = 12 * 3600.0
MAX_EVENTS = 200
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STYLE = """body{font:14px system-ui,sans-serif;margin:1em 2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
.events{display:flex;flex-wrap:wrap;gap:1em}.event{border:1px solid #ccc;padding:.5em;width:330px}
.pic{position:relative;display:inline-block}
.pic img{max-width:320px;max-height:240px;display:block}
.box{position:absolute;border:2px solid #e33;box-sizing:border-box}
.verdict{font-weight:bold}form.inline{display:inline}"""


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"{body}</body></html>",
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'",
        },
    )


def _devices_table(status: list[DeviceStatus]) -> str:
    rows = []
    for d in status:
        s = d.status
        battery = s.get("battery")
        life = s.get("projected_battery_h")
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    d.device,
                    f"{battery:.0%}" if isinstance(battery, (int, float)) else "?",
                    f"{s.get('mode', '?')} / {s.get('state') or '?'}",
                    s.get("queue_depth", "?"),
                    _time(d.last_contact),
                    f"{life / 24:.1f} days" if isinstance(life, (int, float)) else "?",
                    d.frames,
                )
            )
            + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "device",
            "battery",
            "mode / state",
            "queue depth",
            "last contact",
            "projected lifetime",
            "frames",
        )
    )
    return f"<h2>Devices</h2><table id='devices'><tr>{head}</tr>{''.join(rows)}</table>"


def _event_card(event: Event, verdict: Verdict | None, csrf: str, back: str) -> str:
    frame = event.best
    boxes = "".join(
        f"<div class='box' style='left:{b[0]:.2%};top:{b[1]:.2%};width:{b[2]:.2%};"
        f"height:{b[3]:.2%}' title='{d.class_id} {d.score:.2f}'></div>"
        for d in frame.detections
        if (b := frame.media_box(d)) is not None
    )
    pic = (
        (
            f"<div class='pic'><img alt='event image' src='{PREFIX}/media/{frame.media}'>"
            f"{boxes}</div>"
        )
        if frame.media
        else "<p>(no image uploaded)</p>"
    )
    full = "".join(
        f" <a href='{PREFIX}/media/{f.full_frame}'>full frame</a>"
        for f in event.frames
        if f.full_frame
    )
    said = (
        f"<p class='verdict'>verdict: {html.escape(verdict.verdict)}"
        f"{' (' + html.escape(verdict.species) + ')' if verdict.species else ''}</p>"
        if verdict
        else ""
    )
    hidden = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(v, quote=True)}'>"
        for k, v in (
            ("device", event.device),
            ("event", event.key),
            ("csrf", csrf),
            ("back", back),
        )
    )
    buttons = "".join(
        f"<button name='verdict' value='{v}'>{v}</button>" for v in ("correct", "wrong")
    )
    return (
        f"<div class='event' data-device='{html.escape(event.device, quote=True)}' "
        f"data-event='{html.escape(event.key, quote=True)}'>"
        f"<p>{html.escape(event.device)} · {_time(event.start_ns / 1e9)} · "
        f"{len(event.frames)} frame(s) · {', '.join(event.classes) or 'nothing'} "
        f"{event.score:.2f}</p>{pic}<p>{full}</p>{said}"
        f"<form method='post' action='{PREFIX}/verdict'>{hidden}{buttons}"
        f"<input name='species' placeholder='another species' size='14'>"
        f"<button name='verdict' value='species'>species</button></form></div>"
    )


def _filters(query: Any, names: list[str], classes: list[str]) -> str:
    def select(name: str, options: list[str]) -> str:
        chosen = query.get(name, "")
        opts = "".join(
            f"<option{' selected' if o == chosen else ''}>{html.escape(o)}</option>"
            for o in ["", *options]
        )
        return f"<label>{name} <select name='{name}'>{opts}</select></label> "

    date = html.escape(query.get("date", ""), quote=True)
    score = html.escape(query.get("min_score", ""), quote=True)
    return (
        f"<form id='filters' method='get' action='{PREFIX}/'>{select('device', names)}"
        f"<label>date <input type='date' name='date' value='{date}'></label> "
        f"{select('class', classes)}<label>min score <input name='min_score' "
        f"size='4' value='{score}'></label> <button>filter</button></form>"
    )


def _matches(event: Event, query: Any) -> bool:
    try:
        min_score = float(query.get("min_score") or 0.0)
    except ValueError:
        raise web.HTTPBadRequest(text="min_score must be a number") from None
    day = datetime.fromtimestamp(event.start_ns / 1e9, timezone.utc).strftime("%Y-%m-%d")
    return (
        (not query.get("device") or event.device == query["device"])
        and (not query.get("date") or day == query["date"])
        and (not query.get("class") or query["class"] in event.classes)
        and event.score >= min_score
    )


def review_app(
    store: GatewayStore,
    token: str,
    secure: bool = False,
    *,
    operator_token: str = "",
    shared_accepted: Callable[[], bool] = lambda: True,
) -> web.Application:
    """The review sub-application over ``store``: log in with ``operator_token`` (``''``: none)
    or with the shared ``token`` while ``shared_accepted()`` (the API's rule for it)."""
    verdicts = VerdictStore(store.directory)
    csrf_key = secrets.token_bytes(32)
    # session id -> (expiry (monotonic), reviewer's name, opened with the shared token)
    sessions: dict[str, tuple[float, str, bool]] = {}

    def login_token(given: str) -> tuple[bool, bool]:
        """(accepted, shared): the operator token, or the shared one while it is accepted."""
        if operator_token and hmac.compare_digest(given.encode(), operator_token.encode()):
            return True, False
        shared = hmac.compare_digest(given.encode(), token.encode())
        return shared and shared_accepted(), True

    def session(request: web.Request) -> str | None:
        sid = request.cookies.get(COOKIE, "")
        expiry, _, shared = sessions.get(sid, (0.0, "", False))
        if expiry < time.monotonic() or (shared and not shared_accepted()):
            sessions.pop(sid, None)
            return None
        return sid

    def csrf_of(sid: str) -> str:
        return hmac.new(csrf_key, sid.encode(), "sha256").hexdigest()

    @web.middleware
    async def login_required(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == f"{PREFIX}/login" or session(request) is not None:
            return await handler(request)
        if request.method == "GET" and not request.path.startswith(f"{PREFIX}/media/"):
            raise web.HTTPSeeOther(f"{PREFIX}/login")
        raise web.HTTPUnauthorized(text="log in first")

    async def login_form(request: web.Request) -> web.Response:
        failed = "<p>wrong token</p>" if request.query.get("failed") else ""
        return _page(
            "wildcam review: log in",
            f"<h1>wildcam review</h1>{failed}"
            f"<form method='post' action='{PREFIX}/login'><label>operator token "
            "(or the gateway's shared token) "
            "<input type='password' name='token' id='token' autocomplete='off'>"
            "</label> <label>your name (recorded with your verdicts) <input "
            "name='name' id='name' maxlength='100'></label> "
            "<button id='login'>log in</button></form>",
        )

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        accepted, shared = login_token(str(form.get("token", "")).strip())
        if not accepted:
            await asyncio.get_running_loop().run_in_executor(None, store.count, "unauthorized")
            raise web.HTTPSeeOther(f"{PREFIX}/login?failed=1")
        now = time.monotonic()
        for sid in [s for s, (e, _, _) in sessions.items() if e < now]:
            del sessions[sid]
        sid = secrets.token_urlsafe(32)
        sessions[sid] = (now + SESSION_S, str(form.get("name", "")).strip()[:100], shared)
        response = web.HTTPSeeOther(f"{PREFIX}/")
        response.set_cookie(
            COOKIE,
            sid,
            httponly=True,
            samesite="Strict",
            path=PREFIX,
            secure=secure,
            max_age=int(SESSION_S),
        )
        raise response

    async def logout(request: web.Request) -> web.Response:
        sessions.pop(request.cookies.get(COOKIE, ""), None)
        response = web.HTTPSeeOther(f"{PREFIX}/login")
        response.del_cookie(COOKIE, path=PREFIX)
        raise response

    async def index(request: web.Request) -> web.Response:
        sid = session(request)
        assert sid is not None
        frames = await asyncio.get_running_loop().run_in_executor(None, collect, store)
        reviewed = await asyncio.get_running_loop().run_in_executor(None, verdicts.all)
        all_events = events(frames)
        shown = [e for e in reversed(all_events) if _matches(e, request.query)]
        back = f"{PREFIX}/?{urlencode(dict(request.query))}"
        cards = "".join(
            _event_card(e, reviewed.get((e.device, e.key)), csrf_of(sid), back)
            for e in shown[:MAX_EVENTS]
        )
        status = devices(frames)
        classes = sorted({c for e in all_events for c in e.classes})
        body = (
            f"<h1>wildcam review</h1><form method='post' action='{PREFIX}/logout'>"
            f"<button>log out</button></form>{_devices_table(status)}<h2>Events</h2>"
            f"{_filters(request.query, [d.device for d in status], classes)}"
            f"<p id='count'>{len(shown)} of {len(all_events)} events"
            f"{f', newest {MAX_EVENTS} shown' if len(shown) > MAX_EVENTS else ''}</p>"
            f"<div class='events'>{cards}</div>"
        )
        return _page("wildcam review", body)

    async def media(request: web.Request) -> web.Response:
        data = await asyncio.get_running_loop().run_in_executor(
            None, store.blob, request.match_info["sha"]
        )
        if data is None or not data.startswith(b"\xff\xd8"):
            raise web.HTTPNotFound(text="no such image")
        return web.Response(
            body=data,
            content_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=3600"},
        )

    async def verdict(request: web.Request) -> web.Response:
        sid = session(request)
        assert sid is not None
        form = await request.post()
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf_of(sid)):
            raise web.HTTPForbidden(text="stale form: reload the page")
        given = Verdict(
            str(form.get("device", "")),
            str(form.get("event", "")),
            str(form.get("verdict", "")),
            str(form.get("species", "")),
            sessions[sid][1] or "gateway reviewer",
        )
        try:
            await asyncio.get_running_loop().run_in_executor(None, verdicts.put, given)
        except InputError as err:
            raise web.HTTPBadRequest(text=str(err)) from err
        back = str(form.get("back", ""))
        raise web.HTTPSeeOther(back if back.startswith(f"{PREFIX}/") else f"{PREFIX}/")

    async def on_cleanup(app: web.Application) -> None:
        verdicts.close()

    app = web.Application(middlewares=[login_required])
    app.add_routes(
        [
            web.get("/login", login_form),
            web.post("/login", login),
            web.post("/logout", logout),
            web.get("/", index),
            web.get("/media/{sha}", media),
            web.post("/verdict", verdict),
        ]
    )
    app.on_cleanup.append(on_cleanup)
    return app
