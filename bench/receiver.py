"""A webhook receiver for `make bench`: answers every POST with 204 at once, and keeps
how many it got and, for the service's own events, how long after the state change each
arrived (its body's ``timestamp`` to now). Expiry events are counted, not timed: their
``timestamp`` is the moment of expiry, and the verifications the bench seeds by the
ten thousand expire together, long after the calls being measured.

It stands in for a customer's backend, which runs on other machines: asyncio on one
core with keep-alive HTTP/1.1 and nothing else, so that on the bench's two cores it
costs as little as a receiver can (gunicorn and Flask would cost as much per request as
the service's own calls). The worker's delivery rate and the bare loop of POSTs it is
judged against post to this same receiver.

    python -m bench.receiver --port N      GET /stats, POST /reset, POST anything else
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime

SYNTHETIC = "bench.synthetic"  # deliveries the bench stores itself: counted, not timed
UNTIMED = {SYNTHETIC, "verification.expired"}
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class Receiver:
    def __init__(self) -> None:
        self.count = 0
        self.latencies_ms: list[float] = []

    def record(self, body: bytes, arrived_ms: float) -> None:
        self.count += 1
        try:
            event = json.loads(body)
            if event.get("type") not in UNTIMED:
                at = datetime.fromisoformat(event["timestamp"]).timestamp() * 1000
                self.latencies_ms.append(arrived_ms - at)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _version = request_line.split(" ", 2)
                length = 0
                for line in header_lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                if method == "GET" and path == "/stats":
                    stats = json.dumps({"count": self.count, "latencies_ms": self.latencies_ms})
                    data = stats.encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(data)}\r\n\r\n".encode()
                        + data
                    )
                elif method == "POST" and path == "/reset":
                    self.count, self.latencies_ms = 0, []
                    writer.write(_NO_CONTENT)
                elif method == "POST":
                    self.record(body, time.time() * 1000)
                    writer.write(_NO_CONTENT)
                else:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def _main(port: int) -> None:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(_main(parser.parse_args().port))


if __name__ == "__main__":
    main()
