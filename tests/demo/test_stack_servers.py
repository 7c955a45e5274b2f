"""The Celery stack's PostgreSQL and Redis: started from Debian's binaries on loopback ports, gone after stop."""

from __future__ import annotations

import os
import shutil

import psutil
import pytest

from pawflow.demo.celery_stack import free_port
from pawflow.demo.postgres_server import PostgresServer, postgres_bin_dir
from pawflow.demo.processes import DemoServices
from pawflow.demo.redis_server import start_redis


def _postgres_missing() -> bool:
    try:
        postgres_bin_dir()
        return False
    except RuntimeError:
        return True


needs_postgres = pytest.mark.skipif(_postgres_missing(), reason="PostgreSQL's server binaries are not installed")
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


@needs_postgres
def test_postgres_serves_the_compose_database_to_its_owner_only(tmp_path):
    import psycopg2

    with DemoServices(tmp_path, grace_seconds=5) as services:
        server = PostgresServer(tmp_path / "postgres", free_port())
        server.start(services, tmp_path / "logs")
        with psycopg2.connect(host="127.0.0.1", port=server.port, user="airflow", password="airflow",
                              dbname="airflow") as connection, connection.cursor() as cursor:
            cursor.execute("SELECT current_database(), current_user")
            assert cursor.fetchone() == ("airflow", "airflow")
        with pytest.raises(psycopg2.OperationalError, match='password authentication failed for user "airflow"'):
            psycopg2.connect(host="127.0.0.1", port=server.port, user="airflow", password="wrong", dbname="airflow")


@needs_postgres
def test_postgres_runs_unprivileged_and_leaves_nothing_after_stop(tmp_path):
    with DemoServices(tmp_path, grace_seconds=5) as services:
        server = PostgresServer(tmp_path / "postgres", free_port())
        server.start(services, tmp_path / "logs")
        process = psutil.Process(services.processes[-1].popen.pid)
        family = [process, *process.children(recursive=True)]
        cluster = server.cluster_folder
        assert process.uids().real != 0
        assert (cluster / "data" / "PG_VERSION").exists()
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    if os.geteuid() == 0:
        assert not cluster.exists()


@needs_redis
def test_redis_answers_on_its_port_until_stopped(tmp_path):
    import redis

    port = free_port()
    with DemoServices(tmp_path, grace_seconds=5) as services:
        assert start_redis(services, port=port, folder=tmp_path / "redis", log_dir=tmp_path) == f"127.0.0.1:{port}"
        client = redis.Redis(host="127.0.0.1", port=port)
        client.set("broker", "up")
        assert client.get("broker") == b"up"
        client.close()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2).ping()
