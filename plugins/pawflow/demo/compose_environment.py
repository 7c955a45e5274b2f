"""The Airflow configuration of docker-compose.yaml, read from the file itself and placed on this machine.

``make demo EXECUTOR=celery`` configures Airflow with exactly the ``x-airflow-common`` environment of
docker-compose.yaml: the only changes are the addresses (a compose service name becomes a loopback port, the
image's ``/opt/pawflow`` becomes the checkout), so the two set-ups cannot drift apart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yaml"
IMAGE_CHECKOUT = "/opt/pawflow"

# docker compose's interpolation: $$ is a dollar, ${NAME}, ${NAME:-default} (unset or empty), ${NAME-default} (unset).
_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\})")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Resolve ``${...}`` references the way docker compose does (only the forms this project's file uses)."""

    def resolve(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name, op, default = match["name"], match["op"], match["default"] or ""
        value_of = variables.get(name)
        if op == ":-" and not value_of:
            return default
        if op == "-" and value_of is None:
            return default
        return value_of or ""

    return _VARIABLE.sub(resolve, value)


def compose_services(compose_file: Path = COMPOSE_FILE) -> dict:
    """The file's services with YAML anchors and merge keys resolved (no interpolation)."""
    return yaml.safe_load(compose_file.read_text())["services"]


def service_environment(service: str, variables: Mapping[str, str] | None = None,
                        compose_file: Path = COMPOSE_FILE) -> dict[str, str]:
    """One service's environment as docker compose hands it to the container (values interpolated)."""
    variables = os.environ if variables is None else variables
    environment = compose_services(compose_file)[service].get("environment") or {}
    return {name: interpolate(str(value), variables) for name, value in environment.items()}


def compose_addresses(*, postgres: str, redis: str, api_server_url: str, aws_endpoint_url: str,
                      checkout: Path = REPO) -> dict[str, str]:
    """How each address docker-compose.yaml uses is reached here: compose text -> local text."""
    return {
        "@postgres/": f"@{postgres}/",
        "@redis:6379/": f"@{redis}/",
        "http://airflow-apiserver:8080": api_server_url,
        "http://local-aws:4566": aws_endpoint_url,
        IMAGE_CHECKOUT: str(checkout),
    }


def on_this_machine(environment: Mapping[str, str], addresses: Mapping[str, str]) -> dict[str, str]:
    """The environment with every compose address replaced by its local counterpart, nothing else changed."""
    placed = {}
    for name, value in environment.items():
        for compose_text, local_text in addresses.items():
            value = value.replace(compose_text, local_text)
        placed[name] = value
    return placed
