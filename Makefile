# kvmctl: one entry point for building, running and testing.
#
#   make          build the native shim, the guest images and target/kvmctl.jar
#   make run      build, then run the default demo (two VMs sharing memory)
#   make test     build and run every test (unit, /dev/kvm integration, container), and check
#                 that the public API's Javadoc builds
#   make install  publish the library (with its native code) to ~/.m2
#   make bench    run every benchmark in scripts/ (about 15 minutes; not part of test); each
#                 report, a markdown table, also goes to target/bench/<name>.md
#   make clean

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

install:
	$(MVN) $(MVNFLAGS) install -DskipTests

BENCHES = exits contexts vm-lifecycle allocator shm

bench: build
	mkdir -p target/bench
	for b in $(BENCHES); do \
	    scripts/bench-$$b.sh >target/bench/$$b.md || exit 1; \
	    cat target/bench/$$b.md; echo; \
	done

clean:
	$(MVN) $(MVNFLAGS) clean
