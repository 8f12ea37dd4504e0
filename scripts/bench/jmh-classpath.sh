# Sourced by the scripts/bench-*.sh that run JMH: compiles the benchmarks (the library module's
# Maven profile 'bench', java/lib/src/jmh/java) and sets CP to their classpath. Expects OUT (a
# scratch directory under target/) to be set.
# Maven's output goes to stderr, so a script's stdout stays its report.
LIB=java/lib
mvn -q -B -o -Pbench -pl "$LIB" test-compile -DskipTests >/dev/null 2>&1 || mvn -q -B -Pbench -pl "$LIB" test-compile -DskipTests >&2
mvn -q -B -o -Pbench -pl "$LIB" dependency:build-classpath -Dmdep.outputFile="$PWD/$OUT/cp.txt" -Dmdep.includeScope=test >/dev/null
CP="$LIB/target/test-classes:$LIB/target/classes:$(cat "$OUT/cp.txt")"
