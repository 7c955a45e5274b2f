"""S3's IAM actions: a request's method, level (bucket or object) and sub-resource name its action.

S3 operation names are not IAM action names (ListObjectsV2 is ``s3:ListBucket``, DeleteBucketTagging is
``s3:PutBucketTagging``...), so this is an explicit table, in the shape of S3's REST API (``GET /{Bucket}?tagging``).
A request naming two sub-resources (``?tagging&acl``) is ambiguous (AWS answers one of them, moto maybe another)
and a sub-resource the table does not know is unmapped: both are denied to runtime-issued credentials. Bucket and
key are the ones moto resolved from the request (path- or virtual-host style).
"""

from __future__ import annotations

from urllib.parse import unquote

from local_aws.iam.action_catalog import PARTITION, Authorization, OperationCall, RecordLookup, UnmappedOperation

BUCKET, OBJECT = "bucket", "object"

# (level, method) -> {sub-resource ("" when none): IAM action name}
S3_ACTIONS: dict[tuple[str, str], dict[str, str]] = {
    (BUCKET, "GET"): {
        "": "ListBucket", "versions": "ListBucketVersions", "uploads": "ListBucketMultipartUploads",
        "location": "GetBucketLocation", "policy": "GetBucketPolicy", "policyStatus": "GetBucketPolicyStatus",
        "tagging": "GetBucketTagging", "versioning": "GetBucketVersioning", "acl": "GetBucketAcl",
        "cors": "GetBucketCORS", "lifecycle": "GetLifecycleConfiguration", "website": "GetBucketWebsite",
        "logging": "GetBucketLogging", "notification": "GetBucketNotification",
        "encryption": "GetEncryptionConfiguration", "object-lock": "GetBucketObjectLockConfiguration",
        "ownershipControls": "GetBucketOwnershipControls", "publicAccessBlock": "GetBucketPublicAccessBlock",
        "accelerate": "GetAccelerateConfiguration", "replication": "GetReplicationConfiguration",
        "requestPayment": "GetBucketRequestPayment", "inventory": "GetInventoryConfiguration",
        "analytics": "GetAnalyticsConfiguration", "metrics": "GetMetricsConfiguration",
        "intelligent-tiering": "GetIntelligentTieringConfiguration",
    },
    (BUCKET, "HEAD"): {"": "ListBucket"},
    (BUCKET, "PUT"): {
        "": "CreateBucket", "policy": "PutBucketPolicy", "tagging": "PutBucketTagging",
        "versioning": "PutBucketVersioning", "acl": "PutBucketAcl", "cors": "PutBucketCORS",
        "lifecycle": "PutLifecycleConfiguration", "website": "PutBucketWebsite", "logging": "PutBucketLogging",
        "notification": "PutBucketNotification", "encryption": "PutEncryptionConfiguration",
        "object-lock": "PutBucketObjectLockConfiguration", "ownershipControls": "PutBucketOwnershipControls",
        "publicAccessBlock": "PutBucketPublicAccessBlock", "accelerate": "PutAccelerateConfiguration",
        "replication": "PutReplicationConfiguration", "requestPayment": "PutBucketRequestPayment",
        "inventory": "PutInventoryConfiguration", "analytics": "PutAnalyticsConfiguration",
        "metrics": "PutMetricsConfiguration", "intelligent-tiering": "PutIntelligentTieringConfiguration",
    },
    (BUCKET, "DELETE"): {
        "": "DeleteBucket", "policy": "DeleteBucketPolicy", "tagging": "PutBucketTagging", "cors": "PutBucketCORS",
        "lifecycle": "PutLifecycleConfiguration", "website": "DeleteBucketWebsite",
        "encryption": "PutEncryptionConfiguration", "ownershipControls": "PutBucketOwnershipControls",
        "publicAccessBlock": "PutBucketPublicAccessBlock", "replication": "PutReplicationConfiguration",
        "inventory": "PutInventoryConfiguration", "analytics": "PutAnalyticsConfiguration",
        "metrics": "PutMetricsConfiguration", "intelligent-tiering": "PutIntelligentTieringConfiguration",
    },
    (BUCKET, "POST"): {"delete": "DeleteObject", "": "PutObject"},
    (OBJECT, "GET"): {
        "": "GetObject", "uploadId": "ListMultipartUploadParts", "acl": "GetObjectAcl", "tagging": "GetObjectTagging",
        "retention": "GetObjectRetention", "legal-hold": "GetObjectLegalHold", "attributes": "GetObjectAttributes",
        "torrent": "GetObjectTorrent",
    },
    (OBJECT, "HEAD"): {"": "GetObject"},
    (OBJECT, "PUT"): {
        "": "PutObject", "uploadId": "PutObject", "acl": "PutObjectAcl", "tagging": "PutObjectTagging",
        "retention": "PutObjectRetention", "legal-hold": "PutObjectLegalHold",
    },
    (OBJECT, "DELETE"): {"": "DeleteObject", "uploadId": "AbortMultipartUpload", "tagging": "DeleteObjectTagging"},
    (OBJECT, "POST"): {"uploads": "PutObject", "uploadId": "PutObject", "restore": "RestoreObject",
                       "select": "GetObject"},
}

# Query parameters that pick an operation in S3's REST API (every key of the table, plus ones it lacks).
SUB_RESOURCES = frozenset(name for table in S3_ACTIONS.values() for name in table if name) | frozenset(
    {"session", "renameObject", "metadataTable", "metadataConfiguration", "abac", "partNumber"})
# ``partNumber`` picks UploadPart only together with ``uploadId`` (and a part of GetObject otherwise).
_MODIFIERS = {("PUT", "partNumber"), ("GET", "partNumber"), ("HEAD", "partNumber")}

# With ``versionId``, object actions act on a version and have their own names.
_VERSIONED = {"GetObject": "GetObjectVersion", "GetObjectAcl": "GetObjectVersionAcl",
              "GetObjectTagging": "GetObjectVersionTagging", "PutObjectAcl": "PutObjectVersionAcl",
              "PutObjectTagging": "PutObjectVersionTagging", "DeleteObject": "DeleteObjectVersion",
              "DeleteObjectTagging": "DeleteObjectVersionTagging"}


def s3_action(method: str, level: str, query: frozenset[str]) -> str:
    """The IAM action (``s3:...``) of a request; UnmappedOperation when ambiguous or unknown."""
    method = method.upper()
    table = S3_ACTIONS.get((level, method))
    if table is None:
        raise UnmappedOperation("s3", f"{method} {level}", "no S3 operation for this method")
    selectors = sorted(name for name in query if name in SUB_RESOURCES and (method, name) not in _MODIFIERS)
    if len(selectors) > 1:
        raise UnmappedOperation("s3", f"{method} {level}?{'&'.join(selectors)}",
                                "the request names more than one sub-resource")
    selector = selectors[0] if selectors else ""
    if selector not in table:
        raise UnmappedOperation("s3", f"{method} {level}?{selector}", "unknown sub-resource")
    action = table[selector]
    if "versionId" in query and level == OBJECT:
        action = _VERSIONED.get(action, action)
    return f"s3:{action}"


def s3_authorizations(call: OperationCall, lookup: RecordLookup) -> list[Authorization]:
    """The S3 request's action on its bucket or object, the copy source's read, one delete per key deleted."""
    if not call.bucket:
        return [Authorization("s3:ListAllMyBuckets", "*")]
    bucket_arn = f"arn:{PARTITION}:s3:::{call.bucket}"
    level = OBJECT if call.key else BUCKET
    action = s3_action(call.method, level, call.query)
    if level == BUCKET and action == "s3:DeleteObject":
        keys = call.params.get("DeletedKeys") or []
        return [Authorization(action, f"{bucket_arn}/{key}", kind="deleted key") for key in keys] or [
            Authorization(action, f"{bucket_arn}/*", kind="deleted key")]
    if level == BUCKET and action == "s3:PutObject":  # browser-form upload: the key is a form field
        key = call.params.get("FormKey")
        return [Authorization(action, f"{bucket_arn}/{key}" if key else f"{bucket_arn}/*")]
    resource = f"{bucket_arn}/{call.key}" if call.key else bucket_arn
    found = [Authorization(action, resource)]
    source = _header(call.headers, "x-amz-copy-source")
    if source and call.method.upper() == "PUT" and call.key:
        source_path = unquote(source.split("?", 1)[0]).lstrip("/")
        read = "s3:GetObjectVersion" if "versionId=" in source else "s3:GetObject"
        found.append(Authorization(read, f"arn:{PARTITION}:s3:::{source_path}", kind="copy source"))
    return found


def _header(headers, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    return getter(name) or getter(name.title())
