"""Serving the dashboard: who may bind where, and uvicorn on a socket we open.

:func:`exposure_error` is the rule of CONTRACT §9: loopback needs nothing;
any other address (``0.0.0.0``, a LAN address, a host name) needs
``NEWSSPIDER_WEB_TOKEN``, at least :data:`MIN_TOKEN_LENGTH` characters.
:func:`open_socket` binds before uvicorn starts, so a port in use is a clear
message (exit 2) and ``--port 0`` can report the port it got.

Reads no settings (the CLI passes them), writes nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from newsspider.web.security import MIN_TOKEN_LENGTH


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def exposure_error(host: str, token: str) -> str | None:
    """Why the dashboard may not bind ``host`` with this token; None when it may."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        return (f"NEWSSPIDER_WEB_TOKEN is {len(token)} characters; use at least "
                f"{MIN_TOKEN_LENGTH} (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if is_loopback(host) or token:
        return None
    return (f"--host {host} is not a loopback address: anyone who can reach it would read the "
            f"store. Set NEWSSPIDER_WEB_TOKEN (at least {MIN_TOKEN_LENGTH} characters) to require "
            "it, or keep the default --host 127.0.0.1 (see docs/dashboard.md)")


def open_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; OSError with the reason when it cannot be had."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(app: Any, sock: socket.socket, log_level: str = "info") -> None:
    """Run uvicorn on ``sock`` until Ctrl-C / SIGTERM."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, server_header=False, access_log=True,
                            proxy_headers=True, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
