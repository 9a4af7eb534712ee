"""Who may use the read and control API: Host, Origin, cross-site and token rules; tracker intake is open."""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from snowcatcher.model import RawRequest, StoredRequest
from snowcatcher.redact import redacted_request, redacted_stored
from snowcatcher.text import as_json

#: The read and control API: Micro's and snowcatcher's own. Everything else is tracker intake,
#: which answers any Host and any Origin as the real collectors do.
READ_PREFIXES = ("/micro/", "/snowcatcher/api/")
READ_PATHS = frozenset({"/micro", "/snowcatcher/api"})
TOKEN_ENV = "SNOWCATCHER_TOKEN"
CORS_MAX_AGE = 3600
_LOOPBACK_NAMES = frozenset({"localhost"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_read_path(path: str) -> bool:
    """True for a path of the read and control API (one prefix test: tracker intake pays no more)."""
    return path.startswith(READ_PREFIXES) or path in READ_PATHS


def normal_origin(origin: str) -> str:
    """`scheme://host[:port]` in lower case, without a default port, for comparing origins."""
    parts = urlsplit(origin.strip().lower())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return origin.strip().lower()
    if port is not None and str(port) != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def origin_error(origin: str) -> str:
    """Why `origin` cannot be given to --allow-origin, or "" when it can."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") \
            or parts.query or parts.fragment or parts.username:
        return "give an origin such as http://localhost:3000 (scheme, host and port only)"
    return ""


def host_name(header: str) -> str:
    """The name or address in a Host header, without the port and in lower case."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def ip_of(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `name` spells, IPv4-mapped IPv6 unwrapped; None for a name."""
    try:
        address = ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def bind_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address binding to `host` listens on, resolved as the socket layer resolves it (so
    `0`, `000.000.000.000` and `0:0:0:0:0:0:0:0` are the unspecified address); [] when unresolvable."""
    if host in ("", "*"):
        return [ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::")]
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError):
        return []
    found = (ip_of(str(info[4][0])) for info in infos)
    return [address for address in found if address is not None]


def beyond_loopback(host: str) -> bool:
    """True when listening on `host` is reachable from other machines (any non-loopback address)."""
    return any(not address.is_loopback for address in bind_addresses(host))


@dataclass(frozen=True)
class Access:
    """The rules for the read and control API, from --host, --allow-host, --allow-origin, --token
    and --show-secrets."""

    host: str = "127.0.0.1"
    allow_hosts: Iterable[str] = ()
    allow_origins: Iterable[str] = ()
    token: str = ""
    show_secrets: bool = False
    _names: frozenset[str] = field(init=False, repr=False)
    _origins: frozenset[str] = field(init=False, repr=False)
    _addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = {host_name(name) for name in (self.host, *self.allow_hosts) if name}
        addresses = bind_addresses(self.host)
        object.__setattr__(self, "_names", frozenset(names | _LOOPBACK_NAMES))
        object.__setattr__(self, "_origins", frozenset(normal_origin(o) for o in self.allow_origins))
        object.__setattr__(self, "_addresses", frozenset(addresses))

    def host_allowed(self, header: str) -> bool:
        """Loopback names and addresses, --host and --allow-host names. When bound to every
        interface, any address too: a literal address cannot be rebound to another machine."""
        name = host_name(header)
        if name in self._names:
            return True
        address = ip_of(name)
        if address is None:
            return False
        return address.is_loopback or address in self._addresses or any(
            bound.is_unspecified for bound in self._addresses)

    def origin_allowed(self, origin: str) -> bool:
        return normal_origin(origin) in self._origins

    def refusal(self, request: web.Request) -> web.Response | None:
        """The answer refusing `request`, or None when it may go on."""
        host = request.headers.get("Host")
        if host is not None and not self.host_allowed(host):
            return _refuse(403, (
                f"snowcatcher's read and control API does not answer to the Host {as_json(host)}: only "
                f"to loopback names and addresses and to --host. A foreign name is how a web page "
                f"reaches it through DNS rebinding. If the name is yours, start snowcatcher with "
                f"--allow-host {host_name(host)}"))
        problem = self._cross_site(request)
        if problem:
            return _refuse(403, (
                f"snowcatcher's read and control API refuses {problem}, so that no web page can read "
                "or wipe the capture. Tools that send no Origin (curl, test runners) are not "
                "affected. To let a page read the API, start snowcatcher with --allow-origin ORIGIN "
                "(repeatable), e.g. --allow-origin http://localhost:3000"))
        if self.token and request.method != "OPTIONS" and not self._token_matches(request):
            return _refuse(401, (
                "snowcatcher was started with a token (--token or SNOWCATCHER_TOKEN): send it as "
                "`Authorization: Bearer TOKEN` or `?token=TOKEN` (`snowcatcher expect` and `import` "
                "take --token or read SNOWCATCHER_TOKEN)"),
                {"WWW-Authenticate": 'Bearer realm="snowcatcher"'})
        return None

    def _cross_site(self, request: web.Request) -> str:
        """What makes `request` a cross-site one, or "" when it is not."""
        origin = request.headers.get("Origin")
        if origin is not None:
            if origin.strip().lower() == "null":
                return ("requests with `Origin: null` (sandboxed frames, file:// pages), which "
                        "cannot be allowed: serve the page over http")
            if self.origin_allowed(origin) or _same_origin(origin, request):
                return ""
            return f"requests from the origin {origin}"
        if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
            return "requests that the browser marks as coming from another site (Sec-Fetch-Site)"
        referer = request.headers.get("Referer")
        if referer and not (self.origin_allowed(referer) or _same_origin(referer, request)):
            return f"requests made by a page of another origin ({normal_origin(referer)})"
        return ""

    def _token_matches(self, request: web.Request) -> bool:
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            supplied = request.query.get("token", "")
        return hmac.compare_digest(supplied.strip().encode(), self.token.encode())


ACCESS = web.AppKey("access", Access)


def install(app: web.Application, access: Access) -> None:
    """Guard the read and control routes of `app` with `access`."""
    app[ACCESS] = access
    app.middlewares.append(_guard)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_read_path(request.path):
        return await handler(request)
    refused = request.app[ACCESS].refusal(request)
    if refused is not None:
        return refused
    if request.method == "OPTIONS":
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, POST, DELETE",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": str(CORS_MAX_AGE)})
    return await handler(request)


def add_read_cors(request: web.Request, response: web.StreamResponse) -> None:
    """CORS of a read answer: it carries the capture, so only origins the user allowed may read it."""
    origin = request.headers.get("Origin")
    response.headers.add("Vary", "Origin")
    access = request.app.get(ACCESS)
    if origin and access is not None and access.origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"


def _same_origin(url: str, request: web.Request) -> bool:
    host = request.headers.get("Host")
    return host is not None and normal_origin(url) == normal_origin(f"{request.scheme}://{host}")


def _refuse(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": message}),
                        content_type="application/json", headers=headers)


def shown_request(request: web.Request, raw: RawRequest) -> RawRequest:
    """A captured request as the read API shows it: secrets redacted unless --show-secrets."""
    return raw if _show_secrets(request) else redacted_request(raw)


def shown_stored(request: web.Request, stored: StoredRequest | None) -> StoredRequest | None:
    """A stored request as the read API shows it: secrets redacted unless --show-secrets."""
    return stored if _show_secrets(request) else redacted_stored(stored)


def _show_secrets(request: web.Request) -> bool:
    access = request.app.get(ACCESS)
    return access is not None and access.show_secrets
