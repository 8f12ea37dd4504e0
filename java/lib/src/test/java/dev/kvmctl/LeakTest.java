package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.state.Segment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** 1,000 VMs with a vCPU and memory each: every fd and mapping comes back. */
class LeakTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void thousandVmsLeaveNothingBehind() throws IOException {
        try (Kvm kvm = Kvm.open()) {
            Snapshot before = Snapshot.take();
            for (int i = 0; i < 1000; i++) {
                try (GuestMemory ram = (i % 2 == 0) ? GuestMemory.anonymous(64 << 10) : GuestMemory.memfd("leak", 64 << 10);
                     Vm vm = kvm.createVm()) {
                    vm.mapMemory(0, ram);
                    ram.putByte(0x1000, (byte) 0xf4); // hlt
                    Vcpu vcpu = vm.createVcpu(0);
                    if (i % 100 == 0) {
                        vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)));
                        vcpu.setRegs(vcpu.getRegs().rip(0x1000).rflags(2));
                        assertInstanceOf(VmExit.Hlt.class, vcpu.run());
                    }
                }
            }
            Snapshot after = Snapshot.take();
            assertEquals(before.kvmFds, after.kvmFds, "KVM VM/vCPU fds");
            assertEquals(before.memfds, after.memfds, "memfds");
            assertEquals(before.kvmMappings, after.kvmMappings, "kvm_run and memfd mappings");
            assertTrue(Math.abs(after.fds - before.fds) <= 2, "open fds " + before.fds + " -> " + after.fds);
        }
    }

    /** What the process holds now, from /proc/self. */
    record Snapshot(long fds, long kvmFds, long memfds, long kvmMappings) {
        static Snapshot take() throws IOException {
            long fds = 0, kvmFds = 0, memfds = 0;
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                for (Path p : s.toList()) {
                    fds++;
                    String target;
                    try {
                        target = Files.readSymbolicLink(p).toString();
                    } catch (IOException e) {
                        continue; // the directory's own fd, gone by now
                    }
                    if (target.startsWith("anon_inode:kvm-")) {
                        kvmFds++;
                    } else if (target.startsWith("/memfd:")) {
                        memfds++;
                    }
                }
            }
            List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
            long kvmMappings = maps.stream().filter(l -> l.contains("kvm-vcpu") || l.contains("/memfd:")).count();
            return new Snapshot(fds, kvmFds, memfds, kvmMappings);
        }
    }
}
