"""Where a request may come from: which ``Host`` names the runtime answers and which browser pages may call it.

Any web page the user visits can send requests to ``http://localhost:4566``: simple ones (a form-encoded POST,
a GET) leave the browser without a preflight, and a page whose own name it rebinds to 127.0.0.1 (DNS rebinding)
even reads the answers, sending ``Host: evil.example:4566``. ``RequestOriginPolicy`` therefore refuses, with a
403 ``AccessDenied`` and before anything runs:

* a ``Host`` that is not a name this runtime serves: loopback names (``localhost``, ``*.localhost``, so S3's
  virtual-hosted ``<bucket>.localhost`` too), the bind address, the docker-compose service name, the names of
  ``--allow-host`` and, when bound to every interface, this machine's host name. IP-literal hosts are always
  served: a browser sends one only to a page whose origin is that address, which no other site can be;
* a request whose ``Origin`` is not one of ``--cors-allow-origin`` (exact scheme, host and port; ``null``
  never), a ``Sec-Fetch-Site`` of ``cross-site`` or ``same-site`` without such an ``Origin``, and a CORS
  preflight from anywhere else.

No ``Access-Control-*`` header leaves the runtime except the ones set here for an allowed origin: a preflight
is answered 200 with the origin, ``Vary: Origin``, the methods, the requested headers and a max age; actual
answers carry the origin and expose the headers SDKs read (request ids, ETag, versions, checksums).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

from local_aws.access_denied import access_denied
from local_aws.runtime import COMPOSE_SERVICE_NAME, SecuritySettings

if TYPE_CHECKING:
    from local_aws.gateway import AWSRequest, Gateway

ALLOWED_METHODS = "GET, HEAD, PUT, POST, DELETE, PATCH"
EXPOSED_HEADERS = ", ".join((
    "ETag", "Content-Range", "Last-Modified", "Date",
    "x-amz-request-id", "x-amz-id-2", "x-amzn-RequestId", "x-amzn-ErrorType", "x-amz-apigw-id",
    "x-amz-version-id", "x-amz-delete-marker", "x-amz-expiration", "x-amz-restore", "x-amz-server-side-encryption",
    "x-amz-mp-parts-count", "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-checksum-type",
    "x-amz-function-error", "x-amz-log-result", "x-amz-executed-version",
    "x-Amzn-Invoked-Production-Variant", "X-Amzn-SageMaker-Custom-Attributes",
))
PREFLIGHT_MAX_AGE_SECONDS = 600
WILDCARD_BIND_ADDRESSES = ("", "0.0.0.0", "::")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REFUSED_FETCH_SITES = ("cross-site", "same-site")


def canonical_origin(value: str) -> str:
    """An origin as browsers send it (``scheme://host[:port]``, lower case, no default port).

    Raises ValueError for anything else: ``null``, a path, credentials, a missing host.
    """
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{value!r} is not an origin: {error}") from None
    if not parts.scheme or not parts.hostname or parts.username is not None or parts.password is not None \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port], e.g. http://localhost:3000)")
    scheme = parts.scheme.lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname.lower()
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) only ever reaches this machine."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses)


def host_name(host_header: str) -> str | None:
    """The name of a ``Host`` header value (no port, lower case, no trailing dot); None when malformed."""
    value = host_header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return name
    name, colon, port = value.partition(":")
    if colon and not port.isdigit():
        return None
    return name.rstrip(".") or None


class ServedHosts:
    """The ``Host`` names the runtime answers to."""

    def __init__(self, bind_host: str, allow_hosts: tuple[str, ...] = ()) -> None:
        names = {"localhost", COMPOSE_SERVICE_NAME, *(name.lower().rstrip(".") for name in allow_hosts)}
        bind = bind_host.strip("[]").lower()
        if bind in WILDCARD_BIND_ADDRESSES:
            names.update(name.lower() for name in (socket.gethostname(), socket.getfqdn()) if name)
        else:
            names.add(bind)
        self.names = frozenset(names)

    def serves(self, name: str) -> bool:
        # AWS's own names (S3 virtual-hosted style, pointed here by /etc/hosts or a resolver of the user's): no
        # web page can make them resolve to this machine for a victim's browser.
        if name in self.names or name.endswith((".localhost", ".amazonaws.com")):
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


class RequestOriginPolicy:
    """The gateway's first request filter and its CORS response filter (see the module docstring)."""

    def __init__(self, security: SecuritySettings, bind_host: str) -> None:
        self.allowed_origins = frozenset(canonical_origin(origin) for origin in security.cors_allow_origins)
        self.hosts = ServedHosts(bind_host, security.allow_hosts)

    def install(self, gateway: "Gateway") -> None:
        """Put the checks in front of every other filter and route, and the CORS headers on every answer."""
        gateway.add_filter(self.check)
        gateway.add_response_filter(self.response_headers)

    def allowed_origin(self, request: Any) -> str | None:
        """The request's ``Origin`` as sent when it is on the allow-list, else None."""
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        try:
            return origin if canonical_origin(origin) in self.allowed_origins else None
        except ValueError:
            return None

    def check(self, aws_request: "AWSRequest") -> Response | None:
        """None to let the request through; a 403 for a foreign ``Host`` or browser origin; a preflight's answer."""
        request = aws_request.request
        host_header = request.environ.get("HTTP_HOST")
        if host_header is not None:
            name = host_name(host_header)
            if name is None or not self.hosts.serves(name):
                return access_denied(aws_request, _foreign_host_message(host_header, name))
        origin = request.headers.get("Origin")
        allowed = self.allowed_origin(request)
        if origin is not None and allowed is None:
            return access_denied(aws_request, _foreign_origin_message(origin))
        fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
        if allowed is None and fetch_site in _REFUSED_FETCH_SITES:
            return access_denied(aws_request, (
                f"Cross-site browser requests are refused (Sec-Fetch-Site: {fetch_site} without an allowed Origin); "
                "start local_aws with --cors-allow-origin <origin> to let a page's origin call it"))
        if _is_preflight(request):
            if allowed is None:
                return access_denied(aws_request, "CORS preflight without an Origin is refused")
            return Response(status=200)
        return None

    def response_headers(self, aws_request: "AWSRequest", headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Drop every ``Access-Control-*`` header; add ours when the request comes from an allowed origin."""
        kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
        request = aws_request.request
        origin = self.allowed_origin(request)
        if origin is None:
            return kept
        vary = ["Origin"]
        added = [("Access-Control-Allow-Origin", origin)]
        if _is_preflight(request):
            vary += ["Access-Control-Request-Method", "Access-Control-Request-Headers"]
            added.append(("Access-Control-Allow-Methods", ALLOWED_METHODS))
            requested_headers = request.headers.get("Access-Control-Request-Headers")
            if requested_headers:
                added.append(("Access-Control-Allow-Headers", requested_headers))
            added.append(("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_SECONDS)))
        else:
            added.append(("Access-Control-Expose-Headers", EXPOSED_HEADERS))
        existing_vary = [value for name, value in kept if name.lower() == "vary"]
        kept = [(name, value) for name, value in kept if name.lower() != "vary"]
        varied = [part.strip() for value in existing_vary for part in value.split(",") if part.strip()]
        varied += [name for name in vary if name.lower() not in {part.lower() for part in varied}]
        return kept + [("Vary", ", ".join(varied))] + added


def _is_preflight(request: Any) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def _foreign_host_message(host_header: str, name: str | None) -> str:
    if name is None:
        return f"Host {host_header!r} is malformed"
    return (f"Host {name!r} is not served by this runtime (it answers loopback names, its bind address and "
            f"{COMPOSE_SERVICE_NAME!r}, which stops DNS rebinding); start local_aws with --allow-host {name} "
            "to serve this name too")


def _foreign_origin_message(origin: str) -> str:
    if origin.strip().lower() == "null":
        return ("Requests from the browser origin null (a sandboxed frame or a file:// page) are refused; "
                "no setting allows them")
    return (f"Requests from the browser origin {origin} are refused; start local_aws with "
            f"--cors-allow-origin {origin} to allow that origin")
