"""Who signed a request: its AWS Signature Version 4 checked against the runtime's credentials, as AWS checks it.

Every request must be signed with SigV4, in the ``Authorization`` header or in the query string (presigned URLs),
by the administrator's key pair (``SecuritySettings``), an Active IAM user access key, or an unexpired STS role
session the runtime issued (whose ``X-Amz-Security-Token`` must come with it). The expected signature is computed
by botocore's own signers (``SigV4Auth``, ``S3SigV4Auth``, ``SigV4QueryAuth``, ``S3SigV4QueryAuth``) over the
request as it was sent: raw path, the headers the client declared signed, the body, its own timestamp. The only
change to them: they canonicalise exactly the declared headers, as AWS does, where botocore picks its own.
S3's ``x-amz-content-sha256`` is checked against the body, and ``aws-chunked`` uploads
(``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) chunk by chunk.

``Authentication`` is the gateway's first request filter: it sets the request's ``principal`` (and
``environ["local_aws.principal"]``) or answers AWS's error for the request's service and protocol.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import (
    EMPTY_SHA256_HASH,
    SIGV4_TIMESTAMP,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import ReadOnlyCredentials
from werkzeug.wrappers import Request, Response

from local_aws import moto_seam
from local_aws.aws_errors import JSON, QUERY, REST_JSON, RPC_V2_CBOR, S3, error_response, request_protocol
from local_aws.health import is_health_check

if TYPE_CHECKING:
    from local_aws.runtime import SecuritySettings

log = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
STREAMING_SIGNED_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604800  # seconds: one week
PRINCIPAL_ENVIRON_KEY = "local_aws.principal"

ADMINISTRATOR = "administrator"
USER = "user"
ASSUMED_ROLE = "assumed-role"


@dataclass(frozen=True)
class Principal:
    """The verified signer of a request."""

    kind: str  # ADMINISTRATOR, USER or ASSUMED_ROLE
    access_key_id: str
    arn: str
    account_id: str
    session_token: str | None = None

    @property
    def is_administrator(self) -> bool:
        return self.kind == ADMINISTRATOR


@dataclass(frozen=True)
class _Credentials:
    principal: Principal
    secret_access_key: str
    session_token: str | None = None
    expiration: datetime | None = None


# Why a request is refused; each maps to one error per protocol family below.
MISSING = "missing"
UNSUPPORTED = "unsupported"
INCOMPLETE = "incomplete"
UNKNOWN_KEY = "unknown-key"
INVALID_TOKEN = "invalid-token"
EXPIRED_TOKEN = "expired-token"
BAD_SIGNATURE = "bad-signature"
SCOPE_DATE = "scope-date"
SKEWED = "skewed"
PRESIGNED_EXPIRED = "presigned-expired"
CONTENT_SHA256_MISMATCH = "content-sha256-mismatch"
INVALID_CONTENT_SHA256 = "invalid-content-sha256"

_INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
_EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"
_MISSING_MESSAGE = "Request is missing Authentication Token"
_SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.")
_S3_SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you provided. "
                         "Check your key and signing method.")

# reason -> protocol family -> (HTTP status, code, message; None: the failure's own detail).
# "query" also serves RPCv2-CBOR (CloudWatch is query-compatible: clients see the query code).
_ERRORS: dict[str, dict[str, tuple[int, str, str | None]]] = {
    MISSING: {"query": (403, "MissingAuthenticationToken", _MISSING_MESSAGE),
              "json": (400, "MissingAuthenticationTokenException", _MISSING_MESSAGE),
              "rest-json": (403, "MissingAuthenticationTokenException", _MISSING_MESSAGE),
              "s3": (403, "AccessDenied", "Access Denied")},
    UNSUPPORTED: {"query": (400, "IncompleteSignature", None),
                  "json": (400, "IncompleteSignatureException", None),
                  "rest-json": (403, "IncompleteSignatureException", None),
                  "s3": (400, "InvalidRequest", "The authorization mechanism you have provided is not supported. "
                                                "Please use AWS4-HMAC-SHA256.")},
    INCOMPLETE: {"query": (400, "IncompleteSignature", None),
                 "json": (400, "IncompleteSignatureException", None),
                 "rest-json": (403, "IncompleteSignatureException", None),
                 "s3": (400, "AuthorizationHeaderMalformed", None)},
    UNKNOWN_KEY: {"query": (403, "InvalidClientTokenId", _INVALID_TOKEN_MESSAGE),
                  "json": (400, "UnrecognizedClientException", _INVALID_TOKEN_MESSAGE),
                  "rest-json": (403, "UnrecognizedClientException", _INVALID_TOKEN_MESSAGE),
                  "s3": (403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")},
    INVALID_TOKEN: {"query": (403, "InvalidClientTokenId", _INVALID_TOKEN_MESSAGE),
                    "json": (400, "UnrecognizedClientException", _INVALID_TOKEN_MESSAGE),
                    "rest-json": (403, "UnrecognizedClientException", _INVALID_TOKEN_MESSAGE),
                    "s3": (400, "InvalidToken", "The provided token is malformed or otherwise invalid.")},
    EXPIRED_TOKEN: {"query": (403, "ExpiredToken", _EXPIRED_TOKEN_MESSAGE),
                    "json": (400, "ExpiredTokenException", _EXPIRED_TOKEN_MESSAGE),
                    "rest-json": (403, "ExpiredTokenException", _EXPIRED_TOKEN_MESSAGE),
                    "s3": (400, "ExpiredToken", "The provided token has expired.")},
    BAD_SIGNATURE: {"query": (403, "SignatureDoesNotMatch", _SIGNATURE_MESSAGE),
                    "json": (400, "InvalidSignatureException", _SIGNATURE_MESSAGE),
                    "rest-json": (403, "InvalidSignatureException", _SIGNATURE_MESSAGE),
                    "s3": (403, "SignatureDoesNotMatch", _S3_SIGNATURE_MESSAGE)},
    SCOPE_DATE: {"query": (403, "SignatureDoesNotMatch", None),
                 "json": (400, "InvalidSignatureException", None),
                 "rest-json": (403, "InvalidSignatureException", None),
                 "s3": (400, "AuthorizationHeaderMalformed",
                        "The authorization header is malformed; Invalid credential date. Date is not the same as "
                        "X-Amz-Date.")},
    SKEWED: {"query": (403, "SignatureDoesNotMatch", None),
             "json": (400, "InvalidSignatureException", None),
             "rest-json": (403, "InvalidSignatureException", None),
             "s3": (403, "RequestTimeTooSkewed", "The difference between the request time and the current time is "
                                                 "too large.")},
    PRESIGNED_EXPIRED: {"query": (403, "SignatureDoesNotMatch", None),
                        "json": (400, "InvalidSignatureException", None),
                        "rest-json": (403, "InvalidSignatureException", None),
                        "s3": (403, "AccessDenied", "Request has expired")},
    CONTENT_SHA256_MISMATCH: {"s3": (400, "XAmzContentSHA256Mismatch",
                                     "The provided 'x-amz-content-sha256' header does not match what was computed.")},
    INVALID_CONTENT_SHA256: {"s3": (400, "InvalidArgument",
                                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or "
                                    "a valid sha256 value.")},
}
_FAMILY = {QUERY: "query", RPC_V2_CBOR: "query", JSON: "json", REST_JSON: "rest-json", S3: "s3"}
# Former query services now spoken in JSON or CBOR: clients read the query code from ``x-amzn-query-error``.
_QUERY_COMPATIBLE_SERVICES = {"monitoring"}
_TARGET_PREFIX_SERVICES = {"GraniteServiceVersion20100801": "monitoring"}  # unsigned requests name no service
# The JSON code a query-compatible service writes in ``__type`` for each query code.
_JSON_CODE_OF_QUERY_CODE = {"MissingAuthenticationToken": "MissingAuthenticationTokenException",
                            "IncompleteSignature": "IncompleteSignatureException",
                            "InvalidClientTokenId": "UnrecognizedClientException",
                            "ExpiredToken": "ExpiredTokenException",
                            "SignatureDoesNotMatch": "InvalidSignatureException"}


class AuthenticationFailure(Exception):
    """A request AWS would refuse before running it: ``reason`` (MISSING, BAD_SIGNATURE, ...) and details."""

    def __init__(self, reason: str, detail: str = "", *, service: str | None = None, presigned: bool = False,
                 s3_fields: dict[str, str] | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.service = service
        self.presigned = presigned
        self.s3_fields = s3_fields or {}

    def response(self, protocol: str, service: str | None = None) -> Response:
        """AWS's error for this failure in ``protocol``'s shape (``service``: the signing name, when known)."""
        query_compatible = protocol == RPC_V2_CBOR or (protocol == JSON and service in _QUERY_COMPATIBLE_SERVICES)
        family = "query" if query_compatible else _FAMILY.get(protocol, "json")
        errors = _ERRORS[self.reason]
        if family not in errors:  # a body that does not match its hash: outside S3, a signature mismatch
            errors = _ERRORS[BAD_SIGNATURE]
        status, code, message = errors[family]
        if family == "s3" and self.presigned and code == "AuthorizationHeaderMalformed":
            code = "AuthorizationQueryParametersError"
        message = message if message is not None else self.detail
        if query_compatible:
            return error_response(protocol, status, _JSON_CODE_OF_QUERY_CODE.get(code, code), message, query_code=code)
        if protocol == REST_JSON:
            return error_response(protocol, status, code, message, message_key="Message")
        return error_response(protocol, status, code, message, extra=self.s3_fields if family == "s3" else None)


@dataclass(frozen=True)
class SignatureClaim:
    """What a request says about its signature: who, when, for which scope, over which headers."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool
    security_token: str | None = None
    expires: int | None = None
    query: list[tuple[str, str]] = field(default_factory=list)  # decoded, without X-Amz-Signature


_AUTHORIZATION_PARTS = ("Credential", "SignedHeaders", "Signature")
_SIGV2_QUERY = re.compile(r"(^|&)(AWSAccessKeyId|SignatureVersion)=")
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in raw_query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def _raw_path_and_query(environ: dict[str, Any]) -> tuple[str, str]:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        return quote(environ.get("PATH_INFO", "/")), environ.get("QUERY_STRING", "")
    if not raw.startswith("/"):  # absolute form (through a proxy)
        parts = urlsplit(raw)
        return parts.path or "/", parts.query
    path, _, query = raw.partition("?")
    return path, query


def _parse_credential(credential: str, presigned: bool) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise AuthenticationFailure(INCOMPLETE, f"Credential should be scoped to a valid region and service, "
                                                f"and end with 'aws4_request', not '{credential}'.",
                                    presigned=presigned)
    return parts[0], parts[1], parts[2], parts[3].lower()


def _normalised_timestamp(value: str, presigned: bool) -> str:
    try:
        datetime.strptime(value, SIGV4_TIMESTAMP)
    except ValueError:
        raise AuthenticationFailure(INCOMPLETE, f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
                                                "See http://en.wikipedia.org/wiki/ISO_8601",
                                    presigned=presigned) from None
    return value


def parse_claim(request: Request, raw_query: str) -> SignatureClaim:
    """The request's SigV4 signature claim, from its ``Authorization`` header or its query string."""
    query = _query_pairs(raw_query)
    params = dict(query)
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        algorithm, _, rest = authorization.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise AuthenticationFailure(UNSUPPORTED, f"Unsupported AWS 'algorithm': '{algorithm}'. "
                                                     f"Sign requests with {ALGORITHM} (Signature Version 4).")
        fields = {}
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        missing = [name for name in _AUTHORIZATION_PARTS if not fields.get(name)]
        if missing:
            raise AuthenticationFailure(INCOMPLETE, " ".join(
                f"Authorization header requires '{name}' parameter." for name in missing)
                + f" Authorization={authorization}")
        access_key_id, scope_date, region, service = _parse_credential(fields["Credential"], False)
        if request.headers.get("X-Amz-Date"):
            timestamp = _normalised_timestamp(request.headers["X-Amz-Date"], False)
        elif request.headers.get("Date"):
            try:
                timestamp = parsedate_to_datetime(request.headers["Date"]).astimezone(timezone.utc).strftime(SIGV4_TIMESTAMP)
            except (TypeError, ValueError):
                raise AuthenticationFailure(INCOMPLETE, f"Date must be in ISO-8601 'basic format'. Got "
                                                        f"'{request.headers['Date']}'.", service=service) from None
        else:
            raise AuthenticationFailure(INCOMPLETE, "Authorization header requires existence of either a "
                                                    "'X-Amz-Date' or a 'Date' header. "
                                                    f"Authorization={authorization}", service=service)
        return SignatureClaim(
            access_key_id, scope_date, region, service,
            tuple(name.strip().lower() for name in fields["SignedHeaders"].split(";") if name.strip()),
            fields["Signature"], timestamp, presigned=False,
            security_token=request.headers.get("X-Amz-Security-Token"), query=query,
        )
    if "X-Amz-Algorithm" in params or "X-Amz-Credential" in params:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise AuthenticationFailure(UNSUPPORTED, f"X-Amz-Algorithm only supports '{ALGORITHM}'",
                                        presigned=True)
        required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
                    "X-Amz-Expires")
        if any(not params.get(name) for name in required):
            raise AuthenticationFailure(INCOMPLETE, "Query-string authentication version 4 requires the "
                                                    "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                                                    "X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
                                        presigned=True)
        access_key_id, scope_date, region, service = _parse_credential(params["X-Amz-Credential"], True)
        try:
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            expires = -1
        if expires < 1:
            raise AuthenticationFailure(INCOMPLETE, "X-Amz-Expires must be non-negative", service=service,
                                        presigned=True)
        if expires > MAX_PRESIGNED_EXPIRES:
            raise AuthenticationFailure(INCOMPLETE, "X-Amz-Expires must be less than a week (in seconds) that is; "
                                                    f"{MAX_PRESIGNED_EXPIRES}", service=service, presigned=True)
        return SignatureClaim(
            access_key_id, scope_date, region, service,
            tuple(name.strip().lower() for name in params["X-Amz-SignedHeaders"].split(";") if name.strip()),
            params["X-Amz-Signature"], _normalised_timestamp(params["X-Amz-Date"], True), presigned=True,
            security_token=params.get("X-Amz-Security-Token"), expires=expires,
            query=[(key, value) for key, value in query if key != "X-Amz-Signature"],
        )
    if _SIGV2_QUERY.search(raw_query) or ("Signature" in params and "Expires" in params):
        raise AuthenticationFailure(UNSUPPORTED, "Signature Version 2 is not supported. "
                                                 f"Sign requests with {ALGORITHM} (Signature Version 4).")
    raise AuthenticationFailure(MISSING)


def find_credentials(access_key_id: str, security: "SecuritySettings") -> _Credentials | None:
    """The secret (and session) behind ``access_key_id``, or None when the runtime never issued it or it is Inactive."""
    if hmac.compare_digest(access_key_id.encode(), security.access_key_id.encode()):
        principal = Principal(ADMINISTRATOR, access_key_id, f"arn:aws:iam::{moto_seam.ACCOUNT_ID}:root",
                              moto_seam.ACCOUNT_ID)
        return _Credentials(principal, security.secret_access_key)
    session = moto_seam.find_role_session(access_key_id)
    if session is not None:
        expiration = session.expiration
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=timezone.utc)
        principal = Principal(ASSUMED_ROLE, access_key_id, session.arn, session.account_id, session.session_token)
        return _Credentials(principal, session.secret_access_key, session.session_token, expiration)
    found = moto_seam.find_user_access_key(access_key_id)
    if found is not None:
        user, key = found
        if key.status == "Active":
            return _Credentials(Principal(USER, access_key_id, user.arn, user.account_id), key.secret_access_key)
    return None


class _DeclaredHeaders:
    """Canonicalise exactly the headers the client declared signed (botocore's signers choose their own)."""

    declared: tuple[str, ...] = ()

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self.declared:
            headers[name] = request.headers.get(name, "")
        return headers


class _HeaderSignature(_DeclaredHeaders, SigV4Auth):
    pass


class _S3HeaderSignature(_DeclaredHeaders, S3SigV4Auth):
    pass


class _QuerySignature(_DeclaredHeaders, SigV4QueryAuth):
    pass


class _S3QuerySignature(_DeclaredHeaders, S3SigV4QueryAuth):
    pass


def _signer(claim: SignatureClaim, credentials: _Credentials) -> SigV4Auth:
    botocore_credentials = ReadOnlyCredentials(claim.access_key_id, credentials.secret_access_key,
                                               credentials.session_token)
    s3 = claim.service == "s3"
    if claim.presigned:
        signer = (_S3QuerySignature if s3 else _QuerySignature)(botocore_credentials, claim.service, claim.region,
                                                                expires=claim.expires)
    else:
        signer = (_S3HeaderSignature if s3 else _HeaderSignature)(botocore_credentials, claim.service, claim.region)
    signer.declared = claim.signed_headers
    return signer


def _check_time(claim: SignatureClaim, now: datetime) -> None:
    if claim.scope_date != claim.timestamp[:8]:
        raise AuthenticationFailure(
            SCOPE_DATE, f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                        f"'{claim.scope_date}' != '{claim.timestamp[:8]}', from '{claim.timestamp}'.",
            service=claim.service, presigned=claim.presigned)
    signed_at = datetime.strptime(claim.timestamp, SIGV4_TIMESTAMP).replace(tzinfo=timezone.utc)
    stamp = now.strftime(SIGV4_TIMESTAMP)
    if claim.presigned:
        expires_at = signed_at + timedelta(seconds=claim.expires or 0)
        if now > expires_at:
            raise AuthenticationFailure(
                PRESIGNED_EXPIRED, f"Signature expired: {expires_at.strftime(SIGV4_TIMESTAMP)} is now earlier than "
                                   f"{stamp}.", service=claim.service, presigned=True)
    elif signed_at < now - MAX_CLOCK_SKEW:
        raise AuthenticationFailure(
            SKEWED, f"Signature expired: {claim.timestamp} is now earlier than "
                    f"{(now - MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)} ({stamp} - 15 min.)", service=claim.service)
    if signed_at > now + MAX_CLOCK_SKEW:
        raise AuthenticationFailure(
            SKEWED, f"Signature not yet current: {claim.timestamp} is still later than "
                    f"{(now + MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)} ({stamp} + 15 min.)",
            service=claim.service, presigned=claim.presigned)


def _check_session(claim: SignatureClaim, credentials: _Credentials, now: datetime) -> None:
    if credentials.session_token is None:
        if claim.security_token:
            raise AuthenticationFailure(INVALID_TOKEN, service=claim.service, presigned=claim.presigned)
        return
    if not claim.security_token:  # a session's key id without its token is a key AWS does not know
        raise AuthenticationFailure(UNKNOWN_KEY, service=claim.service, presigned=claim.presigned,
                                    s3_fields={"AWSAccessKeyId": claim.access_key_id})
    if not hmac.compare_digest(claim.security_token.encode(), credentials.session_token.encode()):
        raise AuthenticationFailure(INVALID_TOKEN, service=claim.service, presigned=claim.presigned)
    if credentials.expiration is not None and now >= credentials.expiration:
        raise AuthenticationFailure(EXPIRED_TOKEN, service=claim.service, presigned=claim.presigned,
                                    s3_fields={"Token-0": claim.security_token})


def verify(request: Request, body: bytes, security: "SecuritySettings", now: datetime | None = None) -> Principal:
    """The principal whose SigV4 signature ``request`` carries; raises ``AuthenticationFailure`` otherwise."""
    now = now or datetime.now(timezone.utc)
    raw_path, raw_query = _raw_path_and_query(request.environ)
    claim = parse_claim(request, raw_query)
    credentials = find_credentials(claim.access_key_id, security)
    if credentials is None:
        raise AuthenticationFailure(UNKNOWN_KEY, service=claim.service, presigned=claim.presigned,
                                    s3_fields={"AWSAccessKeyId": claim.access_key_id})
    _check_session(claim, credentials, now)
    _check_time(claim, now)

    headers = {name: request.headers.get(name, "") for name in claim.signed_headers}
    # Host names are case-insensitive: SDKs sign the lower-case name their URL parser yields.
    headers.update({name: value.lower() for name, value in headers.items() if name.lower() == "host"})
    content_sha256 = request.headers.get("X-Amz-Content-SHA256")
    if content_sha256 is not None:
        headers["X-Amz-Content-SHA256"] = content_sha256
    aws_request = AWSRequest(method=request.method, url=f"http://localhost{raw_path}", headers=headers,
                             data=body, params=claim.query)
    aws_request.context["timestamp"] = claim.timestamp
    signer = _signer(claim, credentials)
    canonical_request = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical_request)
    expected = signer.signature(string_to_sign, aws_request)
    if not hmac.compare_digest(expected.encode(), claim.signature.encode()):
        raise AuthenticationFailure(BAD_SIGNATURE, service=claim.service, presigned=claim.presigned, s3_fields={
            "AWSAccessKeyId": claim.access_key_id, "StringToSign": string_to_sign,
            "SignatureProvided": claim.signature, "CanonicalRequest": canonical_request})
    if content_sha256 is not None:
        _check_payload(claim, content_sha256, body, signer, aws_request)
    return credentials.principal


def _check_payload(claim: SignatureClaim, content_sha256: str, body: bytes, signer: SigV4Auth,
                   aws_request: AWSRequest) -> None:
    if content_sha256 in (UNSIGNED_PAYLOAD, STREAMING_UNSIGNED_PAYLOAD_TRAILER):
        return
    if content_sha256 in (STREAMING_SIGNED_PAYLOAD, STREAMING_SIGNED_PAYLOAD_TRAILER):
        _check_chunks(claim, body, signer, aws_request)
        return
    if not _HEX_SHA256.match(content_sha256):
        raise AuthenticationFailure(INVALID_CONTENT_SHA256, service=claim.service, presigned=claim.presigned)
    if not hmac.compare_digest(content_sha256.lower(), hashlib.sha256(body).hexdigest()):
        raise AuthenticationFailure(CONTENT_SHA256_MISMATCH, service=claim.service, presigned=claim.presigned, s3_fields={
            "ClientComputedContentSHA256": content_sha256,
            "S3ComputedContentSHA256": hashlib.sha256(body).hexdigest()})


def _check_chunks(claim: SignatureClaim, body: bytes, signer: SigV4Auth, aws_request: AWSRequest) -> None:
    """Each ``aws-chunked`` chunk's signature chains from the previous one, starting at the seed signature.

    A trailing checksum after the final chunk (the ``-TRAILER`` variant) is left to the service.
    """
    previous, position, scope = claim.signature, 0, signer.credential_scope(aws_request)
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise AuthenticationFailure(BAD_SIGNATURE, service=claim.service)
        size_text, _, extension = body[position:line_end].decode("latin-1").partition(";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise AuthenticationFailure(BAD_SIGNATURE, service=claim.service) from None
        chunk = body[line_end + 2:line_end + 2 + size]
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", claim.timestamp, scope, previous, EMPTY_SHA256_HASH,
                                    hashlib.sha256(chunk).hexdigest()])
        provided = extension.partition("chunk-signature=")[2].strip()
        if len(chunk) != size or not hmac.compare_digest(signer.signature(string_to_sign, aws_request).encode(),
                                                          provided.encode()):
            raise AuthenticationFailure(BAD_SIGNATURE, service=claim.service, s3_fields={
                "AWSAccessKeyId": claim.access_key_id, "StringToSign": string_to_sign,
                "SignatureProvided": provided})
        if size == 0:
            return
        previous, position = provided, line_end + 2 + size + 2


def _is_cors_preflight(request: Request) -> bool:
    """Browsers send preflights without credentials; AWS answers them unsigned (what to answer is CORS's call)."""
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


class Authentication:
    """Gateway request filter: the verified signer on the request, or AWS's refusal before anything runs."""

    def __init__(self, security: "SecuritySettings") -> None:
        self.security = security

    def __call__(self, aws_request: Any) -> Response | None:
        request: Request = aws_request.request
        if is_health_check(request) or _is_cors_preflight(request):
            return None
        body = request.get_data(cache=True)
        try:
            principal = verify(request, body, self.security)
        except AuthenticationFailure as failure:
            service = (failure.service or aws_request.service
                       or _TARGET_PREFIX_SERVICES.get(request.headers.get("X-Amz-Target", "").split(".")[0]))
            protocol = request_protocol(service, request.path, request.headers,
                                        request.query_string.decode("latin-1"), body)
            log.info("Refused %s %s: %s", request.method, request.path, failure)
            return failure.response(protocol, service)
        aws_request.principal = principal
        request.environ[PRINCIPAL_ENVIRON_KEY] = principal
        return None
