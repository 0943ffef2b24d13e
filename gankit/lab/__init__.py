"""`gankit lab`: a 2-D GAN training live in the browser (docs/lab.md).

A local web app: a background thread trains ordinary gankit runs (the same Trainer as `gankit
train`) on 2-D mixtures and streams their frames to a page of plain JavaScript and canvas,
vendored in this package, so it works offline. It needs the extra `gankit[lab]` (Starlette and
uvicorn); `serve` says how to install it when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gankit._optional import require

__all__ = ["serve"]


def serve(host: str, port: int, open_browser: bool, out_root: Path,
          say: Callable[[str], None] = print, warn: Callable[[str], None] = print) -> None:
    """Serve the lab on host:port (0: a free port) until Ctrl-C; saved runs go to out_root."""
    for module in ("starlette", "uvicorn"):
        require(module, "gankit[lab]", "gankit lab")
    from gankit.lab.launch import run_server

    run_server(host, port, open_browser, Path(out_root), say, warn)
