#!/bin/sh
# The build steps of a golang-lockbox image. The Dockerfile runs them, and so
# does the project's image check (which has no Docker), from the root of a
# build context laid out by faas-cli: this template's files, with the
# function's handler folder at function/ and the stack's configuration.copy
# folders inside it (function/shared).
#
#   sh build.sh fmt     fail if any Go file is not gofmt-formatted
#   sh build.sh fixup   make the function module build inside the context
#   sh build.sh test    run the function's tests
#   sh build.sh build   build the static ./handler binary
set -eu
# The context's own workspace, even when it sits inside another one.
GOWORK="$(pwd)/go.work"
export GOWORK

fmt() {
	unformatted=$(find . -name '*.go' -not -path './vendor/*' -print0 | xargs -0 gofmt -l)
	if [ -n "$unformatted" ]; then
		echo "gofmt would change these files:" >&2
		echo "$unformatted" >&2
		exit 1
	fi
}

# fixup renames the function module to handler/function (the name main.go
# imports), points every replace that leaves the handler folder (such as
# ../../shared in the repository) at the copy faas-cli placed in function/,
# and joins the template and the function in a workspace.
fixup() {
	(
		cd function
		go mod edit -module handler/function
		awk '/=>/ { m = ($1 == "replace") ? $2 : $1; for (i = 1; i <= NF; i++) if ($i == "=>") print m, $(i + 1) }' go.mod |
			while read -r mod path; do
				case "$path" in
				./* | ../*)
					copy=$(basename "$path")
					if [ ! -f "$copy/go.mod" ]; then
						echo "fixup: $mod => $path, but function/$copy is missing: add it to configuration.copy in stack.yml" >&2
						exit 1
					fi
					go mod edit -replace "$mod=./$copy"
					;;
				esac
			done
	)
	rm -f go.work go.work.sum
	go work init . ./function
}

test_function() {
	(cd function && go test ./...)
}

build() {
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o handler .
}

case "${1:-}" in
fmt) fmt ;;
fixup) fixup ;;
test) test_function ;;
build) build ;;
*)
	echo "usage: sh build.sh fmt|fixup|test|build" >&2
	exit 2
	;;
esac
