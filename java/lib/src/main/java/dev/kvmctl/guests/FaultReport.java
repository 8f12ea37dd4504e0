package dev.kvmctl.guests;

import dev.kvmctl.Vcpu;
import dev.kvmctl.VmExit;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.Translation;

/** A one-screen dump of a vCPU at a fault: the exit, registers, special registers, code bytes at RIP. */
final class FaultReport {
    private FaultReport() {}

    static String describe(String name, VmExit exit, Vcpu vcpu, GuestMemory ram) {
        StringBuilder sb = new StringBuilder();
        sb.append("guest ").append(name).append(" faulted: ").append(exit).append('\n');
        try {
            Regs regs = vcpu.getRegs(new Regs());
            SRegs sregs = vcpu.getSregs(new SRegs());
            sb.append(regs);
            sb.append(sregs).append('\n');
            sb.append(codeBytes(vcpu, ram, sregs, regs.rip()));
        } catch (RuntimeException e) {
            sb.append("(registers unavailable: ").append(e.getMessage()).append(")\n");
        }
        return sb.toString();
    }

    private static String codeBytes(Vcpu vcpu, GuestMemory ram, SRegs sregs, long rip) {
        long physical;
        if ((sregs.cr0() & 1) == 0) {
            physical = sregs.cs().base() + (rip & 0xffff);
        } else {
            Translation t = vcpu.translate(rip);
            if (!t.valid()) {
                return String.format("code at rip: 0x%x is not mapped%n", rip);
            }
            physical = t.physicalAddress();
        }
        if (physical < 0 || physical >= ram.size()) {
            return String.format("code at rip: guest-physical 0x%x is outside RAM%n", physical);
        }
        int n = (int) Math.min(16, ram.size() - physical);
        StringBuilder sb = new StringBuilder(String.format("code at 0x%x:", physical));
        for (byte b : ram.read(physical, n)) {
            sb.append(String.format(" %02x", b));
        }
        return sb.append('\n').toString();
    }
}
