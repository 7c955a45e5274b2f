"""Fetch an image from a URL a client supplied, without letting the URL reach private networks (SSRF).

The URL is checked before any byte is sent: http or https only, no user info, no numeric host spellings
other than plain dotted-decimal IPv4 or bracketed IPv6. The host is resolved once and every address it
resolves to must be public (loopback, private, link-local such as the 169.254.169.254 metadata service,
shared/CGNAT, multicast, reserved, unspecified, and IPv6 forms that embed such an IPv4 address are
refused); the connection then goes to one of those checked addresses, never to a second lookup, while the
Host header, TLS SNI and certificate check keep the host name. Redirects are followed by hand, each hop
checked the same way. Timeouts bound the connect, every read and the whole download; a byte cap is
enforced from Content-Length and while streaming; the body must decode as an image with a bounded number
of pixels (decompression bombs).

Environment proxies (``HTTP_PROXY`` ...) are ignored on purpose: a proxy would resolve the host itself.

``fetch_image_bytes(url)`` is the entry point; ``decode_image(data)`` applies the same image checks to
bytes that arrived another way. Both raise subclasses of ``FetchError`` with messages meant for clients.
"""

import http.client
import io
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import warnings
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_DEADLINE = 30.0
DEFAULT_MAX_REDIRECTS = 3
MAX_URL_LENGTH = 4096
ALLOWED_IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")

_SCHEMES = {"http": 80, "https": 443}
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024
_USER_AGENT = "pawflow-image-fetch/1"
# WHATWG URL rule: a host whose last label is a number (decimal, 0x-hex or octal) is an IPv4 address.
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
# IANA special-purpose blocks that are not globally reachable. Python's own tables differ between
# versions (3.11 treats 192.0.0.8 or fec0::1 as global), so these are checked explicitly as well.
_SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class FetchError(Exception):
    """Base of every error this module raises; ``message`` is written for the client that sent the URL."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class UrlRefused(FetchError):
    """The URL (or a redirect hop) is not allowed; ``reason`` names the rule: scheme, userinfo, syntax,
    host, spelling, address."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class DownloadFailed(FetchError):
    """The host could not be resolved or reached, answered an error status, redirected too often, or was too slow."""


class TooLarge(FetchError):
    """The body is larger than the byte cap (told by Content-Length or found while streaming)."""


class NotAnImage(FetchError):
    """The bytes do not decode as an image in one of the accepted formats."""


class TooManyPixels(FetchError):
    """The image declares more pixels than the cap: a decompression bomb or simply too big to classify."""


def address_refusal(address):
    """Return why ``address`` must not be contacted (a short phrase), or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"an IPv4-mapped IPv6 address (of {address.ipv4_mapped}); use the IPv4 address itself"
        if address in _IPV4_COMPATIBLE and int(address) > 1:
            return "an IPv4-compatible IPv6 address (deprecated)"
        embedded = _embedded_ipv4(address)
        for inner in embedded:
            inner_reason = address_refusal(inner)
            if inner_reason:
                return f"an IPv6 address embedding {inner}, {inner_reason}"
    checks = (
        ("is_unspecified", "the unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address (this includes the 169.254.169.254 metadata service)"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, phrase in checks:
        if getattr(address, attribute):
            return phrase
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE:
        return "a shared (carrier-grade NAT) address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if not address.is_global or any(address in block for block in _SPECIAL_PURPOSE if block.version == address.version):
        return "a special-purpose address that is not globally reachable"
    return None


def _embedded_ipv4(address):
    """IPv4 addresses an IPv6 address carries: 6to4, Teredo (server and client) and NAT64 well-known prefix."""
    embedded = []
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    if address in _NAT64_PREFIX:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses may be contacted: public ones, plus the networks listed in ``allow``.

    ``allow`` is for deliberate exceptions (an internal image store, a test server on 127.0.0.1);
    the default policy allows nothing beyond public addresses.
    """

    allow: tuple = ()

    def refusal(self, address):
        """Return why ``address`` is refused, or None when it may be contacted."""
        for network in self.allow:
            if address.version == network.version and address in network:
                return None
        return address_refusal(address)


DEFAULT_POLICY = AddressPolicy()


@dataclass(frozen=True)
class ImageInfo:
    """What ``verify_image`` learned from an image's header."""

    format: str
    width: int
    height: int


def system_resolver(host, port):
    """Resolve ``host`` once with the system resolver; return the address strings (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


def fetch_image_bytes(
    url,
    *,
    max_bytes=DEFAULT_MAX_BYTES,
    max_pixels=DEFAULT_MAX_PIXELS,
    connect_timeout=DEFAULT_CONNECT_TIMEOUT,
    read_timeout=DEFAULT_READ_TIMEOUT,
    deadline=DEFAULT_DEADLINE,
    max_redirects=DEFAULT_MAX_REDIRECTS,
    resolver=None,
    policy=DEFAULT_POLICY,
    ssl_context=None,
):
    """Download the image at ``url`` under the rules in this module's docstring and return its bytes.

    :param url: http(s) URL supplied by a client.
    :param max_bytes: largest body accepted, in bytes.
    :param max_pixels: largest image accepted, width x height.
    :param connect_timeout: seconds allowed for each TCP (and TLS) connect.
    :param read_timeout: seconds allowed for each read from the socket.
    :param deadline: seconds allowed for the whole download, redirects included.
    :param max_redirects: redirects followed before giving up.
    :param resolver: ``resolver(host, port) -> iterable of address strings``; the system resolver by default.
    :param policy: ``AddressPolicy`` deciding which addresses may be contacted.
    :param ssl_context: TLS context for https; a default verifying context when None.
    :raises UrlRefused, DownloadFailed, TooLarge, NotAnImage, TooManyPixels:
    """
    resolver = resolver or system_resolver
    clock = _Deadline(deadline)
    current = url
    for hop in range(max_redirects + 1):
        target = _check_url(current, hop)
        addresses = _resolve_and_check(target, resolver, policy, hop)
        status, location, body = _get(target, addresses, clock, connect_timeout, read_timeout, max_bytes, ssl_context)
        if status in _REDIRECT_STATUSES:
            if not location:
                raise DownloadFailed(f"{_describe(current)} answered HTTP {status} without a Location header")
            current = urljoin(target.url, location)
            logger.info("Following redirect %s -> %s", _describe(target.url), _describe(current))
            continue
        if not 200 <= status < 300:
            raise DownloadFailed(f"{_describe(current)} answered HTTP {status}; give a URL that serves the image")
        verify_image(body, max_pixels=max_pixels)
        return body
    raise DownloadFailed(
        f"more than {max_redirects} redirects starting from {_describe(url)}; give the image's final URL"
    )


def verify_image(data, *, max_pixels=DEFAULT_MAX_PIXELS, formats=ALLOWED_IMAGE_FORMATS):
    """Check that ``data`` is an image in ``formats`` with at most ``max_pixels`` pixels; return its ``ImageInfo``."""
    if not data:
        raise NotAnImage("the image is empty (0 bytes)")
    with _open_image(data, formats) as image:
        info = ImageInfo(image.format, image.width, image.height)
        _check_pixels(info, max_pixels)
        try:
            image.verify()
        except Exception as error:  # Pillow's plugins raise many types for corrupt data
            raise NotAnImage(f"the {info.format} image is corrupt: {error}") from error
    return info


def decode_image(data, *, max_pixels=DEFAULT_MAX_PIXELS, formats=ALLOWED_IMAGE_FORMATS):
    """Decode ``data`` (checked like ``verify_image``) into a loaded RGB ``PIL.Image``."""
    info = verify_image(data, max_pixels=max_pixels, formats=formats)
    with _open_image(data, formats) as image:
        try:
            image.load()
            return image.convert("RGB")
        except Exception as error:  # truncated or corrupt pixel data
            raise NotAnImage(f"the {info.format} image cannot be decoded: {error}") from error


def _open_image(data, formats):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=list(formats))
        except Image.DecompressionBombError as error:
            raise TooManyPixels(f"the image is too large to decode: {error}") from error
        except UnidentifiedImageError as error:
            accepted = ", ".join(formats)
            raise NotAnImage(f"the data is not an image in an accepted format ({accepted})") from error
        except Exception as error:  # a recognised but malformed header
            raise NotAnImage(f"the image header is corrupt: {error}") from error


def _check_pixels(info, max_pixels):
    pixels = info.width * info.height
    if pixels > max_pixels:
        raise TooManyPixels(
            f"the image is {info.width}x{info.height} = {pixels} pixels; the limit is {max_pixels} pixels, "
            "send a smaller image"
        )


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str


def _describe(url):
    """A URL shortened for messages and logs (no query string, bounded length)."""
    shown = url.split("?", 1)[0]
    return shown if len(shown) <= 200 else shown[:197] + "..."


def _check_url(url, hop):
    where = "the URL" if hop == 0 else f"redirect {hop} ({_describe(url)})"
    if not isinstance(url, str) or not url:
        raise UrlRefused("syntax", f"{where} is empty")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused("syntax", f"{where} is longer than {MAX_URL_LENGTH} characters")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F or char == "\\" for char in url):
        raise UrlRefused("syntax", f"{where} contains spaces, control characters or backslashes; percent-encode them")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise UrlRefused("host", f"{where} cannot be parsed: {error}") from error
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = f"'{parts.scheme}'" if parts.scheme else "no scheme"
        raise UrlRefused("scheme", f"{where} has {shown}; only http and https URLs are fetched")
    if "@" in parts.netloc:
        raise UrlRefused("userinfo", f"{where} contains user info ('...@'); give the URL without credentials")
    host = parts.hostname
    if not host:
        raise UrlRefused("host", f"{where} has no host")
    try:
        port = parts.port or _SCHEMES[scheme]
    except ValueError as error:
        raise UrlRefused("syntax", f"{where} has an invalid port") from error
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused("host", f"{where} has an invalid IPv6 address '{host}'") from None
    else:
        host = _check_host_name(host, where)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=?~-._")
    return _Target(url=url, scheme=scheme, host=host, port=port, path=path)


def _check_host_name(host, where):
    """Refuse numeric spellings other than dotted-decimal IPv4 and return the ASCII host name."""
    labels = host.rstrip(".").split(".")
    if labels and _NUMERIC_LABEL.match(labels[-1]):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise UrlRefused(
                "spelling",
                f"{where} spells an IPv4 address in a non-standard form ('{host}'); "
                "write addresses as four decimal numbers, e.g. 203.0.113.7",
            ) from None
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise UrlRefused("host", f"{where} has an invalid host name '{host}'") from error


def _resolve_and_check(target, resolver, policy, hop):
    where = "the URL" if hop == 0 else f"redirect {hop}"
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [str(literal)]
    else:
        try:
            candidates = list(resolver(target.host, target.port))
        except (OSError, UnicodeError) as error:
            raise DownloadFailed(f"could not resolve host '{target.host}' of {where}: {error}") from error
    if not candidates:
        raise DownloadFailed(f"host '{target.host}' of {where} resolves to no address")
    addresses = []
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(str(candidate).split("%", 1)[0])
        except ValueError as error:
            raise UrlRefused("address", f"host '{target.host}' resolved to '{candidate}', not an IP address") from error
        reason = policy.refusal(address)
        if reason:
            shown = "" if literal is not None else f" resolves to {address}, which"
            raise UrlRefused(
                "address", f"host '{target.host}' of {where}{shown} is {reason}; only public addresses are fetched"
            )
        if address not in addresses:
            addresses.append(address)
    return addresses


class _Deadline:
    """Overall time budget of one fetch, redirects included."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self):
        left = self.ends - time.monotonic()
        if left <= 0:
            raise DownloadFailed(f"the download took longer than {self.seconds:g} s")
        return left


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP connection to an already checked address; ``host`` stays the name for the Host header."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.raw_socket = None

    def connect(self):
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.raw_socket = self.sock


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS connection to an already checked address, with SNI and certificate checks for the host name."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, host, port, address, timeout, context):
        super().__init__(host, port, address, timeout)
        self.context = context

    def connect(self):
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
        self.raw_socket = self.sock


def _connect(target, addresses, clock, connect_timeout, ssl_context):
    errors = []
    for address in addresses:
        timeout = min(connect_timeout, clock.remaining())
        if target.scheme == "https":
            context = ssl_context or ssl.create_default_context()
            connection = _PinnedHTTPSConnection(target.host, target.port, address, timeout, context)
        else:
            connection = _PinnedHTTPConnection(target.host, target.port, address, timeout)
        try:
            connection.connect()
            return connection
        except ssl.SSLError as error:
            connection.close()
            raise DownloadFailed(f"TLS with '{target.host}' failed: {error}") from error
        except OSError as error:
            connection.close()
            errors.append(f"{address}: {error}")
    raise DownloadFailed(f"could not connect to '{target.host}' port {target.port} ({'; '.join(errors)})")


def _get(target, addresses, clock, connect_timeout, read_timeout, max_bytes, ssl_context):
    """GET ``target`` from one of ``addresses``; return (status, Location header, body or None)."""
    connection = _connect(target, addresses, clock, connect_timeout, ssl_context)
    sock = connection.raw_socket
    watchdog = threading.Timer(clock.remaining(), _shut, args=(sock,))
    watchdog.daemon = True
    watchdog.start()
    try:
        sock.settimeout(min(read_timeout, clock.remaining()))
        connection.putrequest("GET", target.path, skip_accept_encoding=True)
        connection.putheader("Accept", "image/*")
        connection.putheader("Accept-Encoding", "identity")
        connection.putheader("User-Agent", _USER_AGENT)
        connection.endheaders()
        response = connection.getresponse()
        if response.status in _REDIRECT_STATUSES:
            return response.status, response.getheader("Location"), None
        if not 200 <= response.status < 300:
            return response.status, None, None
        return response.status, None, _read_capped(response, sock, clock, read_timeout, max_bytes, target)
    except FetchError:
        raise
    except TimeoutError as error:
        clock.remaining()
        raise DownloadFailed(f"'{target.host}' sent nothing for {read_timeout:g} s") from error
    except (OSError, http.client.HTTPException) as error:
        clock.remaining()
        raise DownloadFailed(f"the download from '{target.host}' failed: {error or type(error).__name__}") from error
    finally:
        watchdog.cancel()
        connection.close()


def _read_capped(response, sock, clock, read_timeout, max_bytes, target):
    declared = response.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"'{target.host}' announces {int(declared)} bytes; the limit is {max_bytes} bytes")
    chunks = []
    received = 0
    while True:
        sock.settimeout(min(read_timeout, clock.remaining()))
        chunk = response.read1(_CHUNK)
        if not chunk:
            clock.remaining()
            if response.length:
                raise DownloadFailed(
                    f"'{target.host}' closed the connection after {received} of {received + response.length} bytes"
                )
            return b"".join(chunks)
        received += len(chunk)
        if received > max_bytes:
            raise TooLarge(f"the download from '{target.host}' exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)


def _shut(sock):
    """Deadline watchdog: unblock a read that trickles in slower than the overall deadline."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
