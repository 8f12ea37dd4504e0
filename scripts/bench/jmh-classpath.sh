# Sourced by the scripts/bench-*.sh that run JMH: compiles the benchmarks (Maven profile 'bench')
# and sets CP to their classpath. Expects OUT (a scratch directory under target/) to be set.
mvn -q -o -Pbench test-compile -DskipTests >/dev/null 2>&1 || mvn -q -Pbench test-compile -DskipTests
mvn -q -o -Pbench dependency:build-classpath -Dmdep.outputFile="$OUT/cp.txt" -Dmdep.includeScope=test >/dev/null
CP="target/test-classes:target/classes:$(cat "$OUT/cp.txt")"
