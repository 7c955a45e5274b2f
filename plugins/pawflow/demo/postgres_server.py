"""PostgreSQL as a service process: a fresh cluster in a scratch folder, listening on one loopback port.

Debian's server binaries (``initdb``, ``postgres``) are used directly, no system service. PostgreSQL refuses to
run as root, so when the current user is root the cluster belongs to an unprivileged account (``postgres`` where
Debian's package made it, ``nobody`` otherwise) and lives in a private folder that account owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pawflow.demo.processes import ManagedProcess, DemoServices, wait_until

INSTALL_HINT = ("PostgreSQL's server binaries (initdb, postgres) were not found: install Debian's `postgresql` "
                "package (`make demo EXECUTOR=celery` does it when run as root)")
UNPRIVILEGED_ACCOUNTS = ("postgres", "nobody")


def postgres_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``postgres``: the one on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    candidates = [Path(os.path.realpath(on_path)).parent] if on_path else []
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    raise RuntimeError(INSTALL_HINT)


def server_account() -> str | None:
    """The account the server runs as: None (the current user) unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_ACCOUNTS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError(f"running as root and none of the accounts {', '.join(UNPRIVILEGED_ACCOUNTS)} exists: "
                       "PostgreSQL needs an unprivileged account to run as")


class PostgresServer:
    """A throw-away PostgreSQL cluster with one database and one password-authenticated owner.

    :param folder: scratch folder for the cluster (a private temporary folder instead when run as root).
    :param port: TCP port on 127.0.0.1.
    :param user: the database owner (docker-compose.yaml's ``POSTGRES_USER``).
    :param password: its password (``POSTGRES_PASSWORD``).
    :param database: the database created for it (``POSTGRES_DB``).
    """

    def __init__(self, folder: Path, port: int, *, user: str = "airflow", password: str = "airflow",
                 database: str = "airflow"):
        self.folder = folder
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.account = server_account()
        self._private_folder: Path | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def cluster_folder(self) -> Path:
        """Where the cluster lives while it runs: ``folder``, or the private folder when run as root."""
        return self._private_folder or self.folder

    def _make_cluster_folder(self) -> Path:
        if self.account is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            return self.folder
        # The demo's output folder may sit below folders the unprivileged account cannot enter.
        self._private_folder = Path(tempfile.mkdtemp(prefix="pawflow-postgres-"))
        account = pwd.getpwnam(self.account)
        os.chown(self._private_folder, account.pw_uid, account.pw_gid)
        return self._private_folder

    def _as_account(self) -> dict:
        if self.account is None:
            return {}
        account = pwd.getpwnam(self.account)
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def start(self, services: DemoServices, log_dir: Path, timeout: float = 60) -> str:
        """Create the cluster, start the server, create the database; return the server's ``host:port``."""
        binaries = postgres_bin_dir()
        cluster = self._make_cluster_folder()
        data, sockets, password_file = cluster / "data", cluster / "sockets", cluster / "password"
        password_file.write_text(self.password + "\n")
        sockets.mkdir()
        if self.account is not None:
            account = pwd.getpwnam(self.account)
            for path in (password_file, sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        initdb = subprocess.run(
            [str(binaries / "initdb"), "-D", str(data), "-U", self.user, f"--pwfile={password_file}",
             "--auth=scram-sha-256", "-E", "UTF8", "--no-instructions"],
            env=env, cwd=cluster, capture_output=True, text=True, check=False, **self._as_account())
        password_file.unlink()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}): {initdb.stderr.strip()[-1500:]}")
        services.start(ManagedProcess(
            "postgres", [str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
                         "-k", str(sockets), "-c", "fsync=off", "-c", "max_connections=200"],
            env=env, log_dir=log_dir, cwd=cluster, user=self.account, stop_signal=signal.SIGINT,
            after_stop=self._remove_private_folder))
        wait_until(self._accepts_owner, timeout=timeout, what=f"PostgreSQL on 127.0.0.1:{self.port}",
                   services=services)
        self._create_database()
        return self.address

    def _connect(self, database: str):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                                dbname=database, connect_timeout=5)

    def _accepts_owner(self) -> bool:
        import psycopg2

        try:
            self._connect("postgres").close()
            return True
        except psycopg2.OperationalError:
            return False

    def _create_database(self) -> None:
        connection = self._connect("postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}" OWNER "{self.user}"')
        finally:
            connection.close()

    def _remove_private_folder(self) -> None:
        """Delete the private cluster folder used when running as root, once the server has stopped."""
        if self._private_folder is not None:
            shutil.rmtree(self._private_folder, ignore_errors=True)
            self._private_folder = None
