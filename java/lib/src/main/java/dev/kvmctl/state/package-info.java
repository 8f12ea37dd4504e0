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
 * Regs r = vcpu.getRegs();                  // the vCPU's own buffer, refreshed
 * vcpu.setRegs(r.rip(0x1000).rflags(2));
 * }</pre>
 *
 * <p>Instances are not thread-safe; see {@link dev.kvmctl.state.KvmStruct}.
 */
package dev.kvmctl.state;
