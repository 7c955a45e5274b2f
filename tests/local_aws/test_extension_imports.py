"""Service modules see the server only through ``local_aws.extension``: none of them imports ``local_aws.server``.

Parsed with ``ast`` (no execution), so imports under ``if TYPE_CHECKING:`` count too: the server imports the
services' extensions, and a service importing the server back, even for a type, is the cycle this rules out.
"""

from __future__ import annotations

import ast
from pathlib import Path

LOCAL_AWS = Path(__file__).resolve().parents[2] / "local_aws"
# The server itself and the command line that starts it.
SERVER_SIDE = {LOCAL_AWS / "server.py", LOCAL_AWS / "__main__.py"}


def server_imports(path: Path) -> list[int]:
    """The lines of ``path`` that import ``local_aws.server``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(alias.name == "local_aws.server" for alias in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (
                node.module == "local_aws.server"
                or (node.module == "local_aws" and any(alias.name == "server" for alias in node.names))):
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_server_side_imports_the_server():
    offenders = [f"{path.relative_to(LOCAL_AWS.parent)}:{line}"
                 for path in sorted(LOCAL_AWS.rglob("*.py")) if path not in SERVER_SIDE
                 for line in server_imports(path)]
    assert offenders == []


def test_the_check_finds_an_import_of_the_server_under_type_checking(tmp_path):
    module = tmp_path / "extension.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from local_aws.server import LocalAWSServer\n")
    assert server_imports(module) == [3]
