"""The host name an Airflow service reports: ``$HOSTNAME`` when set, as each docker-compose container's is.

Airflow records the reporting host of every task instance and job (``[core] hostname_callable``). In
docker-compose every service is its own container with its own host name; the local Celery stack runs them all
on one machine and gives each process its service's name in ``HOSTNAME``, so task instances still say which
worker ran them.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """``$HOSTNAME``, or the machine's fully qualified name (Airflow's default) when it is unset."""
    return os.environ.get("HOSTNAME") or socket.getfqdn()
