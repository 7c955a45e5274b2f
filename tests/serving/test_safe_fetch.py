"""safe_fetch refuses URLs that reach private networks and bounds what it downloads; real local servers only."""

import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import safe_fetch
from tests.serving.sample_images import image_bytes, png_bomb

LOOPBACK_ONLY = safe_fetch.AddressPolicy(allow=(ipaddress.ip_network("127.0.0.1/32"),))


def refused(url, **kwargs):
    """The UrlRefused error for ``url``; any attempt to open a connection fails the test instead."""

    def no_connection(address, *args, **kwargs):
        pytest.fail(f"a connection to {address} was attempted")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(safe_fetch.socket, "create_connection", no_connection)
        with pytest.raises(safe_fetch.UrlRefused) as caught:
            safe_fetch.fetch_image_bytes(url, **kwargs)
    return caught.value


def refused_after_connecting(url, **kwargs):
    """The UrlRefused error for ``url`` fetched with a policy that lets the first hop reach a local server."""
    with pytest.raises(safe_fetch.UrlRefused) as caught:
        safe_fetch.fetch_image_bytes(url, **kwargs)
    return caught.value


# --- the URL itself ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/dog.jpg",
        "http://172.16.5.4/dog.jpg",
        "http://192.168.1.1/dog.jpg",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1/dog.jpg",
        "http://127.8.9.10/dog.jpg",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::127.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
        "http://[2002:7f00:1::]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    ],
)
def test_non_public_address_literals_are_refused_before_connecting(url):
    error = refused(url)
    assert error.reason == "address"
    assert "only public addresses are fetched" in error.message


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://017700000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://127.000.000.001/",
        "http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://134744072/",
        "http://evil.example.0x7f/",
        "http://127.0.0.1./",
    ],
)
def test_numeric_host_spellings_other_than_dotted_decimal_are_refused(url):
    error = refused(url)
    assert error.reason == "spelling"
    assert "four decimal numbers" in error.message


@pytest.mark.parametrize(
    "url, reason",
    [
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:70/_GET", "scheme"),
        ("ftp://example.com/dog.jpg", "scheme"),
        ("dict://127.0.0.1:11211/", "scheme"),
        ("//example.com/dog.jpg", "scheme"),
        ("dog.jpg", "scheme"),
        ("http://evil@127.0.0.1/", "userinfo"),
        ("http://user:pass@example.com/dog.jpg", "userinfo"),
        ("http://example.com@169.254.169.254/", "userinfo"),
        ("http://example.com\\@127.0.0.1/", "syntax"),
        ("http://exa mple.com/", "syntax"),
        ("http://example.com/\t", "syntax"),
        ("http://example.com:99999/", "syntax"),
        ("http:///dog.jpg", "host"),
        ("http://[not:an:address]/", "host"),
        ("", "syntax"),
        ("http://example.com/" + "a" * 5000, "syntax"),
    ],
)
def test_malformed_and_non_http_urls_are_refused_with_the_rule_named(url, reason):
    error = refused(url)
    assert error.reason == reason
    assert error.message


def test_refusal_message_tells_the_client_what_to_send():
    error = refused("file:///etc/passwd")
    assert error.message == "the URL has 'file'; only http and https URLs are fetched"


# --- resolution -------------------------------------------------------------------------------------------


def test_every_resolved_address_is_checked_not_just_the_first():
    def resolver(host, port):
        return ["93.184.216.34", "10.1.2.3"]

    error = refused("http://images.example/dog.jpg", resolver=resolver)
    assert "resolves to 10.1.2.3" in error.message
    assert "private address" in error.message


def test_resolved_ipv4_mapped_metadata_address_is_refused():
    error = refused("http://images.example/", resolver=lambda host, port: ["::ffff:169.254.169.254"])
    assert "IPv4-mapped" in error.message


def test_system_resolver_result_for_localhost_is_refused():
    error = refused("http://localhost/dog.jpg")
    assert error.reason == "address"
    assert "loopback" in error.message


def test_unresolvable_host_is_a_download_failure():
    def resolver(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(safe_fetch.DownloadFailed, match="could not resolve host 'nowhere.example'"):
        safe_fetch.fetch_image_bytes("http://nowhere.example/dog.jpg", resolver=resolver)


def test_default_policy_refuses_a_live_loopback_server_without_sending_a_request(server):
    server.serve("/dog.png", image_bytes())
    error = refused(server.url("/dog.png"))
    assert "loopback" in error.message
    assert server.requests == []


def test_connects_to_the_checked_address_once_resolved_and_keeps_the_host_header(server):
    server.serve("/dog.png", image_bytes())
    lookups = []

    def resolver(host, port):
        lookups.append((host, port))
        return ["127.0.0.1"]

    body = safe_fetch.fetch_image_bytes(server.url("/dog.png", host="images.test"), resolver=resolver, policy=LOOPBACK_ONLY)
    assert body == image_bytes()
    assert lookups == [("images.test", server.port)]
    path, headers = server.requests[0]
    assert path == "/dog.png"
    assert headers["Host"] == f"images.test:{server.port}"
    assert headers["Accept-Encoding"] == "identity"


def test_connection_falls_back_to_the_next_checked_address_when_one_refuses(server):
    server.serve("/dog.png", image_bytes())
    loopback_net = safe_fetch.AddressPolicy(allow=(ipaddress.ip_network("127.0.0.0/8"),))
    body = safe_fetch.fetch_image_bytes(
        server.url("/dog.png", host="images.test"),
        resolver=lambda host, port: ["127.0.0.2", "127.0.0.1"],
        policy=loopback_net,
    )
    assert body == image_bytes()
    assert len(server.requests) == 1


def test_https_connects_to_the_checked_address_with_sni_and_certificate_of_the_name(tls_server):
    tls_server.serve("/dog.jpg", image_bytes("JPEG"), content_type="image/jpeg")
    body = safe_fetch.fetch_image_bytes(
        tls_server.url("/dog.jpg", host="images.test", scheme="https"),
        resolver=lambda host, port: ["127.0.0.1"],
        policy=LOOPBACK_ONLY,
        ssl_context=tls_server.client_context,
    )
    assert body == image_bytes("JPEG")


def test_https_certificate_for_another_name_is_a_download_failure(tls_server):
    tls_server.serve("/dog.jpg", image_bytes("JPEG"))
    with pytest.raises(safe_fetch.DownloadFailed, match="TLS with 'other.test' failed"):
        safe_fetch.fetch_image_bytes(
            tls_server.url("/dog.jpg", host="other.test", scheme="https"),
            resolver=lambda host, port: ["127.0.0.1"],
            policy=LOOPBACK_ONLY,
            ssl_context=tls_server.client_context,
        )


# --- redirects --------------------------------------------------------------------------------------------


def test_relative_redirect_on_an_allowed_host_is_followed(server):
    server.serve("/final.png", image_bytes())
    server.redirect("/start", "/final.png", status=301)
    body = safe_fetch.fetch_image_bytes(server.url("/start"), policy=LOOPBACK_ONLY)
    assert body == image_bytes()
    assert [path for path, _ in server.requests] == ["/start", "/final.png"]


@pytest.mark.parametrize(
    "location, reason",
    [
        ("http://10.0.0.7/dog.jpg", "address"),
        ("http://169.254.169.254/latest/meta-data/", "address"),
        ("http://[::1]/dog.jpg", "address"),
        ("http://[::ffff:127.0.0.1]/dog.jpg", "address"),
        ("http://2130706433/dog.jpg", "spelling"),
        ("file:///etc/passwd", "scheme"),
        ("http://user@images.example/", "userinfo"),
    ],
)
def test_redirect_to_a_refused_target_is_refused_at_that_hop(server, location, reason):
    server.redirect("/start", location)
    error = refused_after_connecting(server.url("/start"), policy=LOOPBACK_ONLY)
    assert error.reason == reason
    assert "redirect 1" in error.message
    assert [path for path, _ in server.requests] == ["/start"]


def test_redirect_to_another_loopback_address_is_checked_against_the_policy(server):
    server.redirect("/start", f"http://127.0.0.2:{server.port}/dog.png")
    error = refused_after_connecting(server.url("/start"), policy=LOOPBACK_ONLY)
    assert "redirect 1" in error.message and "loopback" in error.message
    assert [path for path, _ in server.requests] == ["/start"]


def test_more_redirects_than_allowed_is_a_download_failure(server):
    server.serve("/3", image_bytes())
    server.redirect("/0", "/1")
    server.redirect("/1", "/2")
    server.redirect("/2", "/3")
    with pytest.raises(safe_fetch.DownloadFailed, match="more than 2 redirects"):
        safe_fetch.fetch_image_bytes(server.url("/0"), policy=LOOPBACK_ONLY, max_redirects=2)
    assert safe_fetch.fetch_image_bytes(server.url("/0"), policy=LOOPBACK_ONLY, max_redirects=3) == image_bytes()


# --- what comes back --------------------------------------------------------------------------------------


def test_error_status_is_a_download_failure_naming_the_status(server):
    with pytest.raises(safe_fetch.DownloadFailed, match="answered HTTP 404"):
        safe_fetch.fetch_image_bytes(server.url("/missing.jpg"), policy=LOOPBACK_ONLY)


def test_declared_content_length_over_the_cap_is_too_large(server):
    server.serve("/big.png", image_bytes(size=(400, 400)))
    with pytest.raises(safe_fetch.TooLarge, match="announces .* bytes; the limit is 1000 bytes"):
        safe_fetch.fetch_image_bytes(server.url("/big.png"), policy=LOOPBACK_ONLY, max_bytes=1000)


def test_streamed_body_over_the_cap_is_too_large_without_content_length(server):
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Connection", "close")
        handler.end_headers()
        for _ in range(50):
            handler.wfile.write(b"\0" * 1024)

    server.routes["/stream"] = route
    with pytest.raises(safe_fetch.TooLarge, match="exceeds the limit of 10000 bytes"):
        safe_fetch.fetch_image_bytes(server.url("/stream"), policy=LOOPBACK_ONLY, max_bytes=10_000)


def test_body_shorter_than_its_content_length_is_a_download_failure(server):
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "5000")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(image_bytes()[:100])
        handler.close_connection = True

    server.routes["/short"] = route
    with pytest.raises(safe_fetch.DownloadFailed, match="closed the connection after 100 of 5000 bytes"):
        safe_fetch.fetch_image_bytes(server.url("/short"), policy=LOOPBACK_ONLY)


def test_server_that_stalls_before_answering_times_out(server):
    server.routes["/stall"] = lambda handler: server.release.wait(10)
    with pytest.raises(safe_fetch.DownloadFailed, match="sent nothing for 0.3 s"):
        safe_fetch.fetch_image_bytes(server.url("/stall"), policy=LOOPBACK_ONLY, read_timeout=0.3)


def test_server_that_stalls_mid_body_times_out(server):
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"\x89PNG")
        handler.wfile.flush()
        server.release.wait(10)

    server.routes["/half"] = route
    with pytest.raises(safe_fetch.DownloadFailed, match="sent nothing for 0.3 s"):
        safe_fetch.fetch_image_bytes(server.url("/half"), policy=LOOPBACK_ONLY, read_timeout=0.3)


def test_server_that_trickles_bytes_hits_the_overall_deadline(server):
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"\0")
            handler.wfile.flush()
            if server.release.wait(0.05):
                return

    server.routes["/trickle"] = route
    with pytest.raises(safe_fetch.DownloadFailed, match="took longer than 0.5 s"):
        safe_fetch.fetch_image_bytes(server.url("/trickle"), policy=LOOPBACK_ONLY, read_timeout=2, deadline=0.5)


def test_body_that_is_not_an_image_is_refused(server):
    server.serve("/page", b"<html><body>a dog</body></html>", content_type="text/html")
    with pytest.raises(safe_fetch.NotAnImage, match="not an image in an accepted format"):
        safe_fetch.fetch_image_bytes(server.url("/page"), policy=LOOPBACK_ONLY)


def test_decompression_bomb_is_refused_by_its_header(server):
    bomb = png_bomb()
    assert len(bomb) < 200
    server.serve("/bomb.png", bomb)
    with pytest.raises(safe_fetch.TooManyPixels):
        safe_fetch.fetch_image_bytes(server.url("/bomb.png"), policy=LOOPBACK_ONLY)


def test_image_over_the_pixel_cap_names_its_size(server):
    server.serve("/wide.png", image_bytes(size=(300, 200)))
    with pytest.raises(safe_fetch.TooManyPixels, match="300x200 = 60000 pixels; the limit is 50000"):
        safe_fetch.fetch_image_bytes(server.url("/wide.png"), policy=LOOPBACK_ONLY, max_pixels=50_000)


def test_image_format_outside_the_allowed_list_is_refused():
    with pytest.raises(safe_fetch.NotAnImage, match="JPEG, PNG"):
        safe_fetch.verify_image(image_bytes("TIFF"))


def test_truncated_image_cannot_be_decoded():
    with pytest.raises(safe_fetch.NotAnImage):
        safe_fetch.decode_image(image_bytes("JPEG", size=(256, 256))[:400])


def test_decode_image_returns_rgb_pixels():
    image = safe_fetch.decode_image(image_bytes("PNG", size=(20, 10), color=(1, 2, 3)))
    assert image.mode == "RGB" and image.size == (20, 10)
    assert image.getpixel((0, 0)) == (1, 2, 3)


# --- properties -------------------------------------------------------------------------------------------

NON_PUBLIC_V4 = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
]


@st.composite
def non_public_ipv4(draw):
    network = draw(st.sampled_from(NON_PUBLIC_V4))
    offset = draw(st.integers(min_value=0, max_value=network.num_addresses - 1))
    return network[offset]


def _number(value, style):
    return {"dec": str(value), "hex": hex(value), "HEX": "0X%X" % value, "oct": "0%o" % value}[style]


@st.composite
def ipv4_spelling(draw, address):
    """Any of the forms inet_aton and browsers accept: 1 to 4 parts, each decimal, hex or octal."""
    value = int(address)
    octets = [(value >> shift) & 0xFF for shift in (24, 16, 8, 0)]
    parts = draw(st.sampled_from([1, 2, 3, 4]))
    numbers = {1: [value], 2: [octets[0], value & 0xFFFFFF], 3: [octets[0], octets[1], value & 0xFFFF], 4: octets}[parts]
    styles = draw(st.lists(st.sampled_from(["dec", "hex", "HEX", "oct"]), min_size=parts, max_size=parts))
    return ".".join(_number(number, style) for number, style in zip(numbers, styles))


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data())
def test_any_non_public_ipv4_in_any_spelling_is_refused(data):
    address = data.draw(non_public_ipv4())
    host = data.draw(ipv4_spelling(address))
    assert socket.inet_aton(host) == address.packed
    error = refused(f"http://{host}/dog.jpg", resolver=lambda name, port: pytest.fail("resolver must not run"))
    assert error.reason in {"spelling", "address"}


@settings(max_examples=200, deadline=None, database=None)
@given(address=non_public_ipv4(), form=st.sampled_from(["::ffff:{}", "::ffff:{:x}", "64:ff9b::{}", "2002:{:x}::1"]))
def test_ipv6_forms_embedding_a_non_public_ipv4_are_refused(address, form):
    value = int(address)
    if form == "::ffff:{:x}":
        literal = "::ffff:%x:%x" % (value >> 16, value & 0xFFFF)
    elif form == "2002:{:x}::1":
        literal = "2002:%x:%x::1" % (value >> 16, value & 0xFFFF)
    else:
        literal = form.format(address)
    error = refused(f"http://[{literal}]/")
    assert error.reason == "address"


@settings(max_examples=500, deadline=None, database=None)
@given(address=st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address))
def test_default_policy_allows_an_ipv4_address_exactly_when_it_is_public_unicast(address):
    allowed = safe_fetch.DEFAULT_POLICY.refusal(address) is None
    special = any(address in network for network in NON_PUBLIC_V4)
    assert allowed == (address.is_global and not special)
