"""uvicorn's HTTP protocol, sending each response's head and body in one write.

uvicorn writes a response's status line and headers when the app starts the
response, and its body when the app sends it: two ``send`` system calls per
response, which on this kind of VM came to a fifth of a served
``{ __typename }`` (py-spy, docs/performance.md). Here the cycle's transport
holds the head back and sends it with the first body write (or when the
response completes, or the connection closes, whichever comes first). Nothing
is reordered and nothing waits longer than its own response: a
``100 Continue`` is never held, since the client waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _HeadWithBody:
    """A transport whose writes of a response head wait for the next write."""

    __slots__ = ("_head", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif (
            data.startswith(b"HTTP/1.")
            and data.endswith(b"\r\n\r\n")
            and not data.startswith(b"HTTP/1.1 100 ")
        ):
            self._head = data
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """``uvicorn.Config(http=OneWriteProtocol)``: httptools, one write per response."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeadWithBody(transport))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        # A HEAD answer, or a 304, has no body write to carry its head.
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()
