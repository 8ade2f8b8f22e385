"""A consumer for the official ``mixpanel`` library that sends big batches.

``mixpanel.Mixpanel`` builds every message (``people_set``, ``group_set``, ``import_data``)
and hands it to a consumer's ``send(endpoint, json_message, api_key, api_secret)``. The
library's own ``BufferedConsumer`` caps batches at 50 and reports failures without the HTTP
status; this one implements the same public consumer interface, batches up to Mixpanel's
documented 2000 records / 2 MB per request, and goes through ``IngestClient`` (service
account on ``/import``, back-off on 429/5xx, other 4xx fatal). ``sent[endpoint]`` counts
the messages Mixpanel has confirmed, so callers can record only what really went out.
"""

from __future__ import annotations

from collections.abc import Callable

from integrations.mixpanel.client import IngestClient

ENDPOINT_PATHS = {
    "people": "/engage",
    "groups": "/groups",
    "imports": "/import",
    "events": "/track",
}
MAX_RECORDS = 2000
MAX_BYTES = 2 * 1024 * 1024 - 1024  # under the documented 2 MB, leaving room for the brackets


class BatchConsumer:
    """Buffers messages per endpoint and flushes them in batches of up to 2000 / 2 MB."""

    def __init__(
        self,
        client: IngestClient,
        *,
        max_records: int = MAX_RECORDS,
        on_flush: Callable[[str, int, dict], None] | None = None,
    ) -> None:
        self.client = client
        self.max_records = min(max_records, MAX_RECORDS)
        self.on_flush = on_flush
        self._buffers: dict[str, list[str]] = {name: [] for name in ENDPOINT_PATHS}
        self._sizes: dict[str, int] = dict.fromkeys(ENDPOINT_PATHS, 0)
        self.sent: dict[str, int] = dict.fromkeys(ENDPOINT_PATHS, 0)
        self.failed: dict[str, int] = dict.fromkeys(ENDPOINT_PATHS, 0)
        self.batches: dict[str, int] = dict.fromkeys(ENDPOINT_PATHS, 0)

    def send(self, endpoint: str, json_message: str, api_key=None, api_secret=None) -> None:
        """The ``mixpanel`` consumer interface (credentials come from the client instead)."""
        if endpoint not in self._buffers:
            raise ValueError(f"unknown mixpanel endpoint {endpoint!r}")
        size = len(json_message.encode()) + 1
        if self._buffers[endpoint] and self._sizes[endpoint] + size > MAX_BYTES:
            self._flush(endpoint)
        self._buffers[endpoint].append(json_message)
        self._sizes[endpoint] += size
        if len(self._buffers[endpoint]) >= self.max_records:
            self._flush(endpoint)

    def flush(self) -> None:
        for endpoint in self._buffers:
            self._flush(endpoint)

    def _flush(self, endpoint: str) -> None:
        batch = self._buffers[endpoint]
        if not batch:
            return
        body = ("[" + ",".join(batch) + "]").encode()
        answer = self.client.post(ENDPOINT_PATHS[endpoint], body)
        failed = len(answer.get("failed_records") or [])
        self._buffers[endpoint] = []
        self._sizes[endpoint] = 0
        self.sent[endpoint] += len(batch)
        self.failed[endpoint] += failed
        self.batches[endpoint] += 1
        if self.on_flush is not None:
            self.on_flush(endpoint, len(batch), answer)
