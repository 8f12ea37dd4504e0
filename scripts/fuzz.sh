#!/usr/bin/env bash
# Coverage-guided fuzzing of kvmctl's parsers with Jazzer (docs/robustness.md, "Fuzzing the
# parsers"): the guest image loader, the hub's mailbox decoder and the snapshot decoder.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   the long run: SECONDS of fuzzing per target
#                                                (default 300), each target in a JVM of its own
#        scripts/fuzz.sh --short [TARGET...]     the short run of `make test`: each target a fixed
#                                                number of inputs (its @FuzzTest's maxExecutions)
#                                                from its seeds alone, libFuzzer seed 1
# TARGET: image-loader, hub-mailbox, snapshot-decoder (default: all three).
# Environment: FUZZ_SEED (libFuzzer's -seed; default 1 with --short, random otherwise),
# FUZZ_HEAP (the fuzzing JVM's -Xmx, default 512m: a parser that allocates what an input claims
# runs out of it, which is a finding).
#
# Prints each target's inputs and how they ended, then a markdown table. The long run keeps its
# corpus in java/lib/.cifuzz-corpus/ (the next run goes on from it) and writes a finding
# (crash-*, timeout-*) to java/lib/src/test/resources/<package>/<Class>Inputs/<method>/, where
# `make test` runs it again once it is committed; the short run starts from nothing each time
# and leaves findings in java/lib/target/fuzz-short/. Exit status 1 if any target found something
# (or did not run), 0 otherwise. Needs a build (`make`); the snapshot decoder's seed needs
# /dev/kvm (without it that target is skipped). About SECONDS + 20 s per target.
set -euo pipefail
cd "$(dirname "$0")/.."
LIB=java/lib

declare -A CLASS=(
    [image-loader]=dev.kvmctl.fuzz.ImageLoaderFuzzTest
    [hub-mailbox]=dev.kvmctl.guests.shm.MailboxFuzzTest
    [snapshot-decoder]=dev.kvmctl.contexts.SnapshotDecoderFuzzTest
)
ALL=(image-loader hub-mailbox snapshot-decoder)

short=0
seconds=300
if [ "${1:-}" = --short ]; then
    short=1
    shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL[@]}")
for t in "${targets[@]}"; do
    [ -n "${CLASS[$t]:-}" ] || { echo "fuzz.sh: unknown target '$t' (one of: ${ALL[*]})" >&2; exit 2; }
done
if [ $short = 1 ]; then
    seed=${FUZZ_SEED:-1}
else
    seed=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
fi
heap=${FUZZ_HEAP:-512m}
out=$LIB/target/fuzz
mkdir -p "$out"

# The fuzz tests run from target/test-classes: compile if a source is newer than them.
stamp=$LIB/target/test-classes/dev/kvmctl/fuzz/ImageLoaderFuzzTest.class
if [ ! -f "$stamp" ] || [ -n "$(find "$LIB/src" "$LIB/pom.xml" pom.xml -newer "$stamp" -type f | head -1)" ]; then
    echo "== compiling"
    "${MVN:-mvn}" -q -B -o -pl "$LIB" test-compile || "${MVN:-mvn}" -q -B -pl "$LIB" test-compile
fi

# Runs the test classes TESTS in surefire's execution "fuzz" (java/lib/pom.xml) with fuzzing on,
# the Maven properties PROPS, and the libFuzzer options in the array LIBFUZZER. libFuzzer's
# options reach Jazzer as jazzer.internal.arg.N (0 stands for argv[0]) and come after the
# @FuzzTest's own, so they win.
run_fuzz() { # LOG TESTS PROPS...
    local log=$1 tests=$2
    shift 2
    local args=(-Dkvmctl.fuzzing=1 -Dkvmctl.fuzz.heap="$heap" -Dkvmctl.fuzz.quiet=false -Djazzer.internal.arg.0=fuzz "$@")
    local i=1
    for a in "${LIBFUZZER[@]}"; do
        args+=("-Djazzer.internal.arg.$i=$a")
        i=$((i + 1))
    done
    local mvn=("${MVN:-mvn}" -B -pl "$LIB" surefire:test@fuzz -Dtest="$tests" "${args[@]}")
    # Offline first; online only if offline Maven could not even start the tests.
    if ! "${mvn[@]}" -o >"$log" 2>&1 && ! grep -q 'T E S T S' "$log"; then
        "${mvn[@]}" >"$log" 2>&1 || true
    fi
}

figure() { # TARGET KEY: a figure the fuzz test wrote to target/fuzz/TARGET.count
    sed -n "s/^$2=//p" "$out/$1.count" 2>/dev/null | head -1
}

for t in "${targets[@]}"; do
    rm -f "$out/$t.count"
done
if [ $short = 1 ]; then
    # One JVM per class (reuseForks=false); a fresh base directory, so no corpus of an earlier
    # run: the same inputs each time.
    base=$PWD/$LIB/target/fuzz-short
    rm -rf "$base"
    mkdir -p "$base"
    tests=
    for t in "${targets[@]}"; do tests+="${CLASS[$t]##*.},"; done
    echo "== fuzz --short: ${targets[*]} (libFuzzer seed $seed)"
    LIBFUZZER=(-seed="$seed")
    run_fuzz "$out/short.log" "${tests%,}" -DreuseForks=false -Djazzer.internal.basedir="$base"
    for t in "${targets[@]}"; do
        cp "$out/short.log" "$out/$t.log"
    done
else
    for t in "${targets[@]}"; do
        echo "== fuzz $t: $seconds s (libFuzzer seed $seed)"
        LIBFUZZER=(-seed="$seed" -runs=-1 -max_total_time="$seconds")
        run_fuzz "$out/$t.log" "${CLASS[$t]##*.}" -Dkvmctl.fuzz.jvmSeconds=$((seconds + 600))
    done
fi

status=0
table="| target | inputs tried | of them by libFuzzer | seconds | how they ended |
| --- | ---: | ---: | ---: | --- |"
for t in "${targets[@]}"; do
    log=$out/$t.log
    grep -E "^fuzz $t:" "$log" || true
    # libFuzzer's own count of the inputs it ran (its seeds included), from its last line for this class
    runs=$(awk -v c="Running ${CLASS[$t]}" '$0 ~ c {on=1} on && /^Done [0-9]+ runs/ {print $2; exit}' "$log")
    inputs=$(figure "$t" inputs)
    if grep -E "Tests run:.*(Failures|Errors): [1-9].*in ${CLASS[$t]}\$" "$log" >/dev/null; then
        echo "!! $t: a finding; see $log" >&2
        grep -E "FuzzTestFinding|Test unit written|Caused by|Error:" "$log" | head -8 >&2 || true
        status=1
    elif [ "$inputs" = 0 ]; then
        echo "-- $t: skipped, no input ran (the snapshot decoder's seed needs /dev/kvm); see $log" >&2
    elif [ -z "$inputs" ]; then
        echo "!! $t: did not run; see $log" >&2
        tail -20 "$log" >&2
        status=1
    fi
    # Outcomes grouped by their text up to the first colon: "refused" sums every refusal, and
    # says how many distinct reasons were seen; counters (+calls, ...) as they are.
    ended=$(sed -n 's/^outcome\.//p' "$out/$t.count" 2>/dev/null | awk -F= '
        { key = $1; n = $NF; gsub(/_/, " ", key); group = key; sub(/:.*/, "", group)
          if (!(group in sum)) order[++k] = group
          sum[group] += n; if (group != key) kinds[group]++ }
        END { for (i = 1; i <= k; i++) { g = order[i]
                  printf "%s%s %d%s", (i > 1 ? "; " : ""), g, sum[g], (g in kinds ? " (" kinds[g] " reasons)" : "") } }')
    table+="
| $t | ${inputs:-0} | ${runs:-0} | $(figure "$t" seconds) | ${ended} |"
done
echo
echo "$table"
exit $status
