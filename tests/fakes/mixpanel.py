"""A local fake of Mixpanel's export and ingestion APIs that enforces their documented rules.

- ``GET /api/2.0/export``: service-account basic auth, ``project_id``, ``from_date`` and
  ``to_date`` (YYYY-MM-DD, inclusive) required; answers JSONL, one event per line; counts
  queries and answers 429 past ``max_queries_per_hour`` (60 by default).
- ``POST /engage`` and ``/groups``: a JSON array of at most 2000 updates, each carrying the
  project ``$token``; ``verbose=1`` answers ``{"status": 1, "error": null}``.
- ``POST /import``: service-account basic auth and ``project_id``; at most 2000 events;
  every event needs ``time`` and a ``$insert_id`` of at most 36 alphanumeric/dash
  characters; events are deduplicated on (event, time, distinct_id, $insert_id).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

INSERT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")


class FakeMixpanel:
    def __init__(
        self,
        project_id: str = "1234567",
        username: str = "cshub.sa.1234",
        secret: str = "sa-secret",
        token: str = "tok_abc",
        max_queries_per_hour: int = 60,
    ) -> None:
        self.project_id, self.username, self.secret, self.token = (
            project_id,
            username,
            secret,
            token,
        )
        self.max_queries = max_queries_per_hour
        self.events: list[dict[str, Any]] = []  # what the export serves
        self.export_queries: list[tuple[str, str]] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.imported: dict[tuple, dict[str, Any]] = {}
        self.import_requests = 0
        self.engage_requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeMixpanel:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_event(
        self, name: str, when: datetime, distinct_id: str, insert_id: str, **props
    ) -> None:
        self.events.append(
            {
                "event": name,
                "properties": {
                    "time": int(when.timestamp()),
                    "distinct_id": distinct_id,
                    "$insert_id": insert_id,
                    "mp_processing_time_ms": int(when.timestamp() * 1000) + 250,
                    **props,
                },
            }
        )

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: Any, content_type: str = "application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _service_account_ok(self) -> bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return False
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
                return (user, secret) == (fake.username, fake.secret)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/api/2.0/export":
                    return self._send(404, {"error": "not found"})
                if not self._service_account_ok():
                    return self._send(401, {"error": "Invalid credentials", "status": 0})
                query = parse_qs(parts.query)
                if query.get("project_id") != [fake.project_id]:
                    return self._send(400, {"error": "project_id is required", "status": 0})
                try:
                    start = date.fromisoformat(query["from_date"][0])
                    stop = date.fromisoformat(query["to_date"][0])
                except (KeyError, ValueError):
                    return self._send(400, {"error": "from_date and to_date are required"})
                with fake._lock:
                    if len(fake.export_queries) >= fake.max_queries:
                        return self._send(429, {"error": "rate limit exceeded", "status": 0})
                    fake.export_queries.append((start.isoformat(), stop.isoformat()))
                limit = int(query.get("limit", ["0"])[0])
                lines = []
                for event in fake.events:
                    day = datetime.fromtimestamp(event["properties"]["time"], UTC).date()
                    if start <= day <= stop:
                        lines.append(json.dumps(event).encode() + b"\n")
                if limit:
                    lines = lines[:limit]
                self._send(200, b"".join(lines), "text/plain; charset=utf-8")

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                if length > 2 * 1024 * 1024:
                    return self._send(413, {"error": "payload too large", "status": 0})
                try:
                    batch = json.loads(self.rfile.read(length))
                except ValueError:
                    return self._send(400, {"error": "invalid JSON", "status": 0})
                if not isinstance(batch, list) or len(batch) > 2000:
                    return self._send(
                        400, {"error": "send a JSON array of at most 2000", "status": 0}
                    )
                if parts.path in ("/engage", "/groups"):
                    return self._profiles(parts.path, batch)
                if parts.path == "/import":
                    return self._import(parse_qs(parts.query), batch)
                self._send(404, {"error": "not found"})

            def _profiles(self, path: str, batch: list) -> None:
                if any(update.get("$token") != fake.token for update in batch):
                    return self._send(200, {"status": 0, "error": "Invalid project token"})
                with fake._lock:
                    fake.engage_requests += 1
                    for update in batch:
                        if path == "/engage":
                            profile = fake.profiles.setdefault(update["$distinct_id"], {})
                        else:
                            key = (update["$group_key"], update["$group_id"])
                            profile = fake.groups.setdefault(key, {})
                        profile.update(update.get("$set", {}))
                self._send(200, {"status": 1, "error": None})

            def _import(self, query: dict, batch: list) -> None:
                if not self._service_account_ok():
                    return self._send(401, {"code": 401, "error": "Invalid credentials"})
                if query.get("project_id") != [fake.project_id]:
                    return self._send(400, {"code": 400, "error": "project_id required"})
                failed = []
                with fake._lock:
                    fake.import_requests += 1
                    for index, event in enumerate(batch):
                        props = event.get("properties") or {}
                        insert_id = str(props.get("$insert_id", ""))
                        if not INSERT_ID.match(insert_id) or "time" not in props:
                            failed.append({"index": index, "insert_id": insert_id})
                            continue
                        key = (event["event"], props["time"], props.get("distinct_id"), insert_id)
                        fake.imported[key] = event
                imported = len(batch) - len(failed)
                if failed:
                    return self._send(
                        400,
                        {"code": 400, "num_records_imported": imported, "failed_records": failed},
                    )
                self._send(200, {"code": 200, "num_records_imported": imported, "status": "OK"})

        return Handler
