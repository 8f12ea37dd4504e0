package dev.kvmctl;

import dev.kvmctl.guests.shm.SharedRegion;
import dev.kvmctl.state.ClockData;
import dev.kvmctl.state.Cpuid;
import dev.kvmctl.state.DebugRegs;
import dev.kvmctl.state.DescriptorTable;
import dev.kvmctl.state.Fpu;
import dev.kvmctl.state.GuestDebug;
import dev.kvmctl.state.Irqchip;
import dev.kvmctl.state.KvmStruct;
import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.MpState;
import dev.kvmctl.state.Msrs;
import dev.kvmctl.state.PitState;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.Segment;
import dev.kvmctl.state.VcpuEvents;
import dev.kvmctl.state.Xcrs;
import dev.kvmctl.state.Xsave;
import java.io.IOException;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

/**
 * The child JVM of {@link UseAfterCloseTest}: builds kvmctl objects, closes them in one order,
 * then calls every public instance method of each (found by reflection) and prints one line per
 * call, flushed before and after it, so that a crash shows which call was running:
 *
 * <pre>
 * TARGET label class expectation       expectation: closed (must refuse) or kept (must not crash)
 * CALL label signature
 * RESULT label signature REFUSED|RETURNED|THREW detail
 * NOARGS label signature type          no argument of that type can be made: a case is missing
 * CHECK name ok|FAIL detail            a scenario-specific assertion
 * DONE scenario
 * </pre>
 */
public final class UseAfterCloseProbe {
    /** Real-mode code at 0x1000: one exit of each kind kvmctl can provoke simply, then hlt. */
    static final byte[] EXITS = bytes(
            0xb0, 0x42,             // mov al, 0x42
            0xe6, 0x80,             // out 0x80, al        -> IoOut
            0xe4, 0x81,             // in al, 0x81         -> IoIn
            0xb8, 0x00, 0x20,       // mov ax, 0x2000
            0x8e, 0xd8,             // mov ds, ax
            0xa0, 0x00, 0x00,       // mov al, [0]         -> MmioRead of 0x20000 (no RAM there)
            0xa2, 0x00, 0x00,       // mov [0], al         -> MmioWrite
            0xf4);                  // hlt                 -> Hlt
    /** {@code out 0x80, al} forever. */
    static final byte[] OUT_LOOP = bytes(0xb0, 0x42, 0xe6, 0x80, 0xeb, 0xfc);
    /** {@code jmp $}: never exits by itself. */
    static final byte[] SPIN = bytes(0xeb, 0xfe);
    /** Reads the byte at 0x20000 and writes it to port 0x80, forever. */
    static final byte[] READ_LOOP = bytes(0xb8, 0x00, 0x20, 0x8e, 0xd8, 0xa0, 0x00, 0x00, 0xe6, 0x80, 0xeb, 0xf9);

    /** Methods any closed object may answer: they report on the close or need no resource. */
    static final List<String> ALWAYS_ANSWER = List.of("close", "isClosed", "toString", "hashCode", "equals");

    private UseAfterCloseProbe() {}

    // ---- what the parent needs too ----

    /** The public instance methods a caller can reach, excluding Object's own, in a stable order. */
    static List<Method> publicMethods(Class<?> type) {
        return Arrays.stream(type.getMethods())
                .filter(m -> !Modifier.isStatic(m.getModifiers()) && !m.isSynthetic() && !m.isBridge())
                .filter(m -> m.getDeclaringClass() != Object.class)
                .sorted(Comparator.comparing(UseAfterCloseProbe::signature))
                .collect(Collectors.toList());
    }

    static String signature(Method m) {
        return m.getName() + Arrays.stream(m.getParameterTypes()).map(Class::getSimpleName)
                .collect(Collectors.joining(",", "(", ")"));
    }

    /** Whether a closed object of {@code type} may answer {@code m} instead of refusing (each documented). */
    static boolean mayAnswer(Class<?> type, Method m) {
        String name = m.getName();
        if (ALWAYS_ANSWER.contains(name)) {
            return true;
        }
        if (type == Vcpu.class && name.equals("kick")) {
            return true; // a no-op on a closed vCPU (Vcpu's class comment)
        }
        // VmExit: the reason and the kind need no page (VmExit's class comment).
        return VmExit.class.isAssignableFrom(type) && m.getParameterCount() == 0
                && (name.equals("reason") || name.equals("kind"));
    }

    // ---- the child ----

    public static void main(String[] args) throws Exception {
        String scenario = args[0];
        try (Helpers h = new Helpers()) {
            switch (scenario) {
                case "kvm" -> kvmClosed(h);
                case "vcpu" -> vcpuClosed(h);
                case "vm" -> vmClosed(h);
                case "vcpu-then-vm" -> vcpuThenVm(h, true);
                case "vm-then-vcpu" -> vcpuThenVm(h, false);
                case "memory" -> memoryClosed(h);
                case "memory-before-vm" -> memoryBeforeVm(h);
                case "vm-before-memory" -> vmBeforeMemory(h);
                case "eventfd" -> eventFdClosed(h);
                case "userfaultfd" -> userFaultFdClosed(h);
                case "races" -> UseAfterCloseRaces.all(h.kvm);
                case "issue9" -> issue9Closed(h);
                default -> throw new IllegalArgumentException(scenario);
            }
        }
        out("DONE " + scenario);
        System.exit(0); // the Cleaner thread is a daemon; nothing else may keep the JVM
    }

    /** A closed Kvm; a VM it made keeps working. */
    private static void kvmClosed(Helpers h) {
        Kvm kvm = Kvm.open();
        Vm vm = kvm.createVm();
        kvm.close();
        callAll("kvm", Kvm.class, kvm, "closed", h);
        try (GuestMemory ram = GuestMemory.anonymous(0x10000)) {
            vm.mapMemory(0, ram);
            ram.write(0x1000, bytes(0xf4));
            Vcpu vcpu = vm.createVcpu(0);
            realMode(vcpu);
            check("vm-outlives-its-kvm", vcpu.run() instanceof VmExit.Hlt, "a VM made before its Kvm closed runs");
            vm.close();
        }
    }

    /** Only the vCPU closed; its VM stays open and makes another. */
    private static void vcpuClosed(Helpers h) {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(0x10000); Vm vm = kvm.createVm()) {
            Guest g = new Guest(vm, ram, EXITS);
            g.runAllExits();
            ByteBuffer runView = g.vcpu.runPage();
            ByteBuffer data = g.keptData;
            // the data area last held the in's answer (7), after the out's 0x42
            check("views-before", runView.getInt(RunPage.EXIT_REASON) == RunPage.EXIT_HLT && data.get(0) == 7,
                    "kvm_run views read the exit before the close");
            g.vcpu.close();
            check("views-after", runView.getInt(RunPage.EXIT_REASON) == 0 && data.get(0) == 0,
                    "kept kvm_run views read zeros after the close");
            check("kept-exit", g.keptPort == 0x80 && refuses(g.keptOut::port), "a kept IoOut refuses port()");
            callAll("vcpu", Vcpu.class, g.vcpu, "closed", h);
            callExits(g.vcpu, h);
            check("vm-still-open", vm.vcpus().isEmpty() && vm.createVcpu(1).id() == 1,
                    "the VM forgets the closed vCPU and makes another");
            System.gc(); // the views and exits stay reachable: the zero page must still be there
            check("views-after-gc", runView.getInt(RunPage.EXIT_REASON) == 0 && data.get(0) == 0,
                    "kept views still read zeros after a GC");
        }
    }

    /** The VM closed (which closes its vCPU); the structs read from them are kept. */
    private static void vmClosed(Helpers h) {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(0x10000)) {
            Vm vm = kvm.createVm();
            vm.createIrqchip();
            vm.createPit();
            Guest g = new Guest(vm, ram, EXITS);
            List<Object> views = structsOf(kvm, vm, g.vcpu);
            Regs regs = g.vcpu.getRegs();
            long rip = regs.rip();
            vm.close();
            check("vcpu-closed-with-vm", g.vcpu.isClosed(), "closing a VM closes its vCPUs");
            callAll("vm", Vm.class, vm, "closed", h);
            callAll("vcpu", Vcpu.class, g.vcpu, "closed", h);
            callExits(g.vcpu, h);
            check("kept-regs", regs.rip() == rip && rip != 0, "kept Regs keep the values last read");
            for (Object view : views) {
                callAll("view:" + view.getClass().getSimpleName(), view.getClass(), view, "kept", h);
            }
        }
    }

    /** Both closed, in either order. */
    private static void vcpuThenVm(Helpers h, boolean vcpuFirst) {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(0x10000)) {
            Vm vm = kvm.createVm();
            Guest g = new Guest(vm, ram, EXITS);
            g.runAllExits();
            if (vcpuFirst) {
                g.vcpu.close();
                vm.close();
            } else {
                vm.close();
                g.vcpu.close();
            }
            callAll("vm", Vm.class, vm, "closed", h);
            callAll("vcpu", Vcpu.class, g.vcpu, "closed", h);
            callExits(g.vcpu, h);
        }
    }

    /** Memory no VM maps, closed; a slice kept past the close; a second mapping of the memfd lives on. */
    private static void memoryClosed(Helpers h) throws IOException {
        GuestMemory m = GuestMemory.memfd("probe-closed", 0x10000);
        GuestMemory again = m.mapAgain();
        m.putLong(0, 0x1122334455667788L);
        ByteBuffer slice = m.slice(0, 4096);
        long address = m.hostAddress();
        m.close();
        callAll("memory", GuestMemory.class, m, "closed", h);
        check("slice-reads-zeros", slice.getLong(0) == 0, "a kept slice reads zeros after the close");
        slice.putLong(8, 5); // lands in a private page nobody reads
        check("map-again-lives", again.getLong(0) == 0x1122334455667788L, "the second mapping keeps the bytes");
        again.close();
        System.gc();
        check("slice-after-gc", slice.getLong(0) == 0 && slice.getLong(8) == 5, "a reachable slice keeps its zero page");
        slice = null;
        m = null;
        check("unmapped-when-unreachable", awaitUnmapped(address), "the zero page goes once nothing can reach it");
    }

    /** Memory (and a shared region) closed while a VM maps them: the guest keeps both until the VM goes. */
    private static void memoryBeforeVm(Helpers h) throws IOException {
        try (Kvm kvm = Kvm.open()) {
            Vm vm = kvm.createVm();
            GuestMemory ram = GuestMemory.memfd("probe-ram", 0x10000);
            SharedRegion region = SharedRegion.create("probe-region", 0x10000, 0x20000);
            region.memory().putByte(0, (byte) 0x5a);
            vm.mapMemory(region.guestAddress(), region.memory());
            Guest g = new Guest(vm, ram, READ_LOOP);
            ram.close();
            region.close();
            callAll("memory", GuestMemory.class, ram, "closed", h);
            callAll("region", SharedRegion.class, region, "closed", h);
            boolean guestReads = true;
            for (int i = 0; i < 3; i++) {
                guestReads &= g.vcpu.run() instanceof VmExit.IoOut out && out.port() == 0x80 && out.value() == 0x5a;
            }
            check("guest-keeps-memory", guestReads && mapped("probe-ram") && mapped("probe-region"),
                    "the guest runs on closed memory its VM still maps");
            vm.close();
            check("released-with-vm", !mapped("probe-ram") && !mapped("probe-region"),
                    "closing the VM releases memory closed before it");
        }
    }

    /** The usual order: VM, then its memory and shared region. */
    private static void vmBeforeMemory(Helpers h) {
        try (Kvm kvm = Kvm.open()) {
            Vm vm = kvm.createVm();
            GuestMemory ram = GuestMemory.anonymous(0x10000);
            SharedRegion region = SharedRegion.create("probe-region", 0x10000, 0x20000);
            vm.mapMemory(region.guestAddress(), region.memory());
            new Guest(vm, ram, EXITS).runAllExits();
            vm.close();
            ram.close();
            region.close();
            callAll("memory", GuestMemory.class, ram, "closed", h);
            callAll("region", SharedRegion.class, region, "closed", h);
        }
    }

    /** The kernel objects issue 9 added: a device, statistics, a guest_memfd, a dirty ring. */
    private static void issue9Closed(Helpers h) {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Device device = vm.createDevice(dev.kvmctl.internal.bridge.Layout.intValue("KVM_DEV_TYPE_VFIO"));
            Stats vmStats = vm.stats();
            GuestMemfd gmem = vm.createGuestMemfd(0x10000, 0);
            vm.enableDirtyRing(4096);
            Vcpu vcpu = vm.createVcpu(0);
            Stats vcpuStats = vcpu.stats();
            DirtyRing ring = vcpu.dirtyRing();
            device.close();
            vmStats.close();
            vcpuStats.close();
            gmem.close();
            callAll("device", Device.class, device, "closed", h);
            callAll("stats", Stats.class, vmStats, "closed", h);
            callAll("vcpu-stats", Stats.class, vcpuStats, "closed", h);
            callAll("guest-memfd", GuestMemfd.class, gmem, "closed", h);
            check("ring-before", ring.capacity() == 4096 / 16, "the ring answers while its vCPU is open");
            vcpu.close();
            callAll("dirty-ring", DirtyRing.class, ring, "closed", h);
            check("vm-refuses-closed-memfd", refuses(() -> vm.mapMemory(0, h.memory, 0, 0x1000, 0, gmem, 0)),
                    "mapping a closed guest_memfd refuses");
        }
    }

    private static void eventFdClosed(Helpers h) {
        EventFd event = EventFd.create(true);
        event.close();
        callAll("eventfd", EventFd.class, event, "closed", h);
        check("vm-refuses-closed-eventfd", refuses(() -> h.vm.registerIoEvent(event, Vm.IoSpace.PIO, 0x500, 4)),
                "wiring a closed eventfd into a VM refuses");
    }

    private static void userFaultFdClosed(Helpers h) {
        try (GuestMemory lazy = GuestMemory.memfd("lazy", 1 << 20)) {
            UserFaultFd uffd = UserFaultFd.register(lazy);
            uffd.close();
            callAll("userfaultfd", UserFaultFd.class, uffd, "closed", h);
            check("closed-userfaultfd-lets-touches-through", lazy.isZero(0, 1 << 20),
                    "a memory whose userfaultfd closed before any page was filled reads zeros, without waiting");
        }
    }

    // ---- calling everything ----

    /** Calls every public method of {@code type} on {@code target}, one CALL and one RESULT line each. */
    static void callAll(String label, Class<?> type, Object target, String expectation, Helpers h) {
        out("TARGET " + label + " " + type.getName() + " " + expectation);
        for (Method m : publicMethods(type)) {
            String sig = signature(m);
            Object[] args;
            try {
                args = h.argumentsFor(m);
            } catch (NoArgument e) {
                out("NOARGS " + label + " " + sig + " " + e.getMessage());
                continue;
            }
            out("CALL " + label + " " + sig);
            String result;
            try {
                Object value = m.invoke(target, args);
                result = "RETURNED " + describe(value);
            } catch (InvocationTargetException e) {
                Throwable t = e.getCause();
                result = (t instanceof IllegalStateException ? "REFUSED " : "THREW ")
                        + t.getClass().getSimpleName() + ": " + oneLine(t.getMessage());
            } catch (IllegalAccessException e) {
                result = "THREW reflection: " + e;
            }
            out("RESULT " + label + " " + sig + " " + result);
        }
    }

    /** Every exit object of a vCPU (one per type, reused by run()), by reflection on its fields. */
    private static void callExits(Vcpu vcpu, Helpers h) {
        for (Field f : Vcpu.class.getDeclaredFields()) {
            if (VmExit.class.isAssignableFrom(f.getType())) {
                f.setAccessible(true);
                try {
                    Object exit = f.get(vcpu);
                    callAll("exit:" + exit.getClass().getSimpleName(), exit.getClass(), exit, "closed", h);
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
    }

    /** One struct of every kind in dev.kvmctl.state, filled from the vCPU and VM where KVM allows. */
    private static List<Object> structsOf(Kvm kvm, Vm vm, Vcpu vcpu) {
        List<Object> views = new ArrayList<>();
        SRegs sregs = vcpu.getSregs();
        views.add(vcpu.getRegs());
        views.add(sregs);
        views.add(sregs.cs());
        views.add(sregs.gdt());
        views.add(vcpu.getFpu(new Fpu()));
        views.add(vcpu.getXsave(new Xsave(kvm.xsaveSize())));
        views.add(vcpu.getXcrs(new Xcrs()));
        Msrs msrs = Msrs.of(0xc0000080);
        vcpu.getMsrs(msrs);
        views.add(msrs);
        views.add(vcpu.getLapic(new Lapic()));
        views.add(vcpu.getMpState(new MpState()));
        views.add(vcpu.getVcpuEvents(new VcpuEvents()));
        views.add(vcpu.getDebugRegs(new DebugRegs()));
        Cpuid cpuid = kvm.supportedCpuid();
        views.add(cpuid);
        views.add(cpuid.entry(0));
        views.add(new GuestDebug());
        views.add(vcpu.translate(0x1000));
        views.add(vm.getIrqchip(new Irqchip(Irqchip.PIC_MASTER)));
        views.add(vm.getIrqchip(new Irqchip(Irqchip.IOAPIC)));
        views.add(Irqchip.Redirection.of(0));
        views.add(Irqchip.PicField.IMR);
        views.add(PitState.ChannelField.MODE);
        views.add(Lapic.Register.TPR);
        views.add(vm.getPit(new PitState()));
        views.add(vm.getClock(new ClockData()));
        return views;
    }

    static boolean refuses(Runnable call) {
        try {
            call.run();
            return false;
        } catch (IllegalStateException expected) {
            return true;
        }
    }

    private static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        if (value.getClass().isArray()) {
            return value.getClass().getComponentType().getSimpleName() + "[" + Array.getLength(value) + "]";
        }
        String s = oneLine(String.valueOf(value));
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ');
    }

    static void check(String name, boolean ok, String what) {
        out("CHECK " + name + (ok ? " ok " : " FAIL ") + what);
    }

    static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static boolean mapped(String memfdName) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.contains("/memfd:" + memfdName + " "));
    }

    /** Whether the range at {@code address} leaves the address space once GC has run the cleaners. */
    static boolean awaitUnmapped(long address) throws IOException {
        String start = Long.toHexString(address) + "-";
        for (int i = 0; i < 200; i++) { // ends as soon as the Cleaner has run; 200 GCs is a generous bound
            System.gc();
            boolean present = Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.startsWith(start));
            if (!present) {
                return true;
            }
            try {
                Thread.sleep(10); // gives the Cleaner thread a turn; the verdict does not depend on it
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    static void realMode(Vcpu vcpu) {
        vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)).dataSegments(Segment.real(0, false)));
        vcpu.setRegs(vcpu.getRegs().rip(0x1000).rflags(2).rsp(0x7000));
    }

    static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    /** A vCPU in real mode over {@code ram} (mapped at 0) with {@code code} at 0x1000. */
    static final class Guest {
        final Vcpu vcpu;
        VmExit.IoOut keptOut;
        int keptPort;
        ByteBuffer keptData;

        Guest(Vm vm, GuestMemory ram, byte[] code) {
            vm.mapMemory(0, ram);
            ram.write(0x1000, code);
            vcpu = vm.createVcpu(0);
            realMode(vcpu);
        }

        /** Runs {@link #EXITS} to its hlt, answering the reads; keeps the IoOut it saw. */
        void runAllExits() {
            while (true) {
                VmExit exit = vcpu.run();
                if (exit instanceof VmExit.IoOut o) {
                    keptOut = o;
                    keptPort = o.port();
                    keptData = o.data();
                } else if (exit instanceof VmExit.IoIn in) {
                    in.answer(7);
                } else if (exit instanceof VmExit.MmioRead r) {
                    r.answer(9);
                } else if (exit instanceof VmExit.Hlt) {
                    return;
                } else if (!(exit instanceof VmExit.MmioWrite)) {
                    throw new IllegalStateException("unexpected " + exit);
                }
            }
        }
    }

    private static final class NoArgument extends Exception {
        private static final long serialVersionUID = 1L;

        NoArgument(String type) {
            super(type);
        }
    }

    /** Open objects to pass as arguments, so a refusal can only come from the closed receiver. */
    static final class Helpers implements AutoCloseable {
        final Kvm kvm = Kvm.open();
        final Vm vm = kvm.createVm();
        final GuestMemory memory = GuestMemory.anonymous(0x10000);
        final EventFd event = EventFd.create(true);
        final MemorySlot slot = new MemorySlot(0, 0, 0x1000, memory, 0, 0);
        private GuestMemfd guestMemfd;

        /** An open guest_memfd of {@link #vm}, made on first use. */
        GuestMemfd guestMemfd() {
            if (guestMemfd == null) {
                guestMemfd = vm.createGuestMemfd(0x10000, 0);
            }
            return guestMemfd;
        }

        Object[] argumentsFor(Method m) throws NoArgument {
            Class<?>[] types = m.getParameterTypes();
            Object[] args = new Object[types.length];
            for (int i = 0; i < types.length; i++) {
                args[i] = argument(types[i], m.isVarArgs() && i == types.length - 1);
            }
            return args;
        }

        private Object argument(Class<?> t, boolean varArgs) throws NoArgument {
            if (varArgs) {
                Object array = Array.newInstance(t.getComponentType(), 1);
                Array.set(array, 0, argument(t.getComponentType(), false));
                return array;
            }
            if (t == int.class) return 0;
            if (t == long.class) return 0L;
            if (t == short.class) return (short) 0;
            if (t == byte.class) return (byte) 0;
            if (t == boolean.class) return false;
            if (t == byte[].class) return new byte[8];
            if (t == String.class) return "x";
            if (t == Object.class) return "x";
            if (t == ByteBuffer.class) return ByteBuffer.allocate(64);
            if (t == Capability.class) return Capability.IRQCHIP;
            if (t == Vm.IoSpace.class) return Vm.IoSpace.PIO;
            if (t == GuestMemory.class) return memory;
            if (t == Vm.class) return vm;
            if (t == MemorySlot.class) return slot;
            if (t == EventFd.class) return event;
            if (t == GuestMemory.LazyFill.class) return (GuestMemory.LazyFill) () -> { };
            if (t == GsiRouting.class) return new GsiRouting().irqchip(0, 0, 0);
            if (t == MsrFilter.class) return MsrFilter.allowByDefault();
            if (t == CoalescedIo.class) return new CoalescedIo();
            if (t == java.util.BitSet.class) return new java.util.BitSet();
            if (t == DirtyRing.Consumer.class) return (DirtyRing.Consumer) (slot, page) -> { };
            if (t == GuestMemfd.class) return guestMemfd();
            if (t == Segment.class) return Segment.real(0, true);
            if (t == DescriptorTable.class) return new DescriptorTable(0, 0);
            if (t == Cpuid.Entry.class) return new Cpuid.Entry(0, 0, 0, 0, 0, 0, 0);
            if (t == Xsave.class) return new Xsave(kvm.xsaveSize());
            if (t == Cpuid.class) return new Cpuid(1);
            if (t == Msrs.class) return new Msrs(1);
            if (t == Irqchip.class) return new Irqchip(Irqchip.PIC_MASTER);
            if (t == Irqchip.PicField.class) return Irqchip.PicField.IMR;
            if (t == Irqchip.Redirection.class) return Irqchip.Redirection.of(0);
            if (t == PitState.ChannelField.class) return PitState.ChannelField.MODE;
            if (t == Lapic.Register.class) return Lapic.Register.TPR;
            if (t == Enum.class) return Lapic.Register.TPR; // compareTo of each state enum: another type's constant throws, harmlessly
            if (t == KvmStruct.class) return new Regs();
            if (KvmStruct.class.isAssignableFrom(t)) {
                try {
                    return t.getConstructor().newInstance();
                } catch (ReflectiveOperationException e) {
                    throw new NoArgument(t.getName());
                }
            }
            throw new NoArgument(t.getName());
        }

        @Override
        public void close() {
            if (guestMemfd != null) {
                guestMemfd.close();
            }
            vm.close();
            memory.close();
            event.close();
            kvm.close();
        }
    }

    /** For the race scenarios: a thread's failure, kept for the CHECK line. */
    static final class Failure {
        private final AtomicReference<String> first = new AtomicReference<>();

        void record(String what) {
            first.compareAndSet(null, what);
        }

        String get() {
            return first.get();
        }
    }

    /** A started thread running {@code body}; anything it throws is recorded as a failure. */
    static Thread worker(Failure failure, Runnable body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (Throwable e) {
                failure.record("unexpected " + e);
            }
        });
        t.start();
        return t;
    }

    /** Waits until {@code counter} reaches {@code n}, or one of {@code workers} has ended (a failure). */
    static void awaitAtLeast(AtomicLong counter, long n, Thread... workers) {
        while (counter.get() < n) {
            for (Thread w : workers) {
                if (!w.isAlive()) {
                    return;
                }
            }
            Thread.onSpinWait();
        }
    }

    static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
