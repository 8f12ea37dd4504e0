# kvmctl: one entry point for building, running and testing.
#
#   make          build the native shim, the guest images and target/kvmctl.jar
#   make run      build, then run the default demo (two VMs sharing memory)
#   make test     build and run every test (unit, /dev/kvm integration, container) of both
#                 modules, build the library's public API Javadoc with every doclint check
#                 on (a single warning, a member without Javadoc included, fails it), then fuzz
#                 the parsers briefly (scripts/fuzz.sh --short, one to two minutes; the long run
#                 is scripts/fuzz.sh, see docs/robustness.md)
#   make install  publish the library dev.kvmctl:kvmctl (with its native code; java/lib) to ~/.m2,
#                 with the parent pom and the CLI module (dev.kvmctl:kvmctl-cli; java/cli)
#   make bench    run every benchmark in scripts/ (about 30 minutes; not part of test); each
#                 report, a markdown table, also goes to target/bench/<name>.md
#   make clean
#
# The Maven build is a parent pom (pom.xml) with two modules: java/lib, the library, and java/cli,
# the command line, which writes target/kvmctl.jar here. See docs/architecture.md.

MVN  ?= mvn
JAVA ?= java
MVNFLAGS ?= -q -B

.PHONY: all build run test install bench clean

all: build

build:
	$(MVN) $(MVNFLAGS) package -DskipTests

run: build
	$(JAVA) -jar target/kvmctl.jar launch

test:
	$(MVN) $(MVNFLAGS) verify javadoc:javadoc
	MVN="$(MVN)" scripts/fuzz.sh --short

install:
	$(MVN) $(MVNFLAGS) install -DskipTests

BENCHES = exits contexts vm-lifecycle cold-switch allocator shm reset

bench: build
	mkdir -p target/bench
	for b in $(BENCHES); do \
	    scripts/bench-$$b.sh >target/bench/$$b.md || exit 1; \
	    cat target/bench/$$b.md; echo; \
	done

clean:
	$(MVN) $(MVNFLAGS) clean
