#!/usr/bin/env bash
# What a cold switch pays for a new VM, step by step: KVM_CREATE_VM, mapping the RAM slot, creating
# the vCPU (and mapping kvm_run), closing it all, each timed as a single call per VM over the same
# memfd RAM, three ways:
#   C            scripts/bench/vm-lifecycle.c, before and after the Java run (pooled)
#   Java, bare   the same ioctls through the bare shim and LibC (jffi) in a JVM (VmLifecycleTimes)
#   kvmctl API   Kvm.createVm, Vm.mapMemory, Vm.createVcpu, Vm.close, in the same JVM, interleaved
# "bare / C" is what running in a JVM's process costs the kernel's work; "API / bare" is what
# kvmctl's own Java code adds. Each figure is the median (min–max) of the per-round means; the
# comparisons follow scripts/bench/stats.py (overlapping intervals: "no measurable difference").
#
#   scripts/bench-vm-lifecycle.sh     # compiles what it needs (java/lib, profile 'bench'); about 1 minute
#   ROUNDS=3 PER_ROUND=5 scripts/bench-vm-lifecycle.sh     # smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-10}
PER_ROUND=${PER_ROUND:-30}
OUT=target/bench
mkdir -p "$OUT"

gcc -O2 -Wall -Wextra -Werror -o "$OUT/vm-lifecycle" scripts/bench/vm-lifecycle.c
. scripts/bench/jmh-classpath.sh

echo "C (1/2)..." >&2
C1=$("$OUT/vm-lifecycle" "$ROUNDS" "$PER_ROUND")
echo "Java..." >&2
J=$(java -cp "$CP" dev.kvmctl.bench.VmLifecycleTimes "$ROUNDS" "$PER_ROUND")
echo "C (2/2)..." >&2
C2=$("$OUT/vm-lifecycle" "$ROUNDS" "$PER_ROUND")

echo "Command: ROUNDS=$ROUNDS PER_ROUND=$PER_ROUND scripts/bench-vm-lifecycle.sh; $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$C1" "$C2" "$J" "$PER_ROUND" <<'PY'
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import c_rounds, ratio, runs

c = {k: runs(v) for k, v in c_rounds(sys.argv[1], sys.argv[2]).items()}
j = {k: runs(v) for k, v in c_rounds(sys.argv[3]).items()}
print(f"µs per call, median (min–max) of per-round means; C {c['total'].n} rounds, Java {j['api.total'].n} rounds, "
      f"{sys.argv[4]} VMs per round:")
print()
print("| step | C | Java, bare shim | kvmctl API | bare / C (the JVM's process) | API / bare (kvmctl's code) |")
print("| --- | ---: | ---: | ---: | --- | --- |")
names = {"create-vm": "KVM_CREATE_VM", "map-memory": "KVM_SET_USER_MEMORY_REGION (4 MiB memfd)",
         "create-vcpu": "KVM_CREATE_VCPU + mmap kvm_run", "close": "close (munmap, vCPU, VM)", "total": "all four"}
for step, name in names.items():
    cs, raw, api = c[step], j["raw." + step], j["api." + step]
    print(f"| {name} | {cs.text(1)} | {raw.text(1)} | {api.text(1)} | {ratio(raw, cs)} | {ratio(api, raw)} |")
print()
raw, api = j["raw.total"], j["api.total"]
own = ratio(api, raw)
if own != "no measurable difference":
    own = f"{api.center - raw.center:+.1f} µs per VM (medians), {own}"
print(f"- kvmctl's own code in a new VM and its close (API against bare, all four steps): {own}")
PY
