"""Generate the Python stubs in linkage/v1/ from proto/linkage/v1/*.proto.

Run after editing a .proto file:  python scripts/gen_proto.py
tests/test_proto_stubs.py fails when the checked-in stubs are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"


def generate(out_dir: Path) -> list[Path]:
    """Write *_pb2.py, *_pb2.pyi and *_pb2_grpc.py(i) under out_dir/linkage/v1."""
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "linkage" / "v1").glob("*.proto"))
    (out_dir / "linkage" / "v1").mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        f"--descriptor_set_out={out_dir / 'linkage' / 'v1' / 'descriptor_set.binpb'}",
        "--include_source_info",
        "--include_imports",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    init = out_dir / "linkage" / "v1" / "__init__.py"
    init.write_text('"""Generated from proto/linkage/v1 by scripts/gen_proto.py. Do not edit."""\n')
    return sorted((out_dir / "linkage" / "v1").iterdir())


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT):
        print(path.relative_to(path.parents[2]))
