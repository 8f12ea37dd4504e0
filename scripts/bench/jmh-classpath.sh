# Sourced by the scripts/bench-*.sh that run JMH: compiles the benchmarks (Maven profile 'bench')
# and sets CP to their classpath. Expects OUT (a scratch directory under target/) to be set.
# Maven's output goes to stderr, so a script's stdout stays its report.
mvn -q -B -o -Pbench test-compile -DskipTests >/dev/null 2>&1 || mvn -q -B -Pbench test-compile -DskipTests >&2
mvn -q -B -o -Pbench dependency:build-classpath -Dmdep.outputFile="$OUT/cp.txt" -Dmdep.includeScope=test >/dev/null
CP="target/test-classes:target/classes:$(cat "$OUT/cp.txt")"
