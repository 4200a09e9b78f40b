#!/usr/bin/env bash
# Installs the pinned Traefik into $(go env GOPATH)/bin unless the binary there
# is already that version, and prints its path. Traefik runs only as a separate
# test server (the README's forwardAuth configuration); nothing imports it.
# `go install traefik@version` refuses it (its go.mod has replace directives),
# so it is built from its module as the module proxy serves it (a cold build is
# about 20 minutes of CPU: an hour on two busy cores; 245 MB).
set -euo pipefail
VERSION=v3.6.12
bin="$(go env GOPATH)/bin/traefik"
if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -qE "^Version:[[:space:]]+$VERSION\$"; then
	echo "$bin"
	exit 0
fi
echo "install-traefik: building github.com/traefik/traefik/v3@$VERSION (takes many minutes)" >&2
dir=$(GOFLAGS= GOWORK=off go mod download -json "github.com/traefik/traefik/v3@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "install-traefik: the module proxy did not give github.com/traefik/traefik/v3@$VERSION" >&2; exit 1; }
mkdir -p "$(dirname "$bin")"
(cd "$dir" && GOFLAGS= GOWORK=off CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X github.com/traefik/traefik/v3/pkg/version.Version=$VERSION" -o "$bin.tmp" ./cmd/traefik) >&2
mv "$bin.tmp" "$bin"
echo "$bin"
