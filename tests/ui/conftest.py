"""UI test helpers: users, signing in through the real form, CSRF tokens from pages."""

from __future__ import annotations

import re

import pytest

PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def users(session):
    from hub.users import create_user

    create_user(session, "admin@cshub.example", "admin", PASSWORD)
    create_user(session, "rep@cshub.example", "rep", PASSWORD)
    session.commit()
    return {"admin": "admin@cshub.example", "rep": "rep@cshub.example"}


@pytest.fixture
def admin_client(client, users):
    assert sign_in(client, users["admin"]).status_code == 302
    return client


@pytest.fixture
def rep_client(app, users):
    rep = app.test_client()
    assert sign_in(rep, users["rep"]).status_code == 302
    return rep


@pytest.fixture
def httpserver_url():
    """A local HTTP server answering one JSON document at /, for connector checks."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"hashrate_ths": 110.5, "ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
