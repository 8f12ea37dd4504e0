package dev.kvmctl.bench;

import dev.kvmctl.Kvm;
import dev.kvmctl.VmExit;
import dev.kvmctl.contexts.MachineContext;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.state.MpState;
import java.io.OutputStream;
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
 * The Java side of scripts/bench-contexts.sh: context capture, restore, and warm and cold switches
 * through dev.kvmctl.contexts, on the guest of scripts/bench/context-bench.c (its C baseline).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ContextBench {
    private static final byte[] LOOP = {0x66, (byte) 0xba, 0x00, 0x05, (byte) 0xee, (byte) 0xeb, (byte) 0xfd};

    private Kvm kvm;
    private Machine a;
    private Machine b;
    private MachineContext ctxA;
    private MachineContext ctxB;
    private final MpState mp = new MpState();

    @Setup
    public void setUp() {
        kvm = Kvm.open();
        a = boot("a");
        b = boot("b");
        for (Machine m : new Machine[] {a, b}) {
            for (int i = 0; i < 3; i++) {
                if (!(m.vcpu().run() instanceof VmExit.IoOut)) {
                    throw new IllegalStateException("benchmark guest misbehaves");
                }
            }
        }
        ctxA = new MachineContext(a);
        ctxB = new MachineContext(b);
        ctxA.capture(a); // learns which MSRs KVM refuses here, as the C baseline does
        ctxA.restore(a);
        ctxB.capture(b);
        ctxB.restore(b);
    }

    private Machine boot(String name) {
        GuestImage image = GuestImage.parse(name, LOOP, 0x100000, 0x100000);
        return Machine.boot(kvm, GuestConfig.builder(image).name(name).mode(CpuMode.LONG).ring(3).memorySize(4 << 20)
                .console(new Console(OutputStream.nullOutputStream(), null)).build());
    }

    @TearDown
    public void tearDown() {
        a.close();
        b.close();
        kvm.close();
    }

    /** One vCPU ioctl: the unit every other figure is made of. */
    @Benchmark
    public MpState ioctl() {
        return a.vcpu().getMpState(mp);
    }

    @Benchmark
    public MachineContext capture() {
        ctxA.capture(a);
        return ctxA;
    }

    @Benchmark
    public MachineContext restore() {
        ctxA.restore(a);
        return ctxA;
    }

    /** Capture the outgoing VM, restore the incoming one (both stay). */
    @Benchmark
    public MachineContext warmSwitch() {
        ctxA.capture(a);
        ctxB.restore(b);
        return ctxB;
    }

    /** Capture, close the VM, build a brand-new one over the same memory, restore. */
    @Benchmark
    public MachineContext coldSwitch() {
        ctxA.capture(a);
        a.rebuildVm();
        ctxA.restore(a);
        return ctxA;
    }
}
