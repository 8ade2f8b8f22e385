"""SOQL queries for the fake Salesforce: filter, order, project, page by query locator."""

from __future__ import annotations

import threading
from typing import Any

from tests.fakes import sf_soql
from tests.fakes.sf_schema import ApiError, RecordError, json_value, sort_key


class SoqlQueries:
    """Mixed into ``Org``: ``query``/``queryAll`` and ``nextRecordsUrl`` pages (a locator is
    valid until it has been read through; ``queryAll`` includes deleted records)."""

    lock: threading.RLock
    schema: dict[str, dict[str, str]]
    records: dict[str, dict[str, dict[str, Any]]]
    locators: dict[str, dict[str, Any]]

    def field_name(self, sobject: str, name: str) -> str:  # pragma: no cover - Org's
        raise NotImplementedError

    def new_id(self, kind: str) -> str:  # pragma: no cover - Org's
        raise NotImplementedError

    def _getter(self, sobject: str, record: dict[str, Any]):
        def get(name: str) -> Any:
            if "." in name:
                return self._related(sobject, record, name)
            canonical = self.field_name(sobject, name)
            return record.get(canonical)

        return get

    def _related(self, sobject: str, record: dict[str, Any], path: str) -> Any:
        rel, _, rest = path.partition(".")
        lookup = self.field_name(sobject, rel + "Id")
        target_type = self.schema[sobject][lookup].split(":", 1)[1]
        target = self.records[target_type].get(record.get(lookup) or "")
        if target is None:
            return None
        return target.get(self.field_name(target_type, rest))

    def query(self, text: str, include_deleted: bool, api_version: str, batch: int) -> dict:
        try:
            q = sf_soql.parse(text)
        except sf_soql.SoqlError as exc:
            raise ApiError(400, exc.code, exc.message) from exc
        sobject = next((s for s in self.schema if s.lower() == q.sobject.lower()), None)
        if sobject is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{q.sobject}' is not supported.")
        try:
            for name in [*q.fields, *q.where_fields]:
                if "." in name:
                    rel = name.split(".")[0]
                    self.field_name(sobject, rel + "Id")
                else:
                    self.field_name(sobject, name)
        except RecordError as exc:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{exc.fields[0]}' on entity '{sobject}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field name.",
            ) from exc
        with self.lock:
            rows = []
            for record in self.records[sobject].values():
                if record["IsDeleted"] and not include_deleted:
                    continue
                if q.where is None or q.where(self._getter(sobject, record)):
                    rows.append(record)
            for name, desc in reversed(q.order):
                rows.sort(key=lambda r, n=name: sort_key(self._getter(sobject, r)(n)), reverse=desc)
            if q.limit is not None:
                rows = rows[: q.limit]
            return self._page(sobject, q.fields, rows, 0, api_version, batch, include_deleted)

    def _project(self, sobject: str, fields: list[str], record: dict, version: str) -> dict:
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{version}/sobjects/{sobject}/{record['Id']}",
            }
        }
        get = self._getter(sobject, record)
        for name in fields:
            if "." in name:
                rel, _, rest = name.partition(".")
                value = get(name)
                lookup = self.field_name(sobject, rel + "Id")
                target = self.schema[sobject][lookup].split(":", 1)[1]
                if record.get(lookup):
                    nested = out.setdefault(rel, {"attributes": {"type": target}})
                    nested[rest] = json_value(value)
                else:
                    out[rel] = None
            else:
                out[self.field_name(sobject, name)] = json_value(get(name))
        return out

    def _page(
        self,
        sobject: str,
        fields: list[str],
        rows: list[dict],
        start: int,
        version: str,
        batch: int,
        include_deleted: bool,
        locator: str | None = None,
    ) -> dict:
        end = min(len(rows), start + batch)
        page = [self._project(sobject, fields, r, version) for r in rows[start:end]]
        result: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows), "records": page}
        if end < len(rows):
            locator = locator or self.new_id("Locator")
            self.locators[locator] = {
                "sobject": sobject,
                "fields": fields,
                "rows": rows,
                "batch": batch,
                "include_deleted": include_deleted,
            }
            kind = "queryAll" if include_deleted else "query"
            result["nextRecordsUrl"] = f"/services/data/v{version}/{kind}/{locator}-{end}"
        elif locator:
            self.locators.pop(locator, None)
        return result

    def query_more(self, locator_ref: str, version: str) -> dict:
        """The page of a query locator (``01g...-2000``); a locator is gone once read through."""
        locator, _, start = locator_ref.rpartition("-")
        with self.lock:
            state = self.locators.get(locator)
            if state is None or not start.isdigit() or int(start) >= len(state["rows"]):
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._page(
                state["sobject"],
                state["fields"],
                state["rows"],
                int(start),
                version,
                state["batch"],
                state["include_deleted"],
                locator,
            )
