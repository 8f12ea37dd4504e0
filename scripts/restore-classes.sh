#!/usr/bin/env bash
# Regenerates java/lib/src/main/resources/dev/kvmctl/contexts/restore-classes.txt: the classes a
# restore loads from the moment it starts (LazyRestore is loaded) to the process's end, in the
# order it loads them, which LazyRestore.loadClasses() loads ahead of a restore (issue 11: in a
# fresh JVM, loading and initializing them is most of the time from opening a snapshot to the
# guest's first KVM_RUN). Run it after a change that makes a restore use other classes;
# RestoreClassesTest fails when the list names a class that no longer exists.
#
# The restore runs as scripts/kvmctl runs it (native libraries by path, no JavaCPP loader), so the
# list holds what a restore loads there, not what plain `java -jar` happened to load before it.
#
# Usage: scripts/restore-classes.sh        (needs `make build` first: the jar and scripts/kvmctl's archive)
set -euo pipefail
cd "$(dirname "$0")/.."
jar=target/kvmctl.jar
[ -f "$jar" ] && [ -f target/jni/libjniShim.so ] || { echo "no $jar or target/jni: run 'make build' first" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/restore-classes.XXXXXX")
trap 'rm -rf "$work"' EXIT
scripts/kvmctl launch --image spin --mem 16M --snapshot-after 20ms --snapshot "$work/s.snap" >/dev/null
# A guest stopped by --timeout exits 124: expected. kvmctl.preload.classes=false: the list is what
# a restore loads when nothing loaded it ahead.
KVMCTL_JVM_FLAGS="-Xlog:class+load=info:file=$work/classes.log -Dkvmctl.preload.classes=false" \
    scripts/kvmctl restore --timeout 20ms "$work/s.snap" >/dev/null || true
out=java/lib/src/main/resources/dev/kvmctl/contexts/restore-classes.txt
mkdir -p "$(dirname "$out")"
# Field 2 of "[info][class,load] NAME source: ...": from LazyRestore on; no hidden classes
# (lambdas: they have no name to load by), nothing of the command line's.
awk '$2 == "dev.kvmctl.contexts.LazyRestore" { on = 1 } on { print $2 }' "$work/classes.log" \
    | grep -v -e '/0x' -e '\$\$Lambda' -e '^dev\.kvmctl\.cli\.' -e '^picocli\.' -e '^jdk\.internal\.reflect\.Generated' \
    | awk '!seen[$0]++' >"$out"
echo "$(wc -l <"$out") classes written to $out"
