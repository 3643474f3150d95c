"""One error vocabulary (drawn in linkage/errors.py), checked over every exception class of the project.

Every module of ``linkage/``, ``providers/`` and ``consumers/`` is imported and each exception class it
defines is read: ``code`` is always the stable snake_case string, a ``grpc.StatusCode`` is only ever
called ``status``, and no error has a ``reason`` (the name ``google.rpc.ErrorInfo`` gives the code on
the wire, never a Python attribute).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
import types
import typing
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import grpc
import pytest

from linkage import errors

PACKAGES = ("linkage", "providers", "consumers")
_SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def _modules() -> Iterator[types.ModuleType]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield package
        for found in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not found.name.startswith("linkage.v1") and not found.name.endswith(".__main__"):
                yield importlib.import_module(found.name)


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in _modules():
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and value.__module__.partition(".")[0] in PACKAGES):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


CLASSES = _exception_classes()


def _self_attributes(cls: type) -> set[str]:
    """The names the class's own methods assign on ``self``, and the parameters of its own ``__init__``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return set()
    names = {target.attr for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)
             for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"}
    init = vars(cls).get("__init__")
    if inspect.isfunction(init):
        names |= set(inspect.signature(init).parameters) - {"self"}
    return names


def _is_text(hint: Any) -> bool:
    """str, a Literal of strings, or either inside ClassVar[...] / Optional[...]."""
    origin = typing.get_origin(hint)
    if hint is str:
        return True
    if origin is ClassVar:
        return all(_is_text(arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return all(arg is type(None) or _is_text(arg) for arg in typing.get_args(hint))
    return False


def test_the_walk_finds_the_error_trees() -> None:
    names = set(CLASSES)
    for expected in ("linkage.errors.LinkageError", "linkage.keyset.KeySetError", "linkage.storage.StorageError",
                     "linkage.merkle.errors.MerkleError", "linkage.note.CheckpointError",
                     "linkage.cli.onboarding.AgencyError", "linkage.cli.conformance.errors.ConformanceError",
                     "consumers.auditor.errors.VerificationError", "consumers.auditor.summary.SummaryError",
                     "consumers.counter.errors.CounterError", "consumers.counter.printout.PrintoutError",
                     "consumers.client.errors.PrintoutRejected", "linkage.ports.PortInUse"):
        assert expected in names, f"{expected} not found among {sorted(names)}"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_code_is_the_snake_case_string_and_status_the_grpc_status(name: str) -> None:
    cls = CLASSES[name]
    own = vars(cls)
    hints = typing.get_type_hints(cls)
    assigned = _self_attributes(cls)
    assert "reason" not in set(own) | set(hints) | assigned, (
        f"{name} has a `reason`: the snake_case identifier of an error is `code` (linkage/errors.py)")
    for attr, value in own.items():
        if isinstance(value, grpc.StatusCode):
            assert attr == "status", f"{name}.{attr} is a grpc.StatusCode: call it `status`"
    if "code" in own:
        assert isinstance(own["code"], str) and _SNAKE.fullmatch(own["code"]), (
            f"{name}.code is {own['code']!r}: it must be a snake_case string")
    if "code" in hints:
        assert _is_text(hints["code"]), f"{name}.code is declared {hints['code']!r}: it must be a str"
    init = own.get("__init__")
    if inspect.isfunction(init) and "code" in inspect.signature(init).parameters:
        assert _is_text(typing.get_type_hints(init)["code"]), f"{name}.__init__ takes a `code` that is no str"
    if issubclass(cls, errors.LinkageError):
        assert isinstance(cls.status, grpc.StatusCode), f"{name}.status is {cls.status!r}"


def test_a_linkage_error_carries_its_code_and_its_status_apart() -> None:
    err = errors.NotFound("record_not_found", "ไม่พบข้อมูล / no record")
    assert err.code == "record_not_found" and err.status == grpc.StatusCode.NOT_FOUND
    problem = errors.to_problem(err)
    assert problem.reason == "record_not_found" and problem.grpc_code == grpc.StatusCode.NOT_FOUND.value[0]
    back = errors.from_problem(problem)
    assert type(back) is errors.NotFound and back.code == err.code and back.status == err.status


def test_one_port_in_use() -> None:
    assert [n for n, cls in CLASSES.items() if cls.__name__.lower().replace("_", "").endswith("inuse")] == [
        "linkage.ports.PortInUse"]
