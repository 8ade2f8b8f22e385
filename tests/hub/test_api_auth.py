"""API authentication and roles."""

from tests.conftest import ADMIN_TOKEN


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_token(client, role: str) -> tuple[int, str]:
    resp = client.post(
        "/api/tokens", json={"name": f"{role}-1", "role": role}, headers=bearer(ADMIN_TOKEN)
    )
    assert resp.status_code == 201, resp.json
    return resp.json["id"], resp.json["token"]


def test_no_token_is_401(client):
    """Every API route needs a bearer token, and the error is the house JSON shape."""
    resp = client.get("/api/accounts")
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"


def test_wrong_token_is_401(client):
    assert client.get("/api/accounts", headers=bearer("nope")).status_code == 401


def test_rep_reads_but_cannot_write(client):
    """A rep token may list accounts but gets 403 on any change."""
    _, rep = make_token(client, "rep")
    assert client.get("/api/accounts", headers=bearer(rep)).status_code == 200
    resp = client.post("/api/accounts", json={"name": "X"}, headers=bearer(rep))
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "forbidden"


def test_rep_cannot_manage_tokens(client):
    _, rep = make_token(client, "rep")
    assert client.get("/api/tokens", headers=bearer(rep)).status_code == 403


def test_revoked_token_is_401(client):
    """Revoking a token makes it fail at once."""
    token_id, admin = make_token(client, "admin")
    assert client.get("/api/accounts", headers=bearer(admin)).status_code == 200
    assert client.delete(f"/api/tokens/{token_id}", headers=bearer(ADMIN_TOKEN)).status_code == 204
    assert client.get("/api/accounts", headers=bearer(admin)).status_code == 401


def test_tokens_are_stored_hashed(client, session):
    """The database never holds a token's plaintext."""
    from hub.models import ApiToken

    _, plaintext = make_token(client, "admin")
    stored = session.query(ApiToken).one()
    assert stored.token_hash != plaintext and plaintext not in stored.token_hash
    listed = client.get("/api/tokens", headers=bearer(ADMIN_TOKEN)).json
    assert all("token" not in t for t in listed)


def test_health_checks_need_no_token(client):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "redis": "ok"}
