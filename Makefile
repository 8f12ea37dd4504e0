# kvmctl: one entry point for building, running and testing.
#
#   make          build the native shim, the guest images and target/kvmctl.jar
#   make run      build, then run the default demo (two VMs sharing memory)
#   make test     build and run every test (unit, /dev/kvm integration, container), and check
#                 that the public API's Javadoc builds
#   make install  publish the library (with its native code) to ~/.m2
#   make bench    run the benchmarks in scripts/ (minutes; not part of test)
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

bench: build
	scripts/bench-exits.sh

clean:
	$(MVN) $(MVNFLAGS) clean
