#!/usr/bin/env bash
# Whole-process start-up: `kvmctl launch` of a trivial ring-3 guest (the built-in hello-long.elf,
# 16 MiB of RAM, prints two lines, exits 0) from exec to exit, next to a C VMM running the same
# image the same way (scripts/bench/launch-vmm.c). Three ways to start kvmctl:
#   java -jar          java -jar target/kvmctl.jar launch --image hello-long.elf (JDK 17, no flags)
#   scripts/kvmctl     the launcher: the class-data-sharing archive `make` builds
#                      (target/kvmctl.jsa) and -XX:TieredStopAtLevel=1
#   C                  target/bench/launch-vmm java/lib/target/vm-images/hello-long.elf
# The runs are interleaved (C, java -jar, launcher, C, ...) so a load that comes and goes hits
# all three alike; each is checked for the guest's output and a zero exit. Prints a markdown
# table of milliseconds, median (min–max), the ratios by the rule of scripts/bench/stats.py,
# the goal (launcher median ≤ 150 ms), then a last line of JSON.
#
#   make && scripts/bench-startup.sh          # 31 runs of each
#   N=5 scripts/bench-startup.sh              # smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-31}
JAVA=${JAVA:-java}
OUT=target/bench
mkdir -p "$OUT"
gcc -O2 -Wall -Wextra -Werror -o "$OUT/launch-vmm" scripts/bench/launch-vmm.c
IMAGE=java/lib/target/vm-images/hello-long.elf
for f in target/kvmctl.jar "$IMAGE"; do
    [ -f "$f" ] || { echo "bench-startup: $f is missing: run 'make' first" >&2; exit 1; }
done
if [ ! -f target/kvmctl.jsa ] || [ target/kvmctl.jsa -ot target/kvmctl.jar ]; then
    echo "bench-startup: target/kvmctl.jsa is missing or older than the jar: run 'make' (or 'make cds') first" >&2
    exit 1
fi

echo "Command: N=$N scripts/bench-startup.sh; $("$JAVA" -version 2>&1 | head -1);" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
JAVA="$JAVA" python3 - "$N" "$OUT/launch-vmm" "$IMAGE" <<'PY'
import json, os, subprocess, sys, time
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import goal, ratio, runs

n, vmm, image = int(sys.argv[1]), sys.argv[2], sys.argv[3]
java = os.environ["JAVA"]
variants = {
    "C (launch-vmm)": [vmm, image],
    "java -jar": [java, "-jar", "target/kvmctl.jar", "launch", "--image", "hello-long.elf"],
    "scripts/kvmctl": ["scripts/kvmctl", "launch", "--image", "hello-long.elf"],
}
times = {name: [] for name in variants}
for i in range(n + 1):  # the first round warms the page cache and is not counted
    for name, cmd in variants.items():
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        ms = (time.perf_counter() - t0) * 1e3
        if p.returncode != 0 or "Hello from long mode, ring 3" not in p.stdout:
            sys.exit(f"bench-startup: {name} failed (status {p.returncode}):\n{p.stdout}{p.stderr}")
        if "warning" in p.stderr.lower():
            sys.exit(f"bench-startup: {name} printed a warning:\n{p.stderr}")
        if i > 0:
            times[name].append(ms)

fig = {name: runs(v) for name, v in times.items()}
c = fig["C (launch-vmm)"]
print("| how | ms, median (min–max) | / C |")
print("| --- | ---: | --- |")
for name, f in fig.items():
    print(f"| {name} | {f.text(1)} | {'—' if f is c else ratio(f, c)} |")
print()
launcher, jar = fig["scripts/kvmctl"], fig["java -jar"]
print(f"- scripts/kvmctl against java -jar: {ratio(launcher, jar)}")
print(f"- Goal, scripts/kvmctl launch ≤ 150 ms median: {launcher.center:.1f} ms: {'met' if launcher.center <= 150 else 'NOT met'}")
print(json.dumps({"launcher_ms": round(launcher.center, 1), "java_jar_ms": round(jar.center, 1),
                  "c_ms": round(c.center, 1), "ratio": round(launcher.center / c.center, 2)}, separators=(",", ":")))
PY
