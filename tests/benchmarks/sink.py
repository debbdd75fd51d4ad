"""A local webhook sink for bench_execution.py: one process, asyncio, standard library only.

    python tests/benchmarks/sink.py [PORT]     # prints "sink listening on PORT", then serves

Every POST is answered 200 `{}` at once (no signature check) and recorded as (arrival time
in Unix seconds, taken when the request head has arrived; path; Idempotency-Key, or
X-ReviewQueue-Event-Id for callbacks). Keep-alive is honoured. Two GETs are for the
benchmark: `/count` (how many POSTs so far) and `/records?from=N` (the records from the
N-th on, as JSON [[time, path, key], ...]). Listens on 127.0.0.1 only; runs until killed.
"""

import asyncio
import contextlib
import json
import sys
import time
from urllib.parse import parse_qs, urlsplit

records: list[tuple[float, str, str]] = []


def _answer(body: bytes, keep_alive: bool) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n" + ("" if keep_alive else "Connection: close\r\n")
    )
    return head.encode() + b"\r\n" + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = time.time()
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if length:
                await reader.readexactly(length)
            connection = headers.get("connection", "").lower()
            keep_alive = connection != "close" and (
                version != "HTTP/1.0" or connection == "keep-alive"
            )
            if method == "GET":
                url = urlsplit(target)
                if url.path == "/count":
                    body = str(len(records)).encode()
                elif url.path == "/records":
                    start = int(parse_qs(url.query).get("from", ["0"])[0])
                    body = json.dumps(records[start:]).encode()
                else:
                    body = b"{}"
            else:
                key = headers.get("idempotency-key") or headers.get("x-reviewqueue-event-id", "")
                records.append((arrived, target, key))
                body = b"{}"
            writer.write(_answer(body, keep_alive))
            await writer.drain()
            if not keep_alive:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"sink listening on {bound}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
