#!/usr/bin/env bash
# Installs the pinned MinIO server into $(go env GOPATH)/bin unless the binary
# there is already that version (a cold build takes 5-10 minutes), and prints
# its path. MinIO runs only as a separate test server; nothing imports it.
set -euo pipefail
VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
bin="$(go env GOPATH)/bin/minio"
if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/minio/minio" {print $3}' | grep -qx "$VERSION"; then
	echo "$bin"
	exit 0
fi
echo "install-minio: building github.com/minio/minio@$VERSION (takes several minutes)" >&2
GOFLAGS= GOWORK=off go install "github.com/minio/minio@$VERSION" >&2
echo "$bin"
