#!/bin/bash
# run.sh VOCAB... : compare shimmer with the oracle on strings.jsonl, both
# special modes. Work files go to $WORK (default /work/oracle/run).
set -e
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
vocabdir=${VOCABDIR:-$repo/../shared/testdata/vocab}
[ -d "$vocabdir" ] || vocabdir=/work/shared/testdata/vocab
work=${WORK:-/work/oracle/run}
strings=${STRINGS:-$work/strings.jsonl}
mkdir -p "$work"
[ -f "$strings" ] || node "$here/gen.mjs" 3000 > "$strings"
(cd "$repo" && go build -o "$work/shimmer" ./cmd/shimmer && go build -o "$work/dumpvocab" ./internal/tools/tokoracle/dumpvocab)
for v in "$@"; do
  g=$vocabdir/ggml-vocab-$v.gguf
  [ -f "$work/$v.dump.json" ] || "$work/dumpvocab" "$g" > "$work/$v.dump.json"
  for sp in 0 1; do
    flag=""; [ $sp = 1 ] && flag="--parse-special"
    node --max-old-space-size=8000 "$here/oracle.mjs" "$v" $sp "$work/$v.dump.json" < "$strings" > "$work/$v.$sp.oracle"
    "$work/shimmer" tokenize -m "$g" --no-bos $flag --jsonl < "$strings" > "$work/$v.$sp.shimmer"
    echo "== $v parse_special=$sp"
    node "$here/compare.mjs" "$strings" "$work/$v.$sp.oracle" "$work/$v.$sp.shimmer" "$work/$v.dump.json" ${MAXDIFF:-15}
  done
done
