"""Generic HTTP JSON: GET or POST one URL and map the answer with JSONPath, for anything else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from marshmallow import fields, validate

from integrations.connectors.base import BaseSpec, Connector, Record
from integrations.connectors.mapping import EndpointMap, check_ok, extract
from integrations.connectors.safety import get_json, guarded_session


class HttpJsonSpec(BaseSpec, EndpointMap):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    headers = fields.Dict(keys=fields.Str(), values=fields.Str(), load_default=dict)
    auth_header = fields.Str(
        load_default="Authorization",
        validate=validate.Length(min=1, max=128),
        metadata={"description": "header that carries auth_value"},
    )
    auth_value = fields.Str(
        load_default=None,
        allow_none=True,
        metadata={"secret": True, "description": "e.g. 'Bearer <token>'; write-only"},
    )


class HttpConnector(Connector):
    """Shared request plumbing for connectors that speak HTTP JSON."""

    requires = ("jsonpath_ng",)

    def session(self):
        s = self.settings
        return guarded_session(
            allow_private=s.get("allow_private_network", False),
            max_bytes=s.get("max_response_bytes", 2 * 1024 * 1024),
            timeout=s.get("timeout_s", 10.0),
            ca_bundle=self.context.ca_bundle,
        )

    def fetch(self, session, url: str, endpoint: dict[str, Any], headers: dict[str, str]) -> Any:
        doc = get_json(
            session,
            url,
            method=endpoint.get("method", "GET"),
            headers=headers,
            params=endpoint.get("params") or None,
            json_body=endpoint.get("body"),
            timeout=self.settings.get("timeout_s", 10.0),
        )
        check_ok(doc, endpoint.get("ok"), urlsplit(url).netloc)
        return doc


class HttpJsonConnector(HttpConnector):
    type = "http_json"
    name = "HTTP JSON"
    description = "Any JSON API: one request, values picked with JSONPath"
    spec = HttpJsonSpec

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", **(self.settings.get("headers") or {})}
        if self.settings.get("auth_value"):
            headers[self.settings["auth_header"]] = self.settings["auth_value"]
        return headers

    def _url(self) -> str:
        return self.settings["url"].rstrip("/") + (self.settings.get("path") or "")

    def check(self) -> dict[str, Any]:
        with self.session() as session:
            doc = self.fetch(session, self._url(), self.settings, self._headers())
        records = sum(1 for _ in extract(doc, self.settings, self.now, "check"))
        return {"url": urlsplit(self._url()).netloc, "records": records}

    def read(self, since: datetime | None) -> Iterator[Record]:
        default = urlsplit(self.settings["url"]).hostname or "http"
        with self.session() as session:
            doc = self.fetch(session, self._url(), self.settings, self._headers())
        yield from extract(doc, self.settings, self.now, default)
