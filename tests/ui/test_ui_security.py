"""Sign-in, sessions, CSRF, roles and secure headers of the admin UI."""

from __future__ import annotations

from hub.models import AuditLog
from tests.ui.conftest import PASSWORD, csrf_from, sign_in


def test_pages_need_a_session(client, users):
    """Every page redirects to sign-in without a session, keeping where it was going."""
    for path in ("/", "/accounts", "/kpis", "/playbooks", "/jobs", "/audit", "/health-config"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


def test_sign_in_sets_a_hardened_cookie_and_audits(client, users, session):
    """A good password signs in with an HttpOnly SameSite cookie and is audited."""
    resp = sign_in(client, users["admin"])
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200
    assert session.query(AuditLog).filter_by(action="ui.sign_in").count() == 1


def test_wrong_password_and_throttling(client, users):
    """Wrong passwords are refused with one message; five in a row lock the email out."""
    for _ in range(5):
        resp = sign_in(client, users["admin"], "wrong password here")
        assert resp.status_code == 401 and "email or password is wrong" in resp.text
    locked = sign_in(client, users["admin"], PASSWORD)
    assert locked.status_code == 429


def test_next_never_leaves_the_site(client, users):
    """A crafted next= pointing elsewhere is ignored after sign-in."""
    token = csrf_from(client.get("/login").text)
    resp = client.post(
        "/login?next=//evil.example/x",
        data={"email": users["admin"], "password": PASSWORD, "csrf_token": token},
    )
    assert resp.headers["Location"] == "/"


def test_forms_without_a_csrf_token_are_refused(admin_client):
    """A POST without the CSRF token changes nothing and answers 400."""
    resp = admin_client.post("/kpis/settings", data={"target__nps": "10"})
    assert resp.status_code == 400 and "security token" in resp.text
    assert 'value="10"' not in admin_client.get("/kpis").text


def test_login_form_itself_needs_csrf(client, users):
    """Even the sign-in form is CSRF-protected (login CSRF)."""
    resp = client.post("/login", data={"email": users["admin"], "password": PASSWORD})
    assert resp.status_code == 400


def test_rep_can_read_but_not_change(rep_client):
    """A rep sees pages without edit controls and every POST is 403."""
    page = rep_client.get("/kpis")
    assert page.status_code == 200 and "nothing can be changed" in page.text
    assert "Save targets" not in page.text
    token = csrf_from(page.text)
    for path in ("/kpis/settings", "/kpis/refresh", "/playbooks/x_y", "/health-config"):
        assert rep_client.post(path, data={"csrf_token": token}).status_code == 403


def test_secure_headers(admin_client):
    """UI pages carry a CSP without inline script, frame denial and no-sniff."""
    resp = admin_client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "<script>" not in resp.text  # only src= scripts and JSON data blocks


def test_sign_out_ends_the_session(admin_client):
    """Signing out (a CSRF-protected POST) ends the session."""
    token = csrf_from(admin_client.get("/").text)
    assert admin_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert admin_client.get("/").status_code == 302


def test_disabled_user_and_new_password_end_sessions(app, admin_client, session, users):
    """Disabling a user or changing the password ends sessions already open."""
    from hub.db import utcnow
    from hub.users import find, set_password

    user = find(session, users["admin"])
    set_password(user, "another long password")
    session.commit()
    assert admin_client.get("/").status_code == 302
    other = app.test_client()
    assert sign_in(other, users["admin"], "another long password").status_code == 302
    user.disabled_at = utcnow()
    session.commit()
    assert other.get("/").status_code == 302


def test_webhook_paths_neither_read_nor_renew_the_session_cookie(admin_client):
    """Deliveries carry no browser session: answered ahead of Flask, they never open one, and
    the UI keeps its own."""
    resp = admin_client.post("/webhooks/stripe", data=b"{}", content_type="application/json")
    assert resp.status_code == 401 and "Set-Cookie" not in resp.headers
    assert admin_client.get("/").status_code == 200  # still signed in
