#!/usr/bin/env bash
# Regenerates the Swift code of PortcullisXDSProto from proto/ (our own .proto definitions).
# Not run by CI: the generated files are committed. Needs
#   PROTOC_GEN_SWIFT       path to protoc-gen-swift        (apple/swift-protobuf 1.39.0, `swift build -c release --product protoc-gen-swift`)
#   PROTOC_GEN_GRPC_SWIFT  path to protoc-gen-grpc-swift-2 (grpc/grpc-swift-protobuf 2.4.1, `swift build -c release --product protoc-gen-grpc-swift-2`)
# and protoc: $PROTOC if set, else `python3 -m grpc_tools.protoc` (pip install grpcio-tools), else `protoc`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${PROTOC_GEN_SWIFT:?set PROTOC_GEN_SWIFT to the protoc-gen-swift binary}"
: "${PROTOC_GEN_GRPC_SWIFT:?set PROTOC_GEN_GRPC_SWIFT to the protoc-gen-grpc-swift-2 binary}"

wkt=""
if [ -n "${PROTOC:-}" ]; then
    protoc=("$PROTOC")
elif python3 -c 'import grpc_tools' 2>/dev/null; then
    protoc=(python3 -m grpc_tools.protoc)
    wkt="$(python3 -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
else
    protoc=(protoc)
fi
includes=(-I "$here/proto")
if [ -n "$wkt" ]; then includes+=(-I "$wkt"); fi

cd "$here/proto"
mapfile -t files < <(find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
mapfile -t services < <(grep -l '^service ' "${files[@]}")

rm -f "$here"/*.pb.swift "$here"/*.grpc.swift
"${protoc[@]}" "${includes[@]}" \
    --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
    --swift_out="$here" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
    "${files[@]}"
"${protoc[@]}" "${includes[@]}" \
    --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
    --grpc-swift_out="$here" \
    --grpc-swift_opt=Visibility=Public,Client=true,Server=true,FileNaming=PathToUnderscores \
    "${services[@]}"
echo "generated $(ls "$here"/*.swift | wc -l) Swift files in $here"
