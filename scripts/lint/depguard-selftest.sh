#!/usr/bin/env bash
# Proves the import rules bite: adds a file to the pure domain that imports
# sarama, and expects golangci-lint's depguard to refuse it. The file is
# removed whatever happens.
set -euo pipefail
# The Go toolchain of the project (go.work): fetched through the module
# proxy when the machine's is older.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
cd "$(dirname "$0")/../.."
probe=libs/domain/zz_depguard_probe.go
trap 'rm -f "$probe"' EXIT
cat >"$probe" <<'GO'
package domain

import "github.com/IBM/sarama"

var _ = sarama.V3_9_0_0
GO
if out=$("${GOLANGCI_LINT:-golangci-lint}" run --enable-only depguard ./libs/domain/... 2>&1); then
	echo "depguard self-test: a domain file importing sarama passed the lint; the import rules do not bite" >&2
	exit 1
fi
if ! grep -q "the domain is pure" <<<"$out"; then
	echo "depguard self-test: the lint failed, but not for the domain's import rule:" >&2
	echo "$out" >&2
	exit 1
fi
echo "depguard self-test: a wrong-way import is refused"
