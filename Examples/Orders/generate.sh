#!/bin/sh
# Regenerates orders.pb.swift from orders.proto. Needs protoc (Debian: apt-get install protobuf-compiler) and
# protoc-gen-swift from apple/swift-protobuf 1.39.0 (the version Package.swift pins), either on PATH or named by
# PROTOC_GEN_SWIFT. Build it once outside this repository:
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf.git /tmp/swift-protobuf
#   swift build -c release --package-path /tmp/swift-protobuf --product protoc-gen-swift
#   PROTOC_GEN_SWIFT=/tmp/swift-protobuf/.build/release/protoc-gen-swift Examples/Orders/generate.sh
# CI never runs this: the generated file is committed; rerun it after editing orders.proto and commit both.
set -eu
cd "$(dirname "$0")"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
if [ -z "$plugin" ]; then
    echo "protoc-gen-swift not found: put it on PATH or set PROTOC_GEN_SWIFT (see the comment at the top)" >&2
    exit 1
fi
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public --swift_out=. orders.proto
echo "wrote $(pwd)/orders.pb.swift"
