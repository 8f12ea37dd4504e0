package dev.kvmctl.bench;

import dev.kvmctl.Kvm;
import dev.kvmctl.Vm;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Shim;
import dev.kvmctl.GuestMemory;
import java.util.Arrays;

/**
 * The Java side of scripts/bench-vm-lifecycle.sh: the steps of a cold switch that are kernel work
 * (create a VM, map its RAM, create its vCPU, close it), timed one call at a time as in
 * scripts/bench/vm-lifecycle.c, two ways in the same process and interleaved VM by VM:
 * <ul>
 *   <li>{@code raw}: the same ioctls through the bare shim and {@code LibC} (jffi), no kvmctl objects, so it
 *       differs from the C program only by the process it runs in (a JVM);
 *   <li>{@code api}: {@link Kvm#createVm()}, {@link Vm#mapMemory(long, GuestMemory)},
 *       {@link Vm#createVcpu(int)}, {@link Vm#close()}, as {@code Machine.rebuildVm()} calls them.
 * </ul>
 * {@code api} over {@code raw} is what kvmctl's own Java code adds to each step. Not a JMH
 * benchmark: each step is a single call on a fresh VM, which JMH's loops cannot isolate.
 * Prints lines "raw.step us us ..." and "api.step us us ...": the step's mean µs in each round,
 * sorted, as the C program does.
 */
public final class VmLifecycleTimes {
    private static final int WARMUP = 20;
    private static final String[] STEPS = {"create-vm", "map-memory", "create-vcpu", "close", "total"};
    private static final long RAM = 4 << 20;

    private VmLifecycleTimes() {}

    /**
     * Runs the measurement.
     *
     * @param args the number of rounds (default 10) and of VMs each way per round (default 30)
     */
    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int perRound = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        double[][] raw = new double[STEPS.length][rounds];
        double[][] api = new double[STEPS.length][rounds];
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.memfd("lifecycle", RAM)) {
            int kvmFd = LibC.INSTANCE.open(Kvm.DEFAULT_DEVICE.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
            check(kvmFd, "open /dev/kvm");
            int runSize = kvm.vcpuMmapSize();
            try {
                for (int i = -WARMUP; i < rounds * perRound; i++) {
                    int round = i < 0 ? -1 : i / perRound;
                    // Alternate which goes first: a VM's set-up can pay for the teardown the kernel
                    // still finishes for the VM closed just before it.
                    if ((i & 1) == 0) {
                        rawVm(kvmFd, ram, runSize, raw, round, perRound);
                        apiVm(kvm, ram, api, round, perRound);
                    } else {
                        apiVm(kvm, ram, api, round, perRound);
                        rawVm(kvmFd, ram, runSize, raw, round, perRound);
                    }
                }
            } finally {
                LibC.INSTANCE.close(kvmFd);
            }
        }
        print("raw", raw);
        print("api", api);
    }

    private static void rawVm(int kvmFd, GuestMemory ram, int runSize, double[][] us, int round, int perRound) {
        long t0 = System.nanoTime();
        int vm = check(Shim.createVm(kvmFd, 0), "KVM_CREATE_VM");
        long t1 = System.nanoTime();
        check(Shim.setUserMemoryRegion(vm, 0, 0, 0, ram.size(), ram.hostAddress()), "KVM_SET_USER_MEMORY_REGION");
        long t2 = System.nanoTime();
        int vcpu = check(Shim.createVcpu(vm, 0), "KVM_CREATE_VCPU");
        long run = LibC.map(runSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, vcpu);
        if (run == LibC.MAP_FAILED) {
            throw new IllegalStateException("mmap(kvm_run) failed: errno " + LibC.errno());
        }
        long t3 = System.nanoTime();
        LibC.INSTANCE.munmap(run, runSize);
        LibC.INSTANCE.close(vcpu);
        LibC.INSTANCE.close(vm);
        long t4 = System.nanoTime();
        record(us, round, perRound, t0, t1, t2, t3, t4);
    }

    private static void apiVm(Kvm kvm, GuestMemory ram, double[][] us, int round, int perRound) {
        long t0 = System.nanoTime();
        Vm vm = kvm.createVm();
        long t1 = System.nanoTime();
        vm.mapMemory(0, ram);
        long t2 = System.nanoTime();
        vm.createVcpu(0);
        long t3 = System.nanoTime();
        vm.close();
        long t4 = System.nanoTime();
        record(us, round, perRound, t0, t1, t2, t3, t4);
    }

    private static void record(double[][] us, int round, int perRound, long t0, long t1, long t2, long t3, long t4) {
        if (round < 0) {
            return; // warm-up
        }
        long[] ends = {t1, t2, t3, t4};
        long start = t0;
        for (int s = 0; s < 4; s++) {
            us[s][round] += (ends[s] - start) / 1e3 / perRound;
            start = ends[s];
        }
        us[4][round] += (t4 - t0) / 1e3 / perRound;
    }

    private static int check(int result, String what) {
        if (result < 0) {
            throw new IllegalStateException(what + " failed (" + result + ")");
        }
        return result;
    }

    private static void print(String way, double[][] us) {
        for (int s = 0; s < STEPS.length; s++) {
            double[] v = us[s].clone();
            Arrays.sort(v);
            StringBuilder line = new StringBuilder(way).append('.').append(STEPS[s]);
            for (double x : v) {
                line.append(String.format(" %.1f", x));
            }
            System.out.println(line);
        }
    }
}
