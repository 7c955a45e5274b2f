"""The environment a child process starts with: what AWS's container would hold, and nothing of the runtime's own.

Training hosts, serving workers and Lambda workers get, in this order (later layers win):

1. a fixed base: ``PATH`` (the runtime interpreter's bin dir, then the system dirs), ``LANG``/``LC_ALL``
   ``C.UTF-8``, and a ``HOME`` and ``TMPDIR`` of the child's own (created, mode 0700; a ``TMPDIR`` too deep for a
   Unix socket is reached through a short symlink, ``socket_safe_tmpdir``);
2. the runtime's own variables the operator named with ``--pass-env`` (``SecuritySettings.pass_env``), and no
   other: the host's AWS keys, tokens and other secrets in the runtime's environment never reach a child;
3. what the service sets: ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` (the runtime), the execution
   role's temporary STS credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``), no
   shared config or credentials files, and the service's own variables (``TRAINING_JOB_NAME``, ``SAGEMAKER_*``,
   ``AWS_LAMBDA_*``, ``PYTHONPATH`` ...);
4. the variables the user declared for the resource (CreateTrainingJob ``Environment``, the model container's
   ``Environment``, the function's ``Environment.Variables``), as AWS applies them.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from local_aws.iam.role_sessions import Credentials

#: Longest ``TMPDIR`` a child gets as it is. Python's multiprocessing binds AF_UNIX sockets at
#: ``$TMPDIR/pymp-XXXXXXXX/listener-XXXXXXXX`` (32 more bytes; a PyTorch DataLoader worker does so to hand a batch
#: over) and Linux refuses socket paths over 107 bytes, so a deep state dir would make such a child lose its data.
MAX_TMPDIR_LENGTH = 64
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
LOCALE = "C.UTF-8"


def search_path() -> str:
    """``PATH`` of every child: the runtime interpreter's bin dir (its venv's tools), then the system dirs."""
    interpreter_bin = str(Path(sys.executable).parent)
    return os.pathsep.join(dict.fromkeys((interpreter_bin, *SYSTEM_PATH)))


def private_dir(path: Path) -> str:
    """Create ``path`` (and parents) readable by this user only; return it as text."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return str(path)


def _alias_base() -> str:
    """Where ``socket_safe_tmpdir`` puts its links: ``/tmp`` (short on every system), else the temp dir."""
    return "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()


def _alias_prefix() -> str:
    return f"local_aws-{os.getuid()}-"


def socket_safe_tmpdir(path: Path) -> str:
    """``path`` as a ``TMPDIR`` under ``MAX_TMPDIR_LENGTH``: itself when short enough, else a symlink to it in the
    system's temp dir, named after the path and this user (``/tmp/local_aws-<uid>-<digest>``), made once and
    checked on every use (ours, pointing at ``path``); a name somebody else holds is never used."""
    text = str(path)
    if len(text) <= MAX_TMPDIR_LENGTH:
        return text
    base = _alias_base()
    alias = os.path.join(base, f"{_alias_prefix()}{hashlib.sha256(text.encode()).hexdigest()[:16]}")
    try:
        os.symlink(text, alias)
    except FileExistsError:
        pass
    details = os.lstat(alias)
    if stat.S_ISLNK(details.st_mode) and details.st_uid == os.getuid() and os.readlink(alias) == text:
        return alias
    # Somebody else's entry under that name: a private folder of our own holds the link instead.
    alias = os.path.join(tempfile.mkdtemp(prefix="local_aws-", dir=base), "t")
    os.symlink(text, alias)
    return alias


def remove_dangling_aliases() -> int:
    """Remove this user's ``socket_safe_tmpdir`` links whose folder is gone (jobs, environments deleted since);
    returns how many. A link another runtime still uses points at a folder that exists, so it is kept."""
    base, prefix = _alias_base(), _alias_prefix()
    removed = 0
    try:
        names = os.listdir(base)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(prefix):
            continue
        alias = os.path.join(base, name)
        try:
            details = os.lstat(alias)
            if stat.S_ISLNK(details.st_mode) and details.st_uid == os.getuid() and not os.path.exists(alias):
                os.unlink(alias)
                removed += 1
        except OSError:  # gone meanwhile, or not ours to remove
            continue
    return removed


def child_environment(*, home: Path, tmpdir: Path, region: str, endpoint_url: str, credentials: Credentials,
                      service: Mapping[str, str], declared: Mapping[str, str] | None = None,
                      pass_env: Sequence[str] = (), source: Mapping[str, str] | None = None) -> dict[str, str]:
    """Build a child's whole environment (see the module docstring for the layers).

    :param home: the child's ``HOME`` (created).
    :param tmpdir: the child's ``TMPDIR`` (created; may be shared by children that share a temp dir on AWS).
    :param region: the region the resource lives in.
    :param endpoint_url: the runtime's URL, the child's AWS endpoint (omitted when empty).
    :param credentials: the execution role's temporary credentials.
    :param service: the service's own variables.
    :param declared: the variables the user declared for the resource.
    :param pass_env: names of the runtime's variables to hand over (``--pass-env``).
    :param source: the runtime's environment (``os.environ`` when None).
    """
    source = os.environ if source is None else source
    env = {
        "PATH": search_path(),
        "LANG": LOCALE,
        "LC_ALL": LOCALE,
        "HOME": private_dir(home),
        "TMPDIR": socket_safe_tmpdir(Path(private_dir(tmpdir))),
    }
    env.update({name: source[name] for name in pass_env if name in source})
    env.update({
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **credentials.as_environment(),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    env.update(service)
    env.update({str(key): str(value) for key, value in (declared or {}).items()})
    return env
