"""Reaching admin-configured targets safely: SSRF guard, timeouts, response size limits.

A connector's URL or rig address is typed in by an admin, so cshub must not become a way
into its own network: every target is resolved first and refused when any address is not
public (private, loopback, link-local, CGNAT, multicast, reserved, unspecified), unless
that configuration sets ``allow_private_network``. The connection then goes to the
address that was checked (pinned; TLS still verifies the original host name), so a DNS
answer that changes between check and connect cannot slip through. Redirects are refused;
answers larger than the configured limit are cut off with an error.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from integrations.errors import FatalError, RetriableError, classify_http


class TargetRefused(FatalError):
    """The target resolves to an address this configuration may not reach."""


class ResponseTooLarge(FatalError):
    """The answer is larger than ``max_response_bytes``."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def forbidden(ip: Address) -> bool:
    """Not a public unicast address (an IPv4-mapped IPv6 address is judged as IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """Every address of ``host``, checked; raise TargetRefused or RetriableError (DNS)."""
    if not host:
        raise TargetRefused("no host given")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RetriableError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            if forbidden(ipaddress.ip_address(address.split("%")[0])):
                raise TargetRefused(
                    f"{host} resolves to {address}, a private/loopback/link-local address; "
                    "set allow_private_network on this connector to reach it"
                )
    return addresses


def open_tcp(host: str, port: int, *, allow_private: bool, timeout: float) -> socket.socket:
    """A TCP connection to a checked address of ``host`` (read timeout set)."""
    last: OSError | None = None
    for address in resolve(host, port, allow_private):
        try:
            sock = socket.create_connection((address, port), timeout=timeout)
        except TimeoutError as exc:
            raise RetriableError(f"{host}:{port} timed out connecting ({timeout}s)") from exc
        except OSError as exc:
            last = exc
            continue
        sock.settimeout(timeout)
        return sock
    raise RetriableError(f"cannot connect to {host}:{port}: {last}") from last


class _CappedRaw:
    """Wraps urllib3's response so reading past ``limit`` bytes raises ResponseTooLarge."""

    def __init__(self, raw: Any, limit: int, url: str) -> None:
        self._raw, self._limit, self._url, self._seen = raw, limit, url, 0

    def _count(self, n: int) -> None:
        self._seen += n
        if self._seen > self._limit:
            self._raw.close()
            raise ResponseTooLarge(f"{self._url}: answer larger than {self._limit} bytes")

    def stream(self, amt: int = 2**16, decode_content: bool | None = None):
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            self._count(len(chunk))
            yield chunk

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        data = self._raw.read(*args, **kwargs)
        self._count(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter that checks and pins the target address and caps the answer size."""

    def __init__(self, *, allow_private: bool, max_bytes: int, timeout: float) -> None:
        super().__init__(max_retries=0)
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.last_status: int | None = None

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme not in ("http", "https"):
            raise TargetRefused(f"only http and https URLs are allowed, not {parts.scheme!r}")
        address = resolve(host, port, self.allow_private)[0]
        if not _is_ip(host):
            pinned = f"[{address}]" if ":" in address else address
            netloc = f"{pinned}:{parts.port}" if parts.port else pinned
            request.url = urlunsplit(parts._replace(netloc=netloc))
            request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
            request.cshub_server_hostname = host  # TLS: SNI and certificate name
        response = super().send(
            request,
            stream=stream,
            timeout=timeout if timeout is not None else self.timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )
        self.last_status = response.status_code
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            response.close()
            raise ResponseTooLarge(f"{host}: answer of {length} bytes exceeds {self.max_bytes}")
        response.raw = _CappedRaw(response.raw, self.max_bytes, f"{parts.scheme}://{host}")
        return response

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        server_hostname = getattr(request, "cshub_server_hostname", None)
        if server_hostname and host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = server_hostname
            pool_kwargs["assert_hostname"] = server_hostname
        return host_params, pool_kwargs


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def guarded_session(
    *, allow_private: bool, max_bytes: int, timeout: float, ca_bundle: str = ""
) -> requests.Session:
    """A requests session that only reaches checked addresses and never follows redirects."""
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment may bypass the guard
    session.max_redirects = 0
    session.verify = ca_bundle or True
    adapter = GuardedAdapter(allow_private=allow_private, max_bytes=max_bytes, timeout=timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def get_json(
    session: requests.Session,
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    timeout: float = 10.0,
) -> Any:
    """One request; the JSON answer, or a classified error (429/5xx retriable, 4xx fatal)."""
    try:
        response = session.request(
            method,
            url,
            headers=headers,
            params=params,
            json=json_body,
            timeout=timeout,
        )
    except requests.exceptions.TooManyRedirects as exc:  # max_redirects is 0: any redirect
        location = exc.response.headers.get("Location") if exc.response is not None else None
        raise FatalError(
            f"{method} {_safe(url)} redirected to {location!r}; configure the final URL"
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise RetriableError(f"{method} {_safe(url)} timed out after {timeout}s") from exc
    except requests.exceptions.ConnectionError as exc:
        raise RetriableError(f"{method} {_safe(url)} failed: {exc}") from exc
    if response.status_code >= 400:
        retry_after = response.headers.get("Retry-After")
        raise classify_http(
            response.status_code,
            f"{method} {_safe(url)} answered HTTP {response.status_code}",
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise FatalError(f"{method} {_safe(url)} did not answer JSON") from exc


def _safe(url: str) -> str:
    """The URL without query string or credentials (tokens often travel there)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
