package dev.kvmctl;

import dev.kvmctl.state.Segment;

/** Test helper: a VM with RAM at guest-physical 0 and one vCPU in real mode at 0x1000. */
final class RealModeCode implements AutoCloseable {
    static final long ENTRY = 0x1000;

    final Kvm kvm;
    final Vm vm;
    final GuestMemory ram;
    final Vcpu vcpu;

    /** {@code code} at 0x1000, run in real mode with all segments 0; RAM of {@code ramSize} bytes at 0. */
    RealModeCode(long ramSize, int... code) {
        kvm = Kvm.open();
        vm = kvm.createVm();
        ram = GuestMemory.anonymous(ramSize);
        vm.mapMemory(0, ram);
        byte[] bytes = new byte[code.length];
        for (int i = 0; i < code.length; i++) {
            bytes[i] = (byte) code[i];
        }
        ram.write(ENTRY, bytes);
        vcpu = vm.createVcpu(0);
        vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)).dataSegments(Segment.real(0, false)));
        vcpu.setRegs(vcpu.getRegs().rip(ENTRY).rflags(2).rsp(0x7000));
    }

    @Override
    public void close() {
        vm.close();
        ram.close();
        kvm.close();
    }
}
