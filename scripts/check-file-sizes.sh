#!/usr/bin/env bash
# Fails, naming them, when files in git's index are larger than a limit:
#   scripts/check-file-sizes.sh [bytes]     (default 1048576: 1 MiB)
#
# A compiled binary or a screenshot that was never shrunk has no place in
# the repository: ignore build outputs (.gitignore), re-encode pictures. The
# sizes are those of the index's blobs, that is what a commit records,
# whatever the working tree holds.
set -euo pipefail
limit=${1:-1048576}
big=$(git ls-files -z --stage |
	tr '\0' '\n' |
	awk -F '\t' '{ split($1, f, " "); print f[2], $2 }' |
	git cat-file --batch-check='%(objectsize) %(rest)' |
	awk -v limit="$limit" '$1 > limit { size = $1; sub(/^[0-9]+ /, ""); printf "  %s (%d bytes)\n", $0, size }')
if [ -n "$big" ]; then
	echo "check-file-sizes: tracked files larger than $limit bytes:" >&2
	echo "$big" >&2
	echo "check-file-sizes: remove build outputs from git (and ignore them), shrink pictures (make screenshots writes them shrunk)" >&2
	exit 1
fi
