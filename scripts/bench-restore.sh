#!/usr/bin/env bash
# Time from opening a snapshot to the guest's first KVM_RUN (restore_ms: the
# metadata read and checked, the VM, slot and vCPUs built, the contexts restored; docs/benchmarks.md
# says exactly what the window holds) and until the whole memory image was loaded and checked in the
# background (verify_ms), as `kvmctl restore --json` reports them, for snapshots of several memory
# sizes. Each snapshot is of the built-in `spin` guest taken
# after SNAP_AFTER: sparse-ish (the guest's image and stack are data, the rest zero chunks, which
# stay holes in the file and are never read). Each restore is a fresh process whose guest runs
# for RUN_FOR; the file is in the page cache after the first round (which is not counted).
# Each figure is the median (min–max) over ROUNDS. Each size is restored by scripts/kvmctl (the
# class-data-sharing archive that `make` builds, trained on a restore too, and the client compiler;
# its start-up thread loads the restore's classes while picocli parses), by the same without that
# preloading (kvmctl-no-preload: -Dkvmctl.preload.classes=false, so the classes load inside the
# window) and by plain `java -jar target/kvmctl.jar` (LAUNCHERS="kvmctl" runs the first only).
# The last column is each whole process's wall time, start to exit (the guest runs RUN_FOR of
# it): what preloading saves inside the window must not come back outside it.
#
#   scripts/bench-restore.sh                          # 64 MiB, 1 GiB and 8 GiB; runs `make` if the jar or archive is missing
#   SIZES="64M" ROUNDS=3 scripts/bench-restore.sh     # smoke run
#
# Writing a snapshot skips the holes of the guest's memfd (pages never touched) without reading
# them, so the 8 GiB guest, which touches a few MiB, needs no 8 GiB of free memory.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-64M 1G 8G}
ROUNDS=${ROUNDS:-10}
SNAP_AFTER=${SNAP_AFTER:-50ms}
RUN_FOR=${RUN_FOR:-20ms}
OUT=target/bench
LAUNCHERS=${LAUNCHERS:-kvmctl kvmctl-no-preload java-jar}
JAR=target/kvmctl.jar
mkdir -p "$OUT"
if [ ! -f "$JAR" ] || [ ! -f target/kvmctl.jsa ]; then
    make -s
fi

launcher() { # the command line a launcher name stands for
    case $1 in
        kvmctl|kvmctl-no-preload) echo scripts/kvmctl ;;
        java-jar) echo java -jar "$JAR" ;;
        *) echo "unknown launcher $1 (kvmctl, kvmctl-no-preload or java-jar)" >&2; exit 2 ;;
    esac
}
launcher_flags() { # kvmctl-no-preload: the restore's classes are not loaded ahead (Preload)
    case $1 in
        kvmctl-no-preload) echo "-XX:TieredStopAtLevel=1 -Dkvmctl.preload.classes=false" ;;
        *) echo "${KVMCTL_JVM_FLAGS--XX:TieredStopAtLevel=1}" ;;
    esac
}

results=()
for size in $SIZES; do
    snap="$OUT/restore-$size.snap"
    rm -f "$snap"
    echo "snapshot of $size..." >&2
    scripts/kvmctl launch --image spin --mem "$size" --snapshot-after "$SNAP_AFTER" --snapshot "$snap" >/dev/null
    for l in $LAUNCHERS; do
        # shellcheck disable=SC2046
        KVMCTL_JVM_FLAGS=$(launcher_flags "$l") $(launcher "$l") restore --json --timeout "$RUN_FOR" "$snap" >/dev/null 2>&1 \
            || true # warms the page cache
        lines=""
        for _ in $(seq "$ROUNDS"); do
            # a guest that is stopped by --timeout exits 124: expected. Each line: the whole
            # process's wall time in µs (start to exit, the guest running RUN_FOR of it), the report.
            t0=$(date +%s%N)
            # shellcheck disable=SC2046
            line=$(KVMCTL_JVM_FLAGS=$(launcher_flags "$l") $(launcher "$l") restore --json --timeout "$RUN_FOR" "$snap" 2>/dev/null \
                | tail -n 1) || true
            lines+="$(( ($(date +%s%N) - t0) / 1000 )) $line"$'\n'
        done
        results+=("$size" "$l" "$(du -h --apparent-size "$snap" | cut -f1)" "$(du -h "$snap" | cut -f1)" "$lines")
    done
    rm -f "$snap"
done

echo "Command: SIZES=\"$SIZES\" ROUNDS=$ROUNDS LAUNCHERS=\"$LAUNCHERS\" scripts/bench-restore.sh; $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "${results[@]}" <<'PY'
import json, statistics, sys

def spread(values):
    return "%.2f (%.2f–%.2f)" % (statistics.median(values), min(values), max(values))

args = sys.argv[1:]
print("| memory | launcher | file (apparent / on disk) | lazy | restore_ms: open → first KVM_RUN | verify_ms: all chunks checked | whole process, ms |")
print("|---|---|---|---|---|---|---|")
last = {}
for i in range(0, len(args), 5):
    size, launcher, apparent, disk, lines = args[i:i + 5]
    rounds = [l.split(" ", 1) for l in lines.splitlines() if " {" in l]
    reports = [json.loads(r[1]) for r in rounds]
    walls = [int(r[0]) / 1000 for r in rounds]
    if not reports:
        sys.exit("no report for %s (%s): run 'scripts/kvmctl restore --json' by hand to see why" % (size, launcher))
    restore = [r["restore_ms"] for r in reports]
    verify = [r["verify_ms"] for r in reports if "verify_ms" in r]
    lazy = all(r.get("lazy") for r in reports)
    print("| %s | %s | %s / %s | %s | %s | %s | %s |" % (size, launcher, apparent, disk, "yes" if lazy else "NO", spread(restore),
                                                         spread(verify) if verify else "—", spread(walls)))
    last.setdefault(launcher, {})[size] = statistics.median(restore)
print()
print(json.dumps({"restore_ms": last}))
PY
