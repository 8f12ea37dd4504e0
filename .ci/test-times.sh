#!/usr/bin/env bash
# Prints where `make test`'s time went, from the JUnit XML reports Maven wrote in each module
# (java/lib, java/cli): unit tests (surefire) and integration tests (failsafe), each test class by
# time.
#
#   .ci/test-times.sh [MARKER]   only reports newer than the file MARKER (.ci/run passes a file
#                                it touched before `make test`, so stale reports are left out)
set -euo pipefail
cd "$(dirname "$0")/.."

newer=()
if [ -n "${1:-}" ] && [ -e "$1" ]; then newer=(-newer "$1"); fi

reports() { # KIND: the report directories of that kind that exist
    local d
    for d in java/*/target/"$1"-reports; do [ -d "$d" ] && echo "$d"; done
}

for kind in surefire failsafe; do
    mapfile -t dirs < <(reports "$kind")
    [ ${#dirs[@]} -gt 0 ] || continue
    find "${dirs[@]}" -maxdepth 1 -name 'TEST-*.xml' "${newer[@]}" -print0 \
        | xargs -0 -r sed -n 's/.*<testsuite [^>]*name="\([^"]*\)" time="\([^"]*\)" tests="\([^"]*\)"[^>]*skipped="\([^"]*\)".*/\2 \1 \3 \4/p' \
        | sort -rn \
        | awk -v kind="$kind" '
            { total += $1; n++; line[n] = sprintf("ci:     %7.1fs  %s (%d tests, %d skipped)", $1, $2, $3, $4) }
            END {
                if (n == 0) exit
                printf "ci:   %s: %d classes, %.1fs\n", (kind == "surefire" ? "unit tests (surefire)" : "integration tests (failsafe)"), n, total
                for (i = 1; i <= n; i++) print line[i]
            }'
done

# One closing line with every test counted, surefire and failsafe together (Maven runs with -q,
# so its own summaries are not printed).
mapfile -t dirs < <(reports surefire; reports failsafe)
[ ${#dirs[@]} -gt 0 ] || exit 0
find "${dirs[@]}" -maxdepth 1 -name 'TEST-*.xml' "${newer[@]}" -print0 2>/dev/null \
    | xargs -0 -r grep -ho '<testsuite [^>]*>' \
    | awk '{
        t = e = s = f = 0
        if (match($0, / tests="[0-9]+"/)) t = substr($0, RSTART + 8, RLENGTH - 9)
        if (match($0, / errors="[0-9]+"/)) e = substr($0, RSTART + 9, RLENGTH - 10)
        if (match($0, / skipped="[0-9]+"/)) s = substr($0, RSTART + 10, RLENGTH - 11)
        if (match($0, / failures="[0-9]+"/)) f = substr($0, RSTART + 11, RLENGTH - 12)
        tests += t; failed += e + f; skipped += s
      }
      END { printf "tests: %d passed, %d failed, %d skipped\n", tests - failed - skipped, failed, skipped }'
