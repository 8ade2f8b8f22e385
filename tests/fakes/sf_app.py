"""The fake Salesforce's HTTP face (a Flask app over ``sf_org.Org``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import jwt
import orjson
from flask import Flask, Response, request

from tests.fakes.sf_org import Org
from tests.fakes.sf_schema import ApiError, RecordError, basic_credentials

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
VERSIONS = [f"{v}.0" for v in range(45, 65)]
COLLECTION_LIMIT = 200


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status=status, mimetype="application/json", headers=headers)


def _oauth_error(code: str, description: str, status: int = 400) -> Response:
    return _json({"error": code, "error_description": description}, status)


def create_app(org: Org, base_url: Callable[[], str], audience: Callable[[], str]) -> Flask:
    """The app; ``base_url()``/``audience()`` answer the server's URL once it is bound."""
    app = Flask("fake_salesforce")

    @app.post("/services/oauth2/token")
    def token() -> Response:
        org.auth_requests += 1
        if org.auth_failures > 0:
            org.auth_failures -= 1
            return Response("<html>Service Unavailable</html>", 503, mimetype="text/html")
        grant = request.form.get("grant_type")
        user_id = org.user_id
        if grant == "client_credentials":
            pair = basic_credentials(request.headers.get("Authorization")) or (
                request.form.get("client_id", ""),
                request.form.get("client_secret", ""),
            )
            client = org.clients.get(pair[0])
            if (
                client is None
                or not client.secret
                or not hmac.compare_digest(client.secret, pair[1])
            ):
                return _oauth_error("invalid_client", "invalid client credentials")
        elif grant == JWT_GRANT:
            assertion = request.form.get("assertion", "")
            try:
                claims = jwt.decode(assertion, options={"verify_signature": False})
            except jwt.PyJWTError:
                return _oauth_error("invalid_grant", "invalid assertion")
            client = org.clients.get(claims.get("iss", ""))
            if client is None or client.public_key is None:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            try:
                claims = jwt.decode(
                    assertion,
                    client.public_key,
                    algorithms=["RS256"],
                    audience=audience(),
                    options={"require": ["exp", "iss", "sub", "aud"]},
                )
            except jwt.ExpiredSignatureError:
                return _oauth_error("invalid_grant", "expired authorization code")
            except jwt.InvalidAudienceError:
                return _oauth_error("invalid_grant", "audience is invalid")
            except jwt.PyJWTError as exc:
                return _oauth_error("invalid_grant", f"invalid assertion: {exc}")
            if int(claims["exp"]) > time.time() + 300:
                return _oauth_error("invalid_grant", "the assertion's exp is too far ahead")
            user = next(
                (u for u in org.records["User"].values() if u["Username"] == claims["sub"]), None
            )
            if user is None:
                return _oauth_error("invalid_grant", "invalid user")
            user_id = user["Id"]
        else:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        access = org.issue_token(user_id)
        issued = str(int(time.time() * 1000))
        signature = hmac.new(b"fake", (issued + access).encode(), hashlib.sha256).digest()
        return _json(
            {
                "access_token": access,
                "signature": base64.b64encode(signature).decode(),
                "scope": "api",
                "instance_url": base_url(),
                "id": f"{base_url()}/id/{org.org_id}/{user_id}",
                "token_type": "Bearer",
                "issued_at": issued,
            }
        )

    @app.get("/services/oauth2/userinfo")
    def userinfo() -> Response:
        try:
            user_id = org.session_user(request.headers.get("Authorization"))
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        user = org.records["User"][user_id]
        return _json(
            {
                "sub": f"{base_url()}/id/{org.org_id}/{user_id}",
                "user_id": user_id,
                "organization_id": org.org_id,
                "preferred_username": user["Username"],
                "email": user["Email"],
                "name": user["Name"],
            }
        )

    @app.get("/services/data/")
    @app.get("/services/data")
    def versions() -> Response:
        return _json([{"label": v, "url": f"/services/data/v{v}", "version": v} for v in VERSIONS])

    @app.route(
        "/services/data/v<version>/<path:rest>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"]
    )
    def api(version: str, rest: str) -> Response:
        try:
            if version not in VERSIONS:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            user_id = org.session_user(request.headers.get("Authorization"))
            path = rest.strip("/")
            org.count_call(request.method, request.path, _kind(path))
            response = _route(org, request.method, path, version, user_id)
        except ApiError as exc:
            response = _json(exc.body(), exc.status)
        if request.path.startswith("/services/data/"):
            response.headers["Sforce-Limit-Info"] = org.limit_info()
        return response

    return app


def _kind(path: str) -> str:
    for prefix, kind in (
        ("jobs/ingest", "bulk"),
        ("composite", "collections"),
        ("query", "query"),
        ("tooling", "tooling"),
    ):
        if path.startswith(prefix):
            return kind
    return "rest"


def _body() -> Any:
    try:
        return orjson.loads(request.get_data() or b"null")
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"malformed JSON: {exc}") from exc


def _batch_size() -> int:
    options = request.headers.get("Sforce-Query-Options", "")
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key == "batchSize" and value.isdigit():
            return max(200, min(2000, int(value)))
    return 2000


def _route(org: Org, method: str, path: str, version: str, user_id: str) -> Response:
    parts = path.split("/")
    head = parts[0]
    if head == "limits" and method == "GET":
        remaining = max(0, org.api_limit - org.api_used)
        return _json(
            {
                "DailyApiRequests": {"Max": org.api_limit, "Remaining": remaining},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            }
        )
    if head in ("query", "queryAll") and method == "GET":
        if len(parts) == 2:
            return _json(org.query_more(parts[1], version))
        text = request.args.get("q")
        if not text:
            raise ApiError(400, "MALFORMED_QUERY", "a query is required (q)")
        return _json(org.query(text, head == "queryAll", version, _batch_size()))
    if head == "sobjects":
        return _sobjects(org, method, parts[1:], version)
    if path == "composite/sobjects" and method in ("POST", "PATCH"):
        return _collections(org, method)
    if path == "tooling/sobjects/CustomField" and method == "POST":
        field_id = org.create_custom_field(_body() or {})
        return _json({"id": field_id, "success": True, "errors": [], "warnings": []}, 201)
    if head == "jobs" and len(parts) >= 2 and parts[1] == "ingest":
        return _ingest(org, method, parts[2:], version, user_id)
    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def _known(org: Org, sobject: str) -> None:
    if sobject not in org.schema:
        raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist: {sobject}")


def _record_error(exc: RecordError) -> ApiError:
    status = 404 if exc.code == "INVALID_CROSS_REFERENCE_KEY" and not exc.fields else 400
    return ApiError(status, exc.code, exc.message, exc.fields)


def _sobjects(org: Org, method: str, parts: list[str], version: str) -> Response:
    if not parts or not parts[0]:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    sobject = parts[0]
    _known(org, sobject)
    if len(parts) == 2 and parts[1] == "describe" and method == "GET":
        return _json(org.describe(sobject))
    try:
        if len(parts) == 1 and method == "POST":
            record_id = org.insert(sobject, _body() or {})
            return _json({"id": record_id, "success": True, "errors": []}, 201)
        if len(parts) == 2:
            record_id = parts[1]
            if method == "GET":
                record = org.records[sobject].get(record_id)
                if record is None or record["IsDeleted"]:
                    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
                fields = [f for f in record if f != "CreatedById"]
                return _json(org._project(sobject, fields, record, version))
            if method == "PATCH":
                org.update(sobject, record_id, _body() or {})
                return Response(status=204)
            if method == "DELETE":
                if record_id not in org.records[sobject]:
                    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
                org.delete(sobject, record_id)
                return Response(status=204)
    except RecordError as exc:
        raise _record_error(exc) from exc
    raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")


def _collections(org: Org, method: str) -> Response:
    body = _body()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "INVALID_FIELD", "records is required")
    records = body["records"]
    if len(records) > COLLECTION_LIMIT:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    all_or_none = bool(body.get("allOrNone", False))
    for record in records:
        sobject = (record.get("attributes") or {}).get("type")
        if sobject not in org.schema:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        for name in record:
            if name not in ("attributes", "id", "Id"):
                try:
                    org.field_name(sobject, name)
                except RecordError as exc:
                    raise ApiError(400, "INVALID_FIELD", exc.message, exc.fields) from exc
    results: list[dict[str, Any]] = []
    with org.lock:
        snapshot = _snapshot(org, records) if all_or_none else None
        for record in records:
            sobject = record["attributes"]["type"]
            fields = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
            try:
                if method == "POST":
                    if record.get("id") or record.get("Id"):
                        raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call")
                    record_id = org.insert(sobject, fields)
                else:
                    record_id = record.get("id") or record.get("Id") or ""
                    if not record_id:
                        raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
                    org.update(sobject, record_id, fields)
                results.append({"id": record_id, "success": True, "errors": []})
            except RecordError as exc:
                results.append(
                    {
                        "success": False,
                        "errors": [
                            {"statusCode": exc.code, "message": exc.message, "fields": exc.fields}
                        ],
                    }
                )
        if snapshot is not None and any(not r["success"] for r in results):
            _restore(org, snapshot)
            rolled = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                "request was using AllOrNone header",
                "fields": [],
            }
            results = [
                r if not r["success"] else {"success": False, "errors": [rolled]} for r in results
            ]
    return _json(results)


def _snapshot(org: Org, records: list[dict[str, Any]]) -> dict[tuple[str, str], dict | None]:
    out: dict[tuple[str, str], dict | None] = {}
    for record in records:
        sobject, record_id = record["attributes"]["type"], record.get("id") or ""
        existing = org.records[sobject].get(record_id)
        out[(sobject, record_id)] = dict(existing) if existing else None
    out[("__count__", "")] = {s: set(org.records[s]) for s in org.records}  # type: ignore[assignment]
    return out


def _restore(org: Org, snapshot: dict[tuple[str, str], dict | None]) -> None:
    before = snapshot.pop(("__count__", ""))
    for (sobject, record_id), record in snapshot.items():
        if record is not None:
            org.records[sobject][record_id] = record
    for sobject, ids in before.items():  # type: ignore[union-attr]
        for record_id in set(org.records[sobject]) - ids:
            del org.records[sobject][record_id]


def _ingest(org: Org, method: str, parts: list[str], version: str, user_id: str) -> Response:
    if not parts:
        if method != "POST":
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")
        job = org.create_job(_body() or {}, user_id, version)
        return _json(org.job_info(job))
    job = org.job(parts[0])
    if len(parts) == 1:
        if method == "GET":
            return _json(org.job_info(job))
        if method == "PATCH":
            org.set_job_state(job, (_body() or {}).get("state", ""))
            return _json(org.job_info(job))
        if method == "DELETE":
            org.jobs.pop(job.id, None)
            return Response(status=204)
    elif parts[1] == "batches" and method == "PUT":
        if not request.content_type or not request.content_type.startswith("text/csv"):
            raise ApiError(400, "INVALIDBATCH", "Content-Type must be text/csv")
        org.upload(job, request.get_data())
        return Response(status=201)
    elif parts[1] in ("successfulResults", "failedResults", "unprocessedrecords") and (
        method == "GET"
    ):
        return Response(org.results_csv(job, parts[1]), mimetype="text/csv")
    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
