"""The moto seam holds: no module of local_aws but ``moto_seam`` imports moto or reaches a moto private.

What the check covers, by parsing every module under ``local_aws/`` (``ast``, no execution) except the seam:

* imports: ``import moto...``, ``from moto... import``, and ``import_module("moto...")`` calls;
* private names of the seam itself: ``from local_aws.moto_seam import _x``, ``moto_seam._x``;
* private attributes of moto objects: ``value._x`` where ``value`` comes from the seam, that is a name imported
  from ``local_aws.moto_seam``, ``moto_seam.<name>``, a call, attribute or item of one, or a variable assigned
  (or looped over) from one anywhere in the module (``storage = state.pop(...)`` does not count; a
  ``logs = moto_seam.logs_backend(...)`` does);
* private members of moto classes used from subclasses: in a class deriving from a seam name (directly or
  through a class of the same module), ``self._x`` / ``cls._x`` / ``super()._x`` and methods named ``_x`` where
  ``_x`` is a class attribute of a moto class in its MRO or an attribute moto's ``__init__``s assign on ``self``
  (read from moto's source), e.g. ``LambdaBackend._lambdas`` or ``BaseResponse._get_param``.

Not covered: private attributes of moto objects passed in as arguments under names never bound from the seam
(a function parameter ``backend``), or reached through ``getattr`` with a computed name.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LOCAL_AWS = Path(__file__).resolve().parents[2] / "local_aws"
SEAM = LOCAL_AWS / "moto_seam.py"
SEAM_MODULE = "local_aws.moto_seam"


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_moto_module(name: str | None) -> bool:
    return name is not None and (name == "moto" or name.startswith("moto."))


def _moto_private_members(moto_class: type) -> set[str]:
    """Private class attributes of the moto classes in ``moto_class``'s MRO and private attributes their
    ``__init__`` assigns on ``self``."""
    names: set[str] = set()
    for klass in moto_class.__mro__:
        if not _is_moto_module(klass.__module__):
            continue
        names.update(name for name in vars(klass) if _is_private(name))
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
        except (OSError, TypeError):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name) and node.value.id == "self" and _is_private(node.attr)):
                names.add(node.attr)
    return names


class _ModuleCheck:
    """The seam rules applied to one module's syntax tree."""

    def __init__(self, module: str, tree: ast.Module, resolve_class: Any) -> None:
        self.module = module
        self.tree = tree
        self.resolve_class = resolve_class  # (module, class name) -> the class, for its MRO
        self.violations: list[Violation] = []
        self.seam_modules: set[str] = set()   # names bound to the seam module
        self.seam_values: set[str] = set()    # names bound to things the seam hands out

    def flag(self, node: ast.AST, what: str) -> None:
        self.violations.append(Violation(self.module, getattr(node, "lineno", 0), what))

    def run(self) -> list[Violation]:
        self.check_imports()
        self.collect_seam_values()
        self.check_private_attributes()
        self.check_subclasses()
        return sorted(set(self.violations), key=lambda v: (v.line, v.what))

    # -- imports ------------------------------------------------------------------------------------------------
    def check_imports(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _is_moto_module(alias.name):
                        self.flag(node, f"imports {alias.name}")
                    elif alias.name == SEAM_MODULE:
                        self.seam_modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                if _is_moto_module(node.module):
                    self.flag(node, f"imports from {node.module}")
                elif node.module == "local_aws":
                    self.seam_modules.update(alias.asname or alias.name for alias in node.names
                                             if alias.name == "moto_seam")
                elif node.module == SEAM_MODULE:
                    for alias in node.names:
                        if _is_private(alias.name):
                            self.flag(node, f"imports the seam's private {alias.name}")
                        self.seam_values.add(alias.asname or alias.name)
            elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                  and isinstance(node.args[0].value, str) and _is_moto_module(node.args[0].value)
                  and _called_name(node) in ("import_module", "__import__")):
                self.flag(node, f"imports {node.args[0].value}")

    # -- values from the seam -----------------------------------------------------------------------------------
    def from_seam(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.seam_values
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in self.seam_modules:
                return True
            return self.from_seam(node.value)
        if isinstance(node, (ast.Call, ast.Subscript)):
            return self.from_seam(node.func if isinstance(node, ast.Call) else node.value)
        return False

    def collect_seam_values(self) -> None:
        """Variables assigned or looped over from seam values, until no more are found."""
        while True:
            before = len(self.seam_values)
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign) and self.from_seam(node.value):
                    for target in node.targets:
                        self.seam_values.update(_bound_names(target))
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None \
                        and self.from_seam(node.value):
                    self.seam_values.update(_bound_names(node.target))
                elif isinstance(node, (ast.For, ast.comprehension)) and self.from_seam(_unwrapped(node.iter)):
                    self.seam_values.update(_bound_names(node.target))
            if len(self.seam_values) == before:
                return

    def check_private_attributes(self) -> None:
        for node in ast.walk(self.tree):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in self.seam_modules:
                self.flag(node, f"uses the seam's private {node.attr}")
            elif self.from_seam(node.value):
                self.flag(node, f"reaches {node.attr} of a moto object ({ast.unparse(node)})")

    # -- subclasses of moto classes -----------------------------------------------------------------------------
    def check_subclasses(self) -> None:
        classes = [node for node in self.tree.body if isinstance(node, ast.ClassDef)]
        derived: set[str] = set()
        while True:
            before = len(derived)
            for node in classes:
                if any(self.from_seam(base) or (isinstance(base, ast.Name) and base.id in derived)
                       for base in node.bases):
                    derived.add(node.name)
            if len(derived) == before:
                break
        for node in classes:
            if node.name in derived:
                self.check_subclass(node, _moto_private_members(self.resolve_class(self.module, node.name)))

    def check_subclass(self, node: ast.ClassDef, moto_privates: set[str]) -> None:
        for child in ast.walk(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name in moto_privates:
                self.flag(child, f"{node.name} overrides moto's private {child.name}")
            elif (isinstance(child, ast.Attribute) and child.attr in moto_privates
                  and _is_own_reference(child.value)):
                self.flag(child, f"{node.name} uses moto's private {child.attr} ({ast.unparse(child)})")


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _unwrapped(node: ast.AST) -> ast.AST:
    """``list(x)``, ``sorted(x)``, ``x.values()``/``items()``: the iterable ``x`` they walk."""
    while isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in ("list", "sorted", "tuple", "enumerate") and node.args:
            node = node.args[0]
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("values", "items", "keys"):
            node = node.func.value
        else:
            break
    return node


def _bound_names(target: ast.AST) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_bound_names(element) for element in target.elts))
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return set()


def _is_own_reference(node: ast.AST) -> bool:
    """``self``, ``cls`` or ``super()``."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _module_name(path: Path) -> str:
    parts = path.relative_to(LOCAL_AWS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve_class(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)


def check_source(module: str, source: str, resolve_class: Any = _resolve_class) -> list[Violation]:
    """The seam violations of one module's source."""
    return _ModuleCheck(module, ast.parse(source), resolve_class).run()


def local_aws_violations() -> list[Violation]:
    violations: list[Violation] = []
    for path in sorted(LOCAL_AWS.rglob("*.py")):
        if path != SEAM:
            violations.extend(check_source(_module_name(path), path.read_text()))
    return violations


# -- the codebase ------------------------------------------------------------------------------------------------
def test_no_module_but_the_seam_imports_moto_or_reaches_a_moto_private() -> None:
    violations = local_aws_violations()
    assert not violations, "moto internals outside local_aws/moto_seam.py:\n" + "\n".join(map(str, violations))


def test_the_check_reads_every_local_aws_module() -> None:
    modules = {_module_name(path) for path in LOCAL_AWS.rglob("*.py") if path != SEAM}
    assert {"local_aws.awslambda.models", "local_aws.sagemaker.tuning", "local_aws.iam.identities"} <= modules


# -- the check itself: each rule catches what it names -----------------------------------------------------------
def _whats(source: str, resolve_class: Any = _resolve_class) -> list[str]:
    return [violation.what for violation in check_source("example", textwrap.dedent(source), resolve_class)]


@pytest.mark.parametrize("source, what", [
    ("import moto.sagemaker.models\n", "imports moto.sagemaker.models"),
    ("import moto\n", "imports moto"),
    ("from moto.awslambda.models import LambdaStorage\n", "imports from moto.awslambda.models"),
    ("import importlib\nimportlib.import_module('moto.s3.models')\n", "imports moto.s3.models"),
])
def test_an_import_of_moto_is_a_violation(source: str, what: str) -> None:
    assert _whats(source) == [what]


def test_a_private_of_the_seam_is_a_violation() -> None:
    assert _whats("from local_aws.moto_seam import _call_parts\n") == ["imports the seam's private _call_parts"]
    assert _whats("from local_aws import moto_seam\nmoto_seam._s3_query(None)\n") == [
        "uses the seam's private _s3_query"]


def test_a_private_attribute_of_a_backend_from_the_seam_is_a_violation() -> None:
    source = """
        from local_aws import moto_seam

        def container(region, name):
            backend = moto_seam.sagemaker_backend(region)
            return backend._models[name]
    """
    assert _whats(source) == ["reaches _models of a moto object (backend._models)"]


def test_a_private_attribute_reached_through_a_loop_over_seam_values_is_a_violation() -> None:
    source = """
        from local_aws.moto_seam import lambda_backends

        for _, _, backend in list(lambda_backends.iter_backends()):
            print(backend._lambdas._functions)
    """
    assert _whats(source) == ["reaches _functions of a moto object (backend._lambdas._functions)",
                              "reaches _lambdas of a moto object (backend._lambdas)"]


def test_a_public_attribute_of_a_seam_value_is_not_a_violation() -> None:
    source = """
        from local_aws import moto_seam

        backend = moto_seam.sagemaker_backend("us-east-1")
        print(backend.training_jobs, moto_seam.ACCOUNT_ID)
    """
    assert _whats(source) == []


class _MotoBase:
    def __init__(self) -> None:
        self._storage: dict[str, Any] = {}

    def _get_param(self, name: str) -> Any:
        return name


_MotoBase.__module__ = "moto.example.models"


def test_a_subclass_using_or_overriding_a_moto_private_is_a_violation() -> None:
    source = """
        from local_aws.moto_seam import ExampleBackend

        class Local(ExampleBackend):
            def _get_param(self, name):
                return self._storage[name]
    """
    local = type("Local", (_MotoBase,), {})
    assert _whats(source, lambda module, name: local) == [
        "Local overrides moto's private _get_param",
        "Local uses moto's private _storage (self._storage)",
    ]


def test_a_subclass_using_its_own_privates_is_not_a_violation() -> None:
    source = """
        from local_aws.moto_seam import ExampleBackend

        class Local(ExampleBackend):
            def _own(self):
                self._cache = {}
                return self._cache
    """
    local = type("Local", (_MotoBase,), {})
    assert _whats(source, lambda module, name: local) == []
