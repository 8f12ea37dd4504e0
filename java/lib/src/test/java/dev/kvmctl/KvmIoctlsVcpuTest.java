package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.state.Msrs;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.Segment;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * kvm-ioctls' x86-64 vCPU tests (src/ioctls/vcpu.rs) for the calls issue 9 added, on real
 * /dev/kvm, plus tests for those kvm-ioctls lacks (kvmclock control, SMI, nested state,
 * pre-faulting). The guests run from 0x1000 with the segment bases kvm-ioctls' tests set (real
 * mode, all zero). Where this kernel refuses an ioctl the test is skipped naming it and the errno.
 */
class KvmIoctlsVcpuTest {
    private static final int EINVAL = 22, ENOTTY = 25, EOPNOTSUPP = 95;
    private static final long GUEST_ADDR = 0x1000;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** kvm-ioctls' setup: 0x4000 bytes of memory at 0x1000 holding {@code code}, CS base and selector 0. */
    private static Vcpu guest(Vm vm, GuestMemory mem, int... code) {
        vm.mapMemory(GUEST_ADDR, mem);
        mem.write(0, ExitTest.bytes(code));
        Vcpu vcpu = vm.createVcpu(0);
        SRegs sregs = vcpu.getSregs();
        assertNotEquals(0, sregs.cs().base());
        vcpu.setSregs(sregs.cs(Segment.real(0, true))); // base and selector 0
        vcpu.setRegs(vcpu.getRegs().rip(GUEST_ADDR).rflags(2));
        return vcpu;
    }

    @Test
    void test_enable_cap() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.enableCap(Capability.SPLIT_IRQCHIP.number(), 24, 0);
            Vcpu vcpu = vm.createVcpu(0);
            int synic = Layout.intValue("KVM_CAP_HYPERV_SYNIC");
            KernelRefusal.orSkip("KVM_ENABLE_CAP(KVM_CAP_HYPERV_SYNIC) on a vCPU", () -> vcpu.enableCap(synic, 0, 0), EINVAL);
            assertTrue(kvm.checkExtension(synic) > 0, "enabled, so the kernel must report it");
        }
    }

    @Test
    void test_sync_regs() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            for (int set : new int[] {Vcpu.SYNC_REGS, Vcpu.SYNC_SREGS, Vcpu.SYNC_EVENTS}) {
                vcpu.syncValidRegs(set);
                assertEquals(set, vcpu.syncValidRegs());
                vcpu.syncValidRegs(0);
                assertEquals(0, vcpu.syncValidRegs());
                vcpu.syncDirtyRegs(set);
                assertEquals(set, vcpu.syncDirtyRegs());
                vcpu.syncDirtyRegs(0);
                assertEquals(0, vcpu.syncDirtyRegs());
            }
            int all = Vcpu.SYNC_REGS | Vcpu.SYNC_SREGS | Vcpu.SYNC_EVENTS;
            vcpu.syncValidRegs(all);
            vcpu.syncDirtyRegs(all);
            assertEquals(all, vcpu.syncValidRegs());
            assertEquals(all, vcpu.syncDirtyRegs());
        }
    }

    @Test
    void test_sync_regs_with_run() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x4000)) {
            KernelRefusal.requireCap(kvm, "KVM_CAP_SYNC_REGS", Capability.SYNC_REGS.number());
            Vcpu vcpu = guest(vm, mem, 0xff, 0xc0, 0xf4); // inc eax; hlt
            Regs regs = vcpu.getRegs(new Regs());
            regs.rip(GUEST_ADDR).rax(0x8000).rflags(2);
            vcpu.writeSyncedRegs(regs);
            vcpu.syncValidRegs(Vcpu.SYNC_REGS);
            vcpu.syncDirtyRegs(Vcpu.SYNC_REGS);
            assertInstanceOf(VmExit.Hlt.class, vcpu.run());
            Regs synced = vcpu.readSyncedRegs(new Regs());
            assertEquals(0x8001, synced.rax(), "KVM loaded rax from the page and synced it back");
            assertEquals(vcpu.getRegs(new Regs()), synced);
        }
    }

    @Test
    void test_userspace_rdmsr_exit() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x4000)) {
            KernelRefusal.requireCap(kvm, "KVM_CAP_X86_USER_SPACE_MSR", Layout.intValue("KVM_CAP_X86_USER_SPACE_MSR"));
            vm.enableCap(Layout.intValue("KVM_CAP_X86_USER_SPACE_MSR"), VmExit.REASON_UNKNOWN, 0);
            Vcpu vcpu = guest(vm, mem, 0x0f, 0x32, 0xf4); // rdmsr; hlt
            vcpu.setRegs(vcpu.getRegs().rcx(0x474f4f00));
            VmExit exit = vcpu.run();
            VmExit.MsrRead read = assertInstanceOf(VmExit.MsrRead.class, exit, exit.toString());
            assertEquals(VmExit.REASON_UNKNOWN, read.exitReason());
            assertEquals(0x474f4f00, read.index());
            read.answer(0xd0c0ffee_deadbeefL); // beyond kvm-ioctls: complete it and see the guest get it
            assertInstanceOf(VmExit.Hlt.class, vcpu.run());
            Regs regs = vcpu.getRegs();
            assertEquals(0xdeadbeefL, regs.rax() & 0xffffffffL);
            assertEquals(0xd0c0ffeeL, regs.rdx() & 0xffffffffL);
        }
    }

    @Test
    void test_userspace_wrmsr_exit() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x4000)) {
            KernelRefusal.requireCap(kvm, "KVM_CAP_X86_USER_SPACE_MSR", Layout.intValue("KVM_CAP_X86_USER_SPACE_MSR"));
            vm.enableCap(Layout.intValue("KVM_CAP_X86_USER_SPACE_MSR"), VmExit.REASON_UNKNOWN, 0);
            Vcpu vcpu = guest(vm, mem, 0x0f, 0x30, 0xf4); // wrmsr; hlt
            vcpu.setRegs(vcpu.getRegs().rcx(0x474f4f00).rax(0xdeadbeefL).rdx(0xd0c0ffeeL));
            VmExit exit = vcpu.run();
            VmExit.MsrWrite write = assertInstanceOf(VmExit.MsrWrite.class, exit, exit.toString());
            assertEquals(VmExit.REASON_UNKNOWN, write.exitReason());
            assertEquals(0x474f4f00, write.index());
            assertEquals(0xdeadbeefL, write.data() & 0xffffffffL);
            assertEquals(0xd0c0ffeeL, (write.data() >>> 32) & 0xffffffffL);
            write.accept();
            assertInstanceOf(VmExit.Hlt.class, vcpu.run());
        }
    }

    @Test
    void test_userspace_hypercall_exit() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x4000)) {
            int cap = Layout.intValue("KVM_CAP_EXIT_HYPERCALL");
            long mapGpaRange = 12; // KVM_HC_MAP_GPA_RANGE
            KernelRefusal.requireCap(kvm, "KVM_CAP_EXIT_HYPERCALL", cap);
            // As kvm-ioctls: vmcall or vmmcall by the VMX/SVM CPUID bits, and no test without either.
            dev.kvmctl.state.Cpuid cpuid = kvm.supportedCpuid();
            boolean vmcall = cpuid.find(1, 0).map(e -> (e.ecx() & (1 << 5)) != 0).orElse(false);
            boolean vmmcall = cpuid.find(0x80000001, 0).map(e -> (e.ecx() & (1 << 2)) != 0).orElse(false);
            org.junit.jupiter.api.Assumptions.assumeTrue(vmcall || vmmcall,
                    "the supported CPUID offers neither vmcall (VMX) nor vmmcall (SVM), as kvm-ioctls requires");
            KernelRefusal.orSkip("KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)", () -> vm.enableCap(cap, 1L << mapGpaRange, 0), EINVAL);
            Vcpu vcpu = vmcall ? guest(vm, mem, 0x0f, 0x01, 0xc1, 0xf4) : guest(vm, mem, 0x0f, 0x01, 0xd9, 0xf4);
            vcpu.setRegs(vcpu.getRegs().rax(mapGpaRange).rbx(0x1234000).rcx(1).rdx(0));
            VmExit exit = vcpu.run();
            VmExit.Hypercall call = assertInstanceOf(VmExit.Hypercall.class, exit, exit.toString());
            assertEquals(mapGpaRange, call.number());
            assertEquals(0x1234000, call.arg(0));
            assertEquals(1, call.arg(1));
            assertEquals(0, call.arg(2));
            call.answer(0);
            assertInstanceOf(VmExit.Hlt.class, vcpu.run());
        }
    }

    @Test
    void test_coalesced_pio() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x4000)) {
            assertTrue(vm.checkExtension(Layout.intValue("KVM_CAP_COALESCED_PIO")) > 0);
            vm.registerCoalescedIo(Vm.IoSpace.PIO, 0x2c, 1);
            Vcpu vcpu = guest(vm, mem, 0xe6, 0x2c, 0xf4, 0xe6, 0x2c, 0xf4); // out 0x2c, al; hlt; twice
            vcpu.setRegs(vcpu.getRegs().rax(0x39));
            assertInstanceOf(VmExit.Hlt.class, vcpu.run(), "the port write was batched, not an exit");
            CoalescedIo entry = new CoalescedIo();
            assertTrue(vcpu.nextCoalescedIo(entry));
            assertEquals(0x2c, entry.address());
            assertEquals(1, entry.length());
            assertEquals(0x39, entry.data());
            assertTrue(entry.pio());
            assertFalse(vcpu.nextCoalescedIo(entry), "the ring is empty now");
            vm.unregisterCoalescedIo(Vm.IoSpace.PIO, 0x2c, 1);
            VmExit.IoOut out = assertInstanceOf(VmExit.IoOut.class, vcpu.run());
            assertEquals(0x2c, out.port());
            assertEquals(0x39, out.value());
        }
    }

    @Test
    void test_coalesced_mmio() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x4000)) {
            assertTrue(vm.checkExtension(Capability.COALESCED_MMIO) > 0);
            vm.registerCoalescedIo(Vm.IoSpace.MMIO, 0x124, 2);
            int[] store = {0x66, 0x31, 0xff, 0x66, 0xbf, 0x24, 0x01, 0x00, 0x00, 0x67, 0x89, 0x07, 0xf4};
            // xor edi, edi; mov edi, 0x124; mov [edi], ax; hlt; twice
            int[] code = new int[store.length * 2];
            System.arraycopy(store, 0, code, 0, store.length);
            System.arraycopy(store, 0, code, store.length, store.length);
            Vcpu vcpu = guest(vm, mem, code);
            vcpu.setRegs(vcpu.getRegs().rax(0x39).rdx(0x124));
            VmExit first = vcpu.run();
            assertInstanceOf(VmExit.Hlt.class, first, "the MMIO write was batched, not an exit: " + first);
            CoalescedIo entry = new CoalescedIo();
            assertTrue(vcpu.nextCoalescedIo(entry));
            assertEquals(0x124, entry.address());
            assertEquals(2, entry.length());
            assertEquals(0x39, entry.data());
            assertFalse(entry.pio());
            assertFalse(vcpu.nextCoalescedIo(entry));
            vm.unregisterCoalescedIo(Vm.IoSpace.MMIO, 0x124, 2);
            VmExit.MmioWrite write = assertInstanceOf(VmExit.MmioWrite.class, vcpu.run());
            assertEquals(0x124, write.address());
            assertEquals(0x39, write.value());
        }
    }

    @Test
    void test_vcpu_attr() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            int group = Layout.intValue("KVM_VCPU_TSC_CTRL");
            long offset = Layout.value("KVM_VCPU_TSC_OFFSET");
            assertFalse(vcpu.hasDeviceAttribute(group, 0x7fff));
            org.junit.jupiter.api.Assumptions.assumeTrue(vcpu.hasDeviceAttribute(group, offset),
                    "KVM_HAS_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET): ENXIO on this kernel");
            long before = vcpu.getDeviceAttribute(group, offset);
            vcpu.setDeviceAttribute(group, offset, before + 1_000_000);
            long after = vcpu.getDeviceAttribute(group, offset);
            // PVM does not virtualize the TSC (the guest's is the host's): it accepts the offset and keeps 0.
            org.junit.jupiter.api.Assumptions.assumeFalse(kvm.backend() == Backend.PVM && after == before,
                    "KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET) succeeds but PVM keeps the offset at " + after
                    + " (no TSC virtualization)");
            assertEquals(before + 1_000_000, after);
        }
    }

    @Test
    void kvmclock_ctrl() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x4000)) {
            KernelRefusal.requireCap(kvm, "KVM_CAP_KVMCLOCK_CTRL", Capability.KVMCLOCK_CTRL.number());
            vm.mapMemory(0, mem);
            Vcpu vcpu = vm.createVcpu(0);
            KvmException notYet = org.junit.jupiter.api.Assertions.assertThrows(KvmException.class, vcpu::kvmclockCtrl);
            assertEquals(EINVAL, notYet.errno(), "no kvmclock yet: " + notYet.getMessage());
            // The guest's side of kvmclock: MSR_KVM_SYSTEM_TIME_NEW = the pvclock page | enable.
            assertEquals(1, vcpu.setMsrs(Msrs.of(0x4b564d01).value(0, 0x2000 | 1)));
            vcpu.kvmclockCtrl();
        }
    }

    @Test
    void smi() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            KernelRefusal.orSkip("KVM_SMI", vcpu::injectSmi, ENOTTY);
            assertTrue(kvm.checkExtension(Layout.intValue("KVM_CAP_X86_SMM")) > 0, "SMI accepted, so SMM is there");
        }
    }

    @Test
    void nested_state() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            int size = Math.max(kvm.checkExtension(Layout.intValue("KVM_CAP_NESTED_STATE")), 128);
            ByteBuffer state = Memory.allocate(size);
            int used = KernelRefusal.orSkip("KVM_GET_NESTED_STATE", () -> vcpu.getNestedState(state), EINVAL, ENOTTY);
            assertTrue(used > 0 && used <= size);
            vcpu.setNestedState(state);
        }
    }

    @Test
    void pre_fault_memory() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm(); GuestMemory mem = GuestMemory.anonymous(0x10000)) {
            vm.mapMemory(0, mem);
            Vcpu vcpu = vm.createVcpu(0);
            long done = KernelRefusal.orSkip("KVM_PRE_FAULT_MEMORY", () -> vcpu.preFaultMemory(0, 0x10000), EOPNOTSUPP, ENOTTY);
            assertTrue(done > 0 && done <= 0x10000);
        }
    }
}
