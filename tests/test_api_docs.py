"""docs/api.md is exactly what scripts/gen_api_docs.py makes from the .proto comments, and covers the contract."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
FIX = "python scripts/gen_proto.py && python scripts/gen_api_docs.py"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorSet:
    """The descriptor set protoc makes from proto/ now (not the checked-in one, which may be stale too)."""
    out = tmp_path_factory.mktemp("protoc")
    _script("gen_proto").generate(out)
    descriptors: descriptor_pb2.FileDescriptorSet = _script("gen_api_docs").load(
        out / "linkage" / "v1" / "descriptor_set.binpb")
    return descriptors


def test_api_reference_is_fresh(fresh: descriptor_pb2.FileDescriptorSet) -> None:
    expected = _script("gen_api_docs").render(fresh)
    path = ROOT / "docs" / "api.md"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current != expected:
        diff = "".join(list(difflib.unified_diff(current.splitlines(True), expected.splitlines(True),
                                                 "docs/api.md", "generated"))[:40])
        pytest.fail(f"docs/api.md is stale: run `{FIX}` and commit docs/api.md\n{diff}")


def test_every_service_message_field_and_enum_is_documented(fresh: descriptor_pb2.FileDescriptorSet) -> None:
    text = _script("gen_api_docs").render(fresh)
    contract = [f for f in fresh.file if f.name.startswith("linkage/")]
    assert {f.name for f in contract} >= {"linkage/v1/hub.proto", "linkage/v1/audit.proto",
                                          "linkage/v1/provider.proto", "linkage/v1/common.proto"}
    for f in contract:
        assert f"## {f.name}\n" in text
        for service in f.service:
            for method in service.method:
                assert f"#### {service.name}.{method.name}\n" in text
                assert f"`rpc {method.name}` ([{method.input_type.split('.')[-1]}](" in text
        for message in f.message_type:
            assert f"#### {message.name}\n" in text
            for field in message.field:
                assert f"| `{field.name}` = {field.number} |" in text, f"{message.name}.{field.name}"
        for enum in f.enum_type:
            assert f"#### enum {enum.name}\n" in text
            for value in enum.value:
                assert f"| `{value.name}` | {value.number} |" in text
    # The comments are what the reference is made of.
    assert "ListServices lists only what the calling agency may use" in text
    assert "| `purpose` = 3 | string |  | Why the data is needed, in plain words" in text
    assert "| `index` = 1 | uint64 | oneof `leaf` |" in text


def test_a_descriptor_set_without_comments_is_refused(fresh: descriptor_pb2.FileDescriptorSet) -> None:
    bare = descriptor_pb2.FileDescriptorSet()
    bare.CopyFrom(fresh)
    for f in bare.file:
        f.ClearField("source_code_info")
    with pytest.raises(SystemExit, match="--include_source_info"):
        _script("gen_api_docs").render(bare)
