"""One error vocabulary (drawn in linkage/errors.py), checked over every exception class of the project.

Every module of ``linkage/``, ``providers/`` and ``consumers/`` is imported and each exception class it
defines is read: ``code`` is always the stable snake_case string, a ``grpc.StatusCode`` is only ever
called ``status``, and no error has a ``reason`` (the name ``google.rpc.ErrorInfo`` gives the code on
the wire, never a Python attribute). ``linkage.errors.error_info`` is the one reader of ErrorInfo, and
a LinkageError comes back whole through a real gRPC server.
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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from linkage import errors

ROOT = Path(__file__).resolve().parents[1]

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
    err = errors.NotFound("record_not_found", "ไม่พบข้อมูล", "no record", field="subject_id", provider="dopa")
    assert err.code == "record_not_found" and err.status == grpc.StatusCode.NOT_FOUND
    problem = errors.to_problem(err)
    assert problem.reason == "record_not_found" and problem.grpc_code == grpc.StatusCode.NOT_FOUND.value[0]
    back = errors.from_problem(problem)
    assert type(back) is errors.NotFound and back.code == err.code and back.status == err.status
    assert (back.message_th, back.message_en, back.field, back.provider) == ("ไม่พบข้อมูล", "no record", "subject_id",
                                                                            "dopa")


def test_thai_and_english_are_two_fields_and_the_message_only_joins_them() -> None:
    err = errors.InvalidRequest("purpose_missing", "ต้องระบุวัตถุประสงค์", "purpose is required", field="purpose")
    assert (err.message_th, err.message_en, err.field) == ("ต้องระบุวัตถุประสงค์", "purpose is required", "purpose")
    assert err.message == str(err) == "purpose: ต้องระบุวัตถุประสงค์ / purpose is required"
    assert errors.HubFault("x", "", "only English").message == "only English"
    problem = errors.to_problem(err)
    assert (problem.message_th, problem.message_en, problem.field, problem.message) == (
        err.message_th, err.message_en, err.field, err.message)


def test_a_problem_from_an_older_hub_keeps_its_one_message_whole() -> None:
    old = errors.to_problem(errors.NotFound("record_not_found", "ไม่พบ", "none"))
    old.ClearField("message_th")
    old.ClearField("message_en")
    back = errors.from_problem(old)
    assert (back.message_th, back.message_en, back.message) == ("", "ไม่พบ / none", "ไม่พบ / none")


def test_no_message_is_split_apart() -> None:
    splits = sorted(f"{path.relative_to(ROOT)}" for folder in ("linkage", "providers", "consumers")
                    for path in (ROOT / folder).rglob("*.py")
                    if re.search(r"""(split|partition)\(\s*["'] / ["']""", path.read_text(encoding="utf-8")))
    assert not splits, f"carry message_th and message_en as two fields instead of splitting one: {splits}"


def test_one_port_in_use() -> None:
    assert [n for n, cls in CLASSES.items() if cls.__name__.lower().replace("_", "").endswith("inuse")] == [
        "linkage.ports.PortInUse"]


# -- one reader of ErrorInfo -------------------------------------------------------------------------------------

_READS_ERROR_INFO = ("ErrorInfo()", "ErrorInfo.DESCRIPTOR", "Status.FromString", "Status()")


def test_error_info_is_read_in_one_place() -> None:
    readers = sorted(
        f"{path.relative_to(ROOT)}: {needle}"
        for folder in ("linkage", "providers", "consumers", "scripts", "tests")
        for path in (ROOT / folder).rglob("*.py")
        if "node_modules" not in path.parts and path.parent != ROOT / "linkage" / "v1"
        and path not in (ROOT / "linkage" / "errors.py", Path(__file__).resolve())
        for needle in _READS_ERROR_INFO if needle in path.read_text(encoding="utf-8"))
    assert not readers, f"read google.rpc.ErrorInfo with linkage.errors.error_info, not again: {readers}"


def _trailers(status: grpc.Status) -> tuple[tuple[str, str | bytes], ...]:
    return tuple(status.trailing_metadata)


def test_error_info_reads_what_to_status_wrote() -> None:
    err = errors.LimitExceeded("rate_limited", "ช้าลง", "slow down", retry_after_ms=1500)
    status = errors.to_status(err)
    info = errors.error_info(_trailers(status), grpc.StatusCode.RESOURCE_EXHAUSTED, status.details)
    assert info is not None and info.reason == "rate_limited" and info.domain == errors.DOMAIN
    assert info.metadata["retry_after_ms"] == "1500" and info.metadata["side"] == "caller"
    assert info.metadata["message_th"] == "ช้าลง" and info.metadata["message_en"] == "slow down"
    assert status.details == "ช้าลง / slow down"  # the status message stays the combined text grpcurl shows
    assert errors.error_info(None) is None and errors.error_info((("other-bin", b"x"),)) is None


def test_error_info_refuses_details_that_contradict_the_status_or_do_not_parse() -> None:
    trailers = _trailers(errors.to_status(errors.NotFound("record_not_found", "ไม่พบ", "none")))
    with pytest.raises(ValueError, match="its code 5 does not match the status INTERNAL"):
        errors.error_info(trailers, grpc.StatusCode.INTERNAL)
    with pytest.raises(ValueError, match="does not match the status message"):
        errors.error_info(trailers, grpc.StatusCode.NOT_FOUND, "something else")
    with pytest.raises(ValueError, match=r"not a google\.rpc\.Status"):
        errors.error_info(((errors.DETAILS_KEY, b"\xff\xff\xff"),))


def test_error_info_of_another_domain_is_not_taken_for_ours() -> None:
    foreign = status_pb2.Status(code=grpc.StatusCode.NOT_FOUND.value[0], message="gone")
    foreign.details.add().Pack(error_details_pb2.ErrorInfo(reason="NOT_THERE", domain="example.com"))
    trailers = ((errors.DETAILS_KEY, foreign.SerializeToString()),)
    info = errors.error_info(trailers)
    assert info is not None and info.domain == "example.com"  # read, and its domain says whose it is


# -- a LinkageError through a real gRPC server ----------------------------------------------------------------------

_RAISED: list[Exception] = [
    errors.InvalidRequest("check_digit_mismatch", "เลขตรวจสอบผิด", "check digit should be 3", field="subject_id"),
    errors.NotFound("record_not_found", "ไม่พบข้อมูล", "no record", provider="dopa"),
    errors.LimitExceeded("rate_limited", "ช้าลง", "slow down / really", retry_after_ms=250),
    errors.ProviderUnavailable("provider_circuit_open", "ผู้ให้ข้อมูลขัดข้อง", "provider down", provider="dbd",
                               retry_after_ms=1000),
    errors.HubUnavailable("log_unavailable", "บันทึกไม่ได้", "cannot log"),
    RuntimeError("a bug whose text must not leave the server"),
]


class _Raiser:
    @errors.grpc_errors
    async def Raise(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise _RAISED[request[0]]


@pytest.fixture
async def raiser() -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Errors", {"Raise": grpc.unary_unary_rpc_method_handler(_Raiser().Raise)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(0)


async def _refusal(channel: grpc.aio.Channel, which: int) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await channel.unary_unary("/test.Errors/Raise")(bytes([which]), timeout=5)
    return info.value


@pytest.mark.parametrize("which", range(len(_RAISED) - 1))
async def test_a_linkage_error_comes_back_whole(raiser: grpc.aio.Channel, which: int) -> None:
    sent = _RAISED[which]
    assert isinstance(sent, errors.LinkageError)
    got = await _refusal(raiser, which)
    assert got.code() == sent.status and got.details() == sent.message  # grpcurl users read the combined text
    back = errors.from_rpc_error(got)
    assert type(back) is type(sent)
    assert (back.code, back.status, back.message_th, back.message_en, back.field, back.message, back.provider,
            back.retry_after_ms, back.retryable) == (
        sent.code, sent.status, sent.message_th, sent.message_en, sent.field, sent.message, sent.provider,
        sent.retry_after_ms, sent.retryable)


async def test_an_unexpected_error_comes_back_as_a_generic_hub_fault(raiser: grpc.aio.Channel) -> None:
    got = await _refusal(raiser, len(_RAISED) - 1)
    back = errors.from_rpc_error(got)
    assert got.code() == grpc.StatusCode.INTERNAL and type(back) is errors.HubFault and back.code == "internal"
    assert "a bug" not in (got.details() or "")
    assert (back.message_th, back.message_en) == ("เกิดข้อผิดพลาดภายในระบบ",
                                                  "internal error: the server log has the details")
