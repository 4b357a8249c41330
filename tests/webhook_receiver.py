"""A webhook receiver for the alert tests: a loopback HTTP server on a free port, in a thread.

Records every POST (path and JSON body). A path starting with /hang never answers (until the
receiver stops: a webhook that hangs), one starting with /fail answers 500; any other 200.
Used as a context manager, it stops by itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_LIMIT_S = 60.0


@dataclass
class Receiver:
    url: str
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self, prefix: str = "") -> list[str]:
        """Every posted message text (Slack's text, Discord's content, Telegram's text)."""
        with self.lock:
            bodies = [body for path, body in self.posts if path.startswith(prefix)]
        return [str(b.get("text") or b.get("content") or "") for b in bodies]


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert receiver is not None
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with receiver.lock:
                receiver.posts.append((self.path, body))
            if self.path.startswith("/hang"):
                receiver.stopping.wait(HANG_LIMIT_S)
                return
            self.send_response(500 if self.path.startswith("/fail") else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        server.shutdown()
        server.server_close()
