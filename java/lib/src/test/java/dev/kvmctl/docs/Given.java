package dev.kvmctl.docs;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.memory.BlockAllocator;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import java.nio.file.Path;

/**
 * The variables a code example in kvmctl's documentation may use without declaring them: the
 * objects a VMM has in hand. {@link DocExampleCompiler} compiles every example that is not a whole
 * compilation unit as the body of a method of a subclass of this class, so an example that
 * declares its own {@code kvm} or {@code vm} simply shadows the field. The fields are never set:
 * the examples are compiled, not run (whole programs, such as the README's, are run).
 *
 * <p>The list is stated for readers in the overview of the {@code dev.kvmctl} package
 * ({@code package-info.java}, "Examples"); {@link JavadocExamplesTest} checks that the two agree.
 */
public abstract class Given {
    /** An open {@code /dev/kvm}. */
    protected Kvm kvm;
    /** A VM created by {@link #kvm}. */
    protected Vm vm;
    /** vCPU 0 of {@link #vm}. */
    protected Vcpu vcpu;
    /** A vCPU of another VM (say a brand-new one over the same memory), to restore state into. */
    protected Vcpu otherVcpu;
    /** The guest's RAM, mapped at guest-physical 0 of {@link #vm}. */
    protected GuestMemory ram;
    /** A booted guest ({@code dev.kvmctl.guests.Machine}). */
    protected Machine machine;
    /** A guest image. */
    protected GuestImage image;
    /** A file. */
    protected Path path;
    /** Where guest output goes. */
    protected Console console;
    /** {@link #vcpu}'s general registers, a copy as {@code vcpu.getRegs()} returns it. */
    protected Regs regs;
    /** {@link #vcpu}'s special registers, a copy as {@code vcpu.getSregs()} returns it. */
    protected SRegs sregs;
    /** An allocator of blocks of a shared region. */
    protected BlockAllocator allocator;
    /** A VM that shares memory with {@link #vmB}. */
    protected Vm vmA;
    /** A VM that shares memory with {@link #vmA}. */
    protected Vm vmB;
}
