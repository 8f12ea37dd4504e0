/**
 * The kernel's structs ({@code struct kvm_regs}, {@code kvm_sregs}, {@code kvm_xsave},
 * {@code kvm_msrs}, ...) as Java objects that hold them in their own direct buffers, in the
 * kernel's layout: a vCPU or VM ioctl reads or writes one in place, by address, so a get or set
 * copies nothing on the Java side. Field offsets come from the C compiler (the native library's
 * layout table), never written twice.
 *
 * <p>Fill one with a {@code get} of {@link dev.kvmctl.Vcpu} or {@link dev.kvmctl.Vm}, change
 * fields with its fluent setters, write it back with the matching {@code set}:
 *
 * <pre>{@code
 * Regs r = vcpu.getRegs();                  // a new copy, the caller's
 * vcpu.setRegs(r.rip(0x1000).rflags(2));
 * Regs hot = vcpu.regsView();               // the vCPU's own struct, refreshed, reused: allocates nothing
 * }</pre>
 *
 * <p>Whose struct a call returns follows one naming rule (see {@link dev.kvmctl.Vcpu}): a
 * {@code getX()} with no argument returns a new struct; {@code getX(X into)} fills the caller's;
 * only {@code xView()} returns a struct the vCPU shares and overwrites on the next such call.
 *
 * <p>Every field of the kernel's structs has an accessor: {@link dev.kvmctl.state.Irqchip} (the
 * PICs' registers, the IOAPIC's base, id, IRR and redirection table),
 * {@link dev.kvmctl.state.PitState} (every field of the three channels, the flags),
 * {@link dev.kvmctl.state.VcpuEvents}, {@link dev.kvmctl.state.Fpu}, {@link dev.kvmctl.state.Xcrs},
 * {@link dev.kvmctl.state.DebugRegs} and {@link dev.kvmctl.state.Lapic} (registers by name or
 * offset). Getters and fluent setters share the field's name; {@link dev.kvmctl.state.Segment} is
 * a record with a {@code with…} method per component.
 *
 * <p>Instances are not thread-safe; see {@link dev.kvmctl.state.KvmStruct}.
 */
package dev.kvmctl.state;
