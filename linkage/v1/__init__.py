"""Generated from proto/linkage/v1 by scripts/gen_proto.py. Do not edit."""
