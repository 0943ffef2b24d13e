"""The lab's web server: one page, its two vendored files, a stream of frames (server-sent
events) and two JSON endpoints for the controls. Starlette on uvicorn.

It answers only its own page: a request whose Host is not the lab's address (DNS rebinding), or
whose Origin is another site, or a cross-site fetch, is refused with 403; a state-changing request
must be JSON of at most MAX_BODY bytes. The page can send control values and command names only:
no paths, no code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from gankit.errors import GankitError
from gankit.lab.controls import DATA_CHOICES, DEFAULTS, PRIOR_CHOICES, LabInputError
from gankit.lab.engine import RUNS, Engine

MAX_BODY = 64 * 1024
#: The vendored files of the page (nothing else is served from disk).
STATIC = {"lab.js": "text/javascript; charset=utf-8", "lab.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY", "Cache-Control": "no-store",
}
COMMANDS = ("play", "pause", "step", "reset", "compare", "save", "theorem")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
POLL_SECONDS = 0.05


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS or host.startswith("127.")


def _with_port(host: str, port: int) -> list[str]:
    name = f"[{host}]" if ":" in host else host
    return [f"{name}:{port}"] + ([name] if port == 80 else [])


def allowed_hosts(bind: str, port: int) -> set[str]:
    """The Host header values of requests to this lab: its loopback names, the address it is
    bound to, and for a wildcard address (0.0.0.0, ::) this machine's names and addresses."""
    names = {*LOCAL_HOSTS, bind}
    if bind in ("0.0.0.0", "::", ""):
        names |= {socket.gethostname(), socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
    return {h.lower() for name in names if name for h in _with_port(name, port)}


def refusal(headers: Headers, method: str, hosts: set[str]) -> str | None:
    """Why a request is not the lab page's own, or None."""
    host = headers.get("host", "").lower()
    if host not in hosts:
        return (f"gankit lab answers only requests to its own address; Host {host!r} is not one "
                "of them")
    origin = headers.get("origin")
    if origin is not None and origin.lower() not in {f"http://{h}" for h in hosts}:
        return f"gankit lab answers only its own page; Origin {origin!r} is another site"
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "gankit lab answers only its own page, not a request from another site"
    if method == "POST" and headers.get("content-type", "").split(";")[0] != "application/json":
        return "gankit lab's controls take JSON (Content-Type: application/json)"
    return None


class OwnRequestsOnly:
    """ASGI middleware: 403 for any request `refusal` rejects; security headers on the rest."""

    def __init__(self, app: Any, hosts: set[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = refusal(Headers(scope=scope), scope["method"], self.hosts)
        if problem is not None:
            await PlainTextResponse(problem, 403, headers=SECURITY_HEADERS)(scope, receive, send)
            return

        async def send_secured(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_secured)


def _asset(name: str) -> bytes:
    return resources.files("gankit.lab").joinpath("static", name).read_bytes()


async def index(request: Request) -> Response:
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8")


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return PlainTextResponse("not found", 404)
    return Response(_asset(name), media_type=STATIC[name])


async def no_icon(request: Request) -> Response:
    return Response(status_code=204)


async def options(request: Request) -> Response:
    """The choices of the controls and the runs' settings (once the training thread is up)."""
    engine: Engine = request.app.state.engine
    try:
        await asyncio.to_thread(engine.wait_ready)
    except GankitError as e:
        return JSONResponse({"error": str(e)}, 503)
    _, state, slots = engine.snapshot()
    return JSONResponse({"losses": engine.losses, "data": list(DATA_CHOICES),
                         "priors": list(PRIOR_CHOICES), "defaults": DEFAULTS, **state,
                         "controls": {k: _page_controls(s.controls) for k, s in slots.items()}})


def _page_controls(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in ("mixture_means", "mixture_weights")}


async def _json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise LabInputError(f"the request is larger than {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise LabInputError(f"the request is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise LabInputError("the request is not valid JSON") from None
    if not isinstance(data, dict):
        raise LabInputError("the request must be a JSON object")
    return data


def _error(e: GankitError) -> JSONResponse:
    return JSONResponse({"error": str(e), "field": getattr(e, "field", None)}, 400)


async def configure(request: Request) -> Response:
    """New settings for run a or b (and the seed): checked now, applied by the training thread."""
    engine: Engine = request.app.state.engine
    try:
        body = await _json_body(request)
        settings = await asyncio.to_thread(engine.configure, body.get("run", "a"),
                                           body.get("controls", {}), body.get("seed"))
    except GankitError as e:
        return _error(e)
    return JSONResponse({"controls": settings})


async def command(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    try:
        body = await _json_body(request)
        name, run = body.get("name"), body.get("run", "a")
        if name not in COMMANDS:
            raise LabInputError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
        if run not in RUNS:
            raise LabInputError(f"unknown run {run!r}: a or b")
        args = {"on": bool(body.get("on"))} if name == "compare" else (
            {"run": run} if name in ("save", "theorem") else {})
        result = await asyncio.wrap_future(engine.command(name, **args))
    except GankitError as e:
        return _error(e)
    return JSONResponse({"result": result})


def message(state: dict[str, Any], slots: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """What one page has not seen yet: new frames, new curve points (all of them after a restart),
    and each run's status. `sent` is this page's record, updated."""
    runs = {}
    for key, slot in slots.items():
        generation, count, seq = sent.get(key, (None, 0, None))
        restarted = generation != slot.generation
        count = 0 if restarted else count
        points = slot.history[count:]
        frame = slot.frame if slot.frame is not None and slot.frame.get("seq") != seq else None
        sent[key] = (slot.generation, count + len(points),
                     slot.frame.get("seq") if slot.frame is not None else None)
        runs[key] = {"frame": frame, "restarted": restarted, "points": points,
                     "background": slot.background, "error": slot.error,
                     "theorem": slot.theorem, "saved": slot.saved,
                     "steps_per_second": round(slot.steps_per_second, 1),
                     "controls": _page_controls(slot.controls),
                     "alive": slot.run is not None}
    return {**state, "runs": runs}


async def events(request: Request) -> Response:
    """The frames as server-sent events, each a JSON message (see `message`)."""
    engine: Engine = request.app.state.engine

    async def stream():
        sent: dict[str, Any] = {}
        seen, quiet = None, 0
        while not engine.stopping.is_set():
            version, state, slots = engine.snapshot()
            if version != seen:
                seen, quiet = version, 0
                yield f"data: {json.dumps(message(state, slots, sent))}\n\n"
            elif quiet > 15 / POLL_SECONDS:  # a comment now and then keeps proxies open
                quiet = 0
                yield ": still here\n\n"
            quiet += 1
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream")


def create_app(engine: Engine, hosts: set[str]) -> Any:
    """The lab's ASGI app: `engine` trains, `hosts` are the Host values it answers."""
    app = Starlette(routes=[
        Route("/", index), Route("/static/{name}", static), Route("/favicon.ico", no_icon),
        Route("/api/options", options),
        Route("/api/events", events), Route("/api/config", configure, methods=["POST"]),
        Route("/api/command", command, methods=["POST"]),
    ])
    app.state.engine = engine
    return OwnRequestsOnly(app, hosts)
