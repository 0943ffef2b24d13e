"""Starting the lab: the listening socket (a clear error when the port is taken), the training
thread, uvicorn, and the browser."""

from __future__ import annotations

import errno
import socket
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

import uvicorn

from gankit.errors import GankitError
from gankit.lab.engine import Engine
from gankit.lab.server import allowed_hosts, create_app, is_local


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: any free one), or a one-line GankitError."""
    if not 0 <= port <= 65535:
        raise GankitError(f"--port must be in [0, 65535], got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as e:
        raise GankitError(f"--host {host!r} is not an address of this machine ({e})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise GankitError(f"port {port} on {host} is in use (another gankit lab?); pass "
                              "--port N, or --port 0 for any free port") from None
        raise GankitError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(128)  # connections wait from now on, while uvicorn starts
    return sock


def run_server(host: str, port: int, open_browser: bool, out_root: Path,
               say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    sock = listen(host, port)
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if not is_local(host):
        warn(f"warning: --host {host} makes the lab reachable from other machines; anyone who "
             "can reach it can start, stop and save runs (it reads no files and runs no code "
             "sent to it). Use the default --host 127.0.0.1 unless you mean this.")
    engine = Engine(out_root)
    app = create_app(engine, allowed_hosts(host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=1))
    engine.start()
    say(f"gankit lab: {url}  (saved runs go to {out_root}; Ctrl-C stops)")
    if open_browser:
        threading.Timer(0.3, webbrowser.open, [url]).start()
    try:
        server.run(sockets=[sock])
    finally:
        engine.stop()
        sock.close()
