# kvmctl: one entry point for building, running and testing.
#
#   make          build the native shim, the guest images and target/kvmctl.jar, then the
#                 class-data-sharing archive target/kvmctl.jsa that scripts/kvmctl starts it with
#   make run      build, then run the default demo (two VMs sharing memory) through scripts/kvmctl
#   make test     build and run every test (unit, /dev/kvm integration, container) of both
#                 modules, build the library's public API Javadoc with every doclint check
#                 on (a single warning, a member without Javadoc included, fails it), then fuzz
#                 the parsers briefly (scripts/fuzz.sh --short, one to two minutes; the long run
#                 is scripts/fuzz.sh, see docs/robustness.md)
#   make install  publish the library dev.kvmctl:kvmctl (with its native code; java/lib) to ~/.m2,
#                 with the parent pom and the CLI module (dev.kvmctl:kvmctl-cli; java/cli)
#   make bench    run every benchmark in scripts/ (about 50 minutes; not part of test); each
#                 report, a markdown table, also goes to target/bench/<name>.md
#   make clean
#
# The Maven build is a parent pom (pom.xml) with two modules: java/lib, the library, and java/cli,
# the command line, which writes target/kvmctl.jar here. See docs/architecture.md.

MVN  ?= mvn
JAVA ?= java
MVNFLAGS ?= -q -B

.PHONY: all build cds run test install bench clean

all: build

build:
	$(MVN) $(MVNFLAGS) package -DskipTests
	$(MAKE) --no-print-directory cds

# A static class-data-sharing archive of the classes a launch of a small guest, a snapshot and a
# restore of it load (their class lists merged; a
# dynamic archive, -XX:ArchiveClassesAtExit, leaves out picocli on JDK 17: its classes are of
# Java 5's class-file version). The training runs need /dev/kvm to get through a whole launch;
# without it the lists still hold the start-up classes, so their failures are ignored. The archive
# works only with the JVM that built it and the jar as it is now, at the absolute path it was
# built with (a relative one would hold only in this directory) (scripts/kvmctl checks). The two
# native libraries are unpacked next to it too (target/jni), and the training runs load them from
# there as scripts/kvmctl does: otherwise jffi unpacks its library into a temporary file at every
# start, and JavaCPP searches for the shim's and checks its cache copy.
CDS_TRAIN = $(JAVA) -Xshare:off -Djffi.boot.library.path=$(CURDIR)/target/jni/x86_64-Linux \
	-Dkvmctl.shim.library=$(CURDIR)/target/jni/libjniShim.so -Dorg.bytedeco.javacpp.loadLibraries=false
cds:
	rm -rf target/kvmctl.classlist target/kvmctl.jsa target/kvmctl.jsa.jvm target/jni
	cd target && jar xf kvmctl.jar jni/x86_64-Linux/libjffi-1.2.so dev/kvmctl/internal/bridge/linux-x86_64/libjniShim.so \
	    && mv dev/kvmctl/internal/bridge/linux-x86_64/libjniShim.so jni/ && rm -r dev
	-$(CDS_TRAIN) -XX:DumpLoadedClassList=target/kvmctl-launch.classlist -jar target/kvmctl.jar \
	    launch --image hello-long.elf --json >/dev/null 2>&1
	-$(CDS_TRAIN) -XX:DumpLoadedClassList=target/kvmctl-snapshot.classlist -jar target/kvmctl.jar \
	    launch --image spin --mem 16M --snapshot-after 20ms --snapshot target/cds-training.snap >/dev/null 2>&1
	-$(CDS_TRAIN) -XX:DumpLoadedClassList=target/kvmctl-restore.classlist -jar target/kvmctl.jar \
	    restore --json --timeout 20ms target/cds-training.snap >/dev/null 2>&1
	cat target/kvmctl-launch.classlist target/kvmctl-snapshot.classlist target/kvmctl-restore.classlist 2>/dev/null \
	    | awk '!seen[$$0]++' >target/kvmctl.classlist
	rm -f target/kvmctl-*.classlist target/cds-training.snap
	$(JAVA) -Xshare:dump -XX:SharedClassListFile=target/kvmctl.classlist \
	    -XX:SharedArchiveFile=target/kvmctl.jsa -cp "$(CURDIR)/target/kvmctl.jar" >target/kvmctl-cds.log 2>&1 \
	    || { cat target/kvmctl-cds.log; exit 1; }
	readlink -f "$$(command -v $(JAVA))" >target/kvmctl.jsa.jvm

run: build
	JAVA="$(JAVA)" scripts/kvmctl launch

test:
	$(MVN) $(MVNFLAGS) verify javadoc:javadoc
	MVN="$(MVN)" scripts/fuzz.sh --short

install:
	$(MVN) $(MVNFLAGS) install -DskipTests

BENCHES = exits contexts vm-lifecycle cold-switch allocator allocator-floor shm reset startup restore

bench: build
	mkdir -p target/bench
	for b in $(BENCHES); do \
	    scripts/bench-$$b.sh >target/bench/$$b.md || exit 1; \
	    cat target/bench/$$b.md; echo; \
	done

clean:
	$(MVN) $(MVNFLAGS) clean
