package dev.kvmctl.bench;

import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.state.Regs;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The Java side of scripts/bench-exits.sh: the same ring-3 guest as scripts/bench/exit-bench.c
 * (a loop of {@code out dx, al} to port 0x500), driven three ways:
 * through kvmctl's API ({@code kvmctl*}), and through JNR-FFI calling ioctl(2) directly
 * ({@code jnr*}), to show what the JavaCPP shim buys. Guest RAM is a shared memfd mapping, as in
 * the C baseline and in kvmctl's {@code Machine}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ExitBench {
    private static final byte[] LOOP = {0x66, (byte) 0xba, 0x00, 0x05, (byte) 0xee, (byte) 0xeb, (byte) 0xfd};

    private Kvm kvm;
    private GuestMemory ram;
    private Vm vm;
    private Vcpu vcpu;
    private Regs regs;
    private ByteBuffer run;
    private long regsAddress;
    private int vcpuFd;
    private long kvmRun;
    private long kvmGetRegs;
    private long kvmSetRegs;
    private int exitReason;

    @Setup
    public void setUp() {
        kvm = Kvm.open();
        ram = GuestMemory.memfd("exit-bench", 4 << 20);
        vm = kvm.createVm();
        vm.mapMemory(0, ram);
        ram.write(0x100000, LOOP);
        vcpu = vm.createVcpu(0);
        BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, 0x100000, ram.size(), BootInfo.single(ram.size()));
        regs = new Regs();
        regsAddress = regs.address();
        vcpuFd = vcpu.fd();
        run = vcpu.runPage();
        kvmRun = Layout.value("KVM_RUN");
        kvmGetRegs = Layout.value("KVM_GET_REGS");
        kvmSetRegs = Layout.value("KVM_SET_REGS");
        exitReason = Layout.offsetOf("kvm_run", "exit_reason");
        // Sanity: the guest really produces port-I/O exits to 0x500.
        VmExit exit = vcpu.run();
        if (!(exit instanceof VmExit.IoOut out) || out.port() != 0x500) {
            throw new IllegalStateException("benchmark guest misbehaves: " + exit);
        }
        Memory.addressOf(ByteBuffer.allocateDirect(1)); // load the memory helpers before measuring
    }

    @TearDown
    public void tearDown() {
        vm.close();
        ram.close();
        kvm.close();
    }

    /** One KVM_RUN returning a port-I/O exit, decoded into the typed exit (returns the port). */
    @Benchmark
    public int kvmctlPortIoExit() {
        VmExit exit = vcpu.run();
        return ((VmExit.IoOut) exit).port();
    }

    /** KVM_GET_REGS and KVM_SET_REGS through the per-vCPU Regs view. */
    @Benchmark
    public long kvmctlRegsGetSet() {
        Regs r = vcpu.regsView();
        vcpu.setRegs(r);
        return r.rip();
    }

    /** The same KVM_RUN through JNR-FFI's ioctl(2), reading the exit reason from the mapped page. */
    @Benchmark
    public int jnrPortIoExit() {
        if (LibC.INSTANCE.ioctl(vcpuFd, kvmRun, 0) < 0) {
            throw new IllegalStateException("KVM_RUN failed");
        }
        return run.getInt(exitReason);
    }

    /** KVM_GET_REGS and KVM_SET_REGS through JNR-FFI's ioctl(2). */
    @Benchmark
    public int jnrRegsGetSet() {
        int a = LibC.INSTANCE.ioctl(vcpuFd, kvmGetRegs, regsAddress);
        int b = LibC.INSTANCE.ioctl(vcpuFd, kvmSetRegs, regsAddress);
        return a | b;
    }
}
