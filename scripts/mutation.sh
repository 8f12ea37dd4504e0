#!/usr/bin/env bash
# Mutation testing of kvmctl's pure-logic code with PIT (pitest-maven, profile 'mutation' in
# the parent pom.xml), one group of classes at a time, each against the unit tests that need no /dev/kvm.
# Prints, per group, the mutants generated and killed and every survivor, then a table, and as its
# LAST LINE a JSON object mapping each group to its percentage of mutants killed (PIT's "detected":
# killed, timed out or crashed by a test), e.g. {"allocator":91.2,"snapshot-codecs":88.0,...}.
# See docs/robustness.md, "Mutation testing".
#
# Usage: scripts/mutation.sh [group ...]        (default: every group)
#   MUTATION_THREADS=N   PIT's worker threads (default 2)
# Needs: JDK 17+, Maven (PIT is fetched from Maven Central once), python3. About 10 minutes on 2 cores.
# Reports: target/pit-reports/<group>/ (index.html, mutations.xml), the Maven log beside them.
set -euo pipefail
cd "$(dirname "$0")/.."

# group | module | classes mutated | tests run (none needs KVM) | classes not mutated | tests left out | methods not mutated
#
# snapshot-codecs: the context container (Sections) and the snapshot file's codecs: its header
# (SnapshotFormat), machine configuration (GuestConfigCodec) and device counters (DeviceStateCodec);
# not the steps that read and write files and machines (Snapshot, SnapshotReader/Writer, AtomicFile).
#
# allocator: BlockAllocator and its package-private parts (BlockTable, IdleIndex, UnitHeap,
# Owners) with the result types. The invariant checks (BlockAllocator.checkInvariants and
# check, IdleIndex.check, checkTreap and heapShape, UnitHeap.isHeap, Owners.check) are the tests' oracle for the
# internal structure, not allocator logic: a mutant that weakens a check survives whenever the
# allocator is correct, so they are not mutated.
#
# hub-rules: the shared-memory hub's request rules (HubRules) and mailbox codec (MailboxCodec) with
# the ABI's constants; the hub itself (it connects machines and doorbells) and SharedRegion (native
# memory) are left out, and so are the KVM and Jazzer tests of the package.
GROUP_TABLE='
allocator|java/lib|dev.kvmctl.memory.*|dev.kvmctl.memory.*Test|||checkInvariants,checkTreap,heapShape,isHeap,check
snapshot-codecs|java/lib|dev.kvmctl.contexts.Sections*,dev.kvmctl.contexts.SnapshotFormat*,dev.kvmctl.contexts.GuestConfigCodec*,dev.kvmctl.contexts.DeviceStateCodec*|dev.kvmctl.contexts.Sections*Test,dev.kvmctl.contexts.SnapshotCodecsTest||
image-parser|java/lib|dev.kvmctl.guests.GuestImage*|dev.kvmctl.guests.GuestImage*Test,dev.kvmctl.fuzz.FuzzElfPropertiesTest||
hub-rules|java/lib|dev.kvmctl.guests.shm.*|dev.kvmctl.guests.shm.*Test|dev.kvmctl.guests.shm.SharedMemoryHub,dev.kvmctl.guests.shm.SharedMemoryHub$*,dev.kvmctl.guests.shm.SharedRegion|dev.kvmctl.guests.shm.SharedMemoryTest,dev.kvmctl.guests.shm.MailboxFuzzTest
cli-parsing|java/cli|dev.kvmctl.cli.Sizes*|dev.kvmctl.cli.Sizes*Test||
'

all_groups=$(echo "$GROUP_TABLE" | awk -F'|' 'NF > 1 { print $1 }')
selected=("$@")
if [ ${#selected[@]} -eq 0 ]; then
    read -r -a selected <<< "$(echo $all_groups)"
fi
for g in "${selected[@]}"; do
    if ! grep -qx "$g" <<< "$all_groups"; then
        echo "unknown group '$g'; groups: $(echo $all_groups)" >&2
        exit 2
    fi
done

# Maven fetches PIT from Maven Central the first time; afterwards everything comes from ~/.m2.
mvn_mutation() {
    mvn -q -B -Pmutation "$@"
}

started=$(date +%s)
echo "== compiling (classes, test classes, guest images) with the mutation profile"
mvn_mutation test-compile

reports=target/pit-reports
mkdir -p "$reports"
for g in "${selected[@]}"; do
    IFS='|' read -r name module classes tests excluded excluded_tests excluded_methods <<< "$(echo "$GROUP_TABLE" | awk -F'|' -v g="$g" '$1 == g')"
    echo "== $name: mutating $classes; tests $tests"
    rm -rf "${reports:?}/$name"
    t0=$(date +%s)
    # The CLI module's run builds the library first (-am); PIT finds nothing to mutate there.
    args=(-pl "$module" -am test-compile org.pitest:pitest-maven:mutationCoverage -DfailWhenNoMutations=false
          "-DtargetClasses=$classes" "-DtargetTests=$tests"
          "-DreportsDirectory=$PWD/$reports/$name" "-Dthreads=${MUTATION_THREADS:-2}")
    [ -n "$excluded" ] && args+=("-DexcludedClasses=$excluded")
    [ -n "$excluded_tests" ] && args+=("-DexcludedTestClasses=$excluded_tests")
    [ -n "$excluded_methods" ] && args+=("-DexcludedMethods=$excluded_methods")
    if ! mvn_mutation "${args[@]}" > "$reports/$name.log" 2>&1; then
        echo "PIT failed for $name; its log ($reports/$name.log) ends with:" >&2
        tail -30 "$reports/$name.log" >&2
        exit 1
    fi
    echo "   $(( $(date +%s) - t0 )) s"
done

python3 - "$reports" "$(( $(date +%s) - started ))" "${selected[@]}" <<'PY'
import json, sys, xml.etree.ElementTree as ET
from collections import Counter

reports, seconds, groups = sys.argv[1], sys.argv[2], sys.argv[3:]
scores, rows = {}, []
for g in groups:
    try:
        mutations = ET.parse(f"{reports}/{g}/mutations.xml").getroot().findall("mutation")
    except (FileNotFoundError, ET.ParseError):
        mutations = []
    status = Counter(m.get("status") for m in mutations)
    total = len(mutations)
    killed = sum(1 for m in mutations if m.get("detected") == "true")
    scores[g] = round(100.0 * killed / total, 1) if total else None
    rows.append((g, total, killed, status.get("SURVIVED", 0), status.get("NO_COVERAGE", 0), status.get("TIMED_OUT", 0)))
    survivors = [m for m in mutations if m.get("detected") != "true"]
    print(f"\n{g}: {killed} of {total} mutants killed" + (f", {len(survivors)} not:" if survivors else ""))
    for m in sorted(survivors, key=lambda m: (m.findtext("mutatedClass"), int(m.findtext("lineNumber")))):
        cls = m.findtext("mutatedClass").rsplit(".", 1)[1]
        print(f"  {m.get('status'):11} {cls}.{m.findtext('mutatedMethod')}:{m.findtext('lineNumber')}  {m.findtext('description')}")

print("\n| group | mutants | killed | survived | no coverage | timed out | % killed |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for g, total, killed, survived, uncovered, timed in rows:
    pct = "n/a" if scores[g] is None else f"{scores[g]:.1f}"
    print(f"| {g} | {total} | {killed} | {survived} | {uncovered} | {timed} | {pct} |")
print(f"({seconds} s in all; reports in {reports}/<group>/index.html)")
print(json.dumps(scores, separators=(",", ":")))
PY
