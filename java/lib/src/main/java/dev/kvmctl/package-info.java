/**
 * kvmctl's binding of Linux KVM on x86-64: one type per kernel object, typed exits, one exception.
 *
 * <p>{@link dev.kvmctl.Kvm} is an open {@code /dev/kvm}; it answers system-wide questions and
 * creates {@link dev.kvmctl.Vm}s. A VM maps {@link dev.kvmctl.GuestMemory} into its guest-physical
 * address space in {@link dev.kvmctl.MemorySlot}s, wires {@link dev.kvmctl.EventFd}s to guest
 * writes and interrupts, and creates {@link dev.kvmctl.Vcpu}s. A vCPU's {@code run()} enters the
 * guest and returns a {@link dev.kvmctl.VmExit} saying why it came back; its registers and other
 * state are the structs of {@link dev.kvmctl.state}.
 *
 * <h2 id="shared-or-copy">Shared objects and copies</h2>
 *
 * <p>Only {@code xView()} methods ({@link dev.kvmctl.Vcpu#regsView()},
 * {@link dev.kvmctl.Vcpu#sregsView()}) and {@link dev.kvmctl.Vcpu#run()} (its
 * {@link dev.kvmctl.VmExit}) return objects kvmctl shares and reuses: the zero-allocation hot path,
 * each overwritten by the next call of its kind. A {@code getX()} with no argument returns a new
 * object the caller owns; {@code getX(X into)} fills the caller's and returns it. The full rule is
 * in {@link dev.kvmctl.Vcpu}'s class comment.
 *
 * <h2 id="errors">Errors</h2>
 *
 * <p>A call the kernel refuses throws {@link dev.kvmctl.KvmException}, naming the ioctl (or libc
 * call) and the errno; bad input found before asking the kernel is an
 * {@link IllegalArgumentException} (an index out of range an {@link IndexOutOfBoundsException}); a
 * closed object or one in the wrong state an {@link IllegalStateException}; failed file I/O an
 * {@link java.io.UncheckedIOException}. The rule, with its cases, is in
 * {@link dev.kvmctl.KvmException}'s class comment.
 *
 * <p>Above this binding, {@link dev.kvmctl.guests} boots guest images and runs their exit loop with
 * device models ({@link dev.kvmctl.guests.Machine}); {@link dev.kvmctl.contexts} captures,
 * switches and snapshots machines. {@code docs/writing-a-vmm.md} in the repository walks from
 * {@code Kvm.open()} to a VMM with a device of its own and a snapshot of it.
 *
 * <h2 id="close-order">Close order</h2>
 *
 * <p>Open the {@code Kvm} first, then the memory, then the VMs, in one try-with-resources: it
 * closes them in the reverse order, the VMs first, then the memory, then the {@code Kvm}.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      GuestMemory ram = GuestMemory.anonymous(1 << 20);
 *      Vm vm = kvm.createVm()) {
 *     vm.mapMemory(0, ram);
 *     Vcpu vcpu = vm.createVcpu(0);           // closed with its VM
 *     ...
 * }                                           // closes vm, then ram, then kvm
 * }</pre>
 *
 * <p>Why this order:
 * <ul>
 *   <li>A VM is best closed before the memory it maps. Closing a {@link dev.kvmctl.Vm} closes its
 *       vCPUs and removes its memory slots; the {@link dev.kvmctl.GuestMemory} behind them stays
 *       open. Closing memory that a VM still maps is safe too (nothing is ever unmapped under a
 *       guest: the memory is released when the last VM slot over it goes, see
 *       {@link dev.kvmctl.GuestMemory#close()}), but in this order it is released at once.</li>
 *   <li>Closing a {@link dev.kvmctl.Kvm} closes none of the VMs it created, but a
 *       {@link dev.kvmctl.guests.Machine} asks its {@code Kvm} for a new VM whenever it is rebuilt
 *       (a cold switch, a restore): close the {@code Kvm} last.</li>
 *   <li>The same order holds one level up. A {@code Machine} owns its VM and its RAM and closes
 *       them in that order; memory shared into machines (a
 *       {@link dev.kvmctl.guests.shm.SharedRegion}, or a {@code GuestMemory} given to
 *       {@code GuestConfig.Builder.share}) is opened before the machines and closed after them,
 *       and a {@link dev.kvmctl.guests.shm.SharedMemoryHub} comes between the region and its
 *       machines.</li>
 * </ul>
 *
 * <p>Every example in this documentation, the README and {@code docs/} follows this order.
 *
 * <h2 id="examples">Examples</h2>
 *
 * <p>Every example in this documentation is compiled by kvmctl's build, which fails on any error
 * or warning in one; the README's first program and the guide's VMM are also run, and must print
 * what their documents show. So that examples stay short, an example may use these variables
 * without declaring them (one that declares its own {@code kvm} or {@code vm} means that one):
 * <ul>
 * <li>{@code Kvm kvm}: an open {@code /dev/kvm}</li>
 * <li>{@code Vm vm}: a VM created by {@code kvm}</li>
 * <li>{@code Vcpu vcpu}: vCPU 0 of {@code vm}</li>
 * <li>{@code Vcpu otherVcpu}: a vCPU of another VM (say a brand-new one over the same memory)</li>
 * <li>{@code GuestMemory ram}: the guest's RAM, mapped at guest-physical 0 of {@code vm}</li>
 * <li>{@code Machine machine}: a booted guest</li>
 * <li>{@code GuestImage image}: a guest image</li>
 * <li>{@code Path path}: a file</li>
 * <li>{@code Console console}: where guest output goes</li>
 * <li>{@code Regs regs}: {@code vcpu}'s general registers, a copy as {@code vcpu.getRegs()} returns it</li>
 * <li>{@code SRegs sregs}: {@code vcpu}'s special registers, a copy as {@code vcpu.getSregs()} returns it</li>
 * <li>{@code BlockAllocator allocator}: an allocator of blocks of a shared region</li>
 * <li>{@code Vm vmA}: a VM that shares memory with {@code vmB}</li>
 * <li>{@code Vm vmB}: a VM that shares memory with {@code vmA}</li>
 * </ul>
 *
 * <p>Examples name the public types of {@code dev.kvmctl}, {@code dev.kvmctl.state},
 * {@code dev.kvmctl.contexts}, {@code dev.kvmctl.guests}, {@code dev.kvmctl.guests.devices},
 * {@code dev.kvmctl.guests.shm} and {@code dev.kvmctl.memory}, and {@code java.util},
 * {@code java.nio.file}, {@code Duration} and {@code StandardCharsets}, without importing them. A
 * line that is only {@code ...}, or a block {@code { ... }}, stands for code left out.
 */
package dev.kvmctl;
