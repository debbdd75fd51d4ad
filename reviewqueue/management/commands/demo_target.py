"""A stand-in for the system an action type acts on: it accepts signed webhook POSTs and
callbacks on 127.0.0.1, checks their signatures, and prints one line per request."""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reviewqueue.lib import signing


def _locked(body: bytes) -> bool:
    try:
        payload = json.loads(body).get("payload") or {}
    except (ValueError, AttributeError):
        return False
    return isinstance(payload, dict) and str(payload.get("subscription_id", "")).startswith(
        "LOCKED-"
    )


class Command(BaseCommand):
    help = "Run a local demo target for webhook actions and callbacks (prints what it receives)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=9100)
        parser.add_argument("--secret-env", default="DEMO_WEBHOOK_SECRET")

    def handle(self, *args: Any, port: int, secret_env: str, **options: Any) -> None:
        secret = os.environ.get(secret_env, "")
        seen: set[str] = set()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                body = self.rfile.read(length)
                header = self.headers.get(signing.HEADER, "")
                valid = bool(secret) and signing.verify(secret, body, header)
                key = (
                    self.headers.get("Idempotency-Key")
                    or self.headers.get("X-ReviewQueue-Event-Id")
                    or ""
                )
                repeat = key in seen
                seen.add(key)
                try:
                    summary = json.dumps(
                        json.loads(body).get("payload") or json.loads(body).get("type")
                    )
                except (ValueError, AttributeError):
                    summary = "(not JSON)"
                sys.stdout.write(
                    f"{self.path} key={key} signature={'ok' if valid else 'BAD'}"
                    f"{' (repeat: already done, answering 200)' if repeat else ''} {summary[:200]}\n"
                )
                sys.stdout.flush()
                status, answer = (
                    (200, b'{"ok": true}') if valid else (401, b'{"error": "bad signature"}')
                )
                if valid and _locked(body):
                    # The demo's failure burst (manage.py demo_failures): the billing system
                    # refuses to cancel a locked subscription; a 4xx ends the execution dead.
                    status, answer = 422, b'{"error": "subscription is locked"}'
                    sys.stdout.write("  -> 422 refused: subscription is locked\n")
                    sys.stdout.flush()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.stdout.write(f"demo target listening on http://127.0.0.1:{port}/")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
