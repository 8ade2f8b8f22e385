"""SSRF guard, pinning, redirects and size limits for admin-configured targets."""

from __future__ import annotations

import ipaddress
import socket

import pytest
import responses

from integrations.connectors.safety import (
    ResponseTooLarge,
    TargetRefused,
    forbidden,
    get_json,
    guarded_session,
)
from integrations.errors import FatalError
from tests.fakes.pools import FakeJsonServer


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.20",
        "127.0.0.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_forbidden(address):
    """Private, loopback, link-local, CGNAT, multicast and mapped forms are all refused."""
    assert forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not forbidden(ipaddress.ip_address(address))


def _server():
    return FakeJsonServer({"/ok": lambda *a: (200, {"ok": True})})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_refused_before_any_connection(host):
    """Refused at resolution: the server never sees a request."""
    with _server() as server:
        port = server.url.rsplit(":", 1)[1]
        session = guarded_session(allow_private=False, max_bytes=10_000, timeout=2)
        with pytest.raises(TargetRefused, match="allow_private_network"):
            get_json(session, f"http://{host}:{port}/ok")
        assert server.requests == []


def test_allowed_per_configuration():
    """allow_private_network lets one configuration reach a LAN address."""
    with _server() as server:
        session = guarded_session(allow_private=True, max_bytes=10_000, timeout=2)
        assert get_json(session, server.url + "/ok") == {"ok": True}


def test_redirects_are_not_followed():
    """A redirect (say, to the metadata service) is an error, not a second request."""
    routes = {"/go": lambda *a: (302, b"http://169.254.169.254/latest/meta-data/")}
    with FakeJsonServer(routes) as server:
        session = guarded_session(allow_private=True, max_bytes=10_000, timeout=2)
        with pytest.raises(FatalError, match="redirected"):
            get_json(session, server.url + "/go")
        assert len(server.requests) == 1


def test_large_answers_are_cut_off():
    """An answer over max_response_bytes is refused."""
    big = {"/big": lambda *a: (200, {"blob": "x" * 50_000})}
    with FakeJsonServer(big) as server:
        session = guarded_session(allow_private=True, max_bytes=10_000, timeout=2)
        with pytest.raises(ResponseTooLarge):
            get_json(session, server.url + "/big")


@responses.activate
def test_chunked_answers_without_length_are_cut_off_too():
    """Without Content-Length the stream itself is counted."""

    def stream():
        for _ in range(100):
            yield b"x" * 1000

    responses.add(responses.GET, "http://93.184.216.34/feed", body=b"".join(stream()))
    session = guarded_session(allow_private=False, max_bytes=5_000, timeout=2)
    with pytest.raises(ResponseTooLarge):
        session.get("http://93.184.216.34/feed")


@responses.activate
def test_connection_is_pinned_to_the_checked_address(monkeypatch):
    """The request goes to the address that was checked, with the original Host header."""
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host == "pool.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    responses.add(responses.GET, "http://93.184.216.34/stats", json={"hashrate": 1})
    session = guarded_session(allow_private=False, max_bytes=10_000, timeout=2)
    assert get_json(session, "http://pool.example/stats") == {"hashrate": 1}
    sent = responses.calls[0].request
    assert sent.url == "http://93.184.216.34/stats" and sent.headers["Host"] == "pool.example"


def test_name_resolving_to_private_is_refused(monkeypatch):
    """A public-looking name that resolves to a private address is refused (DNS rebinding)."""
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))
        ],
    )
    session = guarded_session(allow_private=False, max_bytes=10_000, timeout=2)
    with pytest.raises(TargetRefused, match=r"10\.0\.0\.5"):
        get_json(session, "https://rebind.example/api")
