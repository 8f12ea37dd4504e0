package dev.kvmctl.examples.fuzz;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.contexts.Checkpoint;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestImage;
import java.util.List;

/**
 * The guest under test: the built-in image {@code fuzz-target.elf} (its source, with the planted
 * bug and the feedback layout, is {@code vm-images/src/fuzz-target.c}) booted at ring 3 in a VM
 * whose RAM logs dirty pages, run up to its parser's entry and checkpointed there. Each
 * {@link #execute} writes one input, runs the parse to its end or a fault, reads the feedback and
 * resets the guest to the checkpoint, which copies back the pages the parses wrote (kept writable).
 */
final class Target implements AutoCloseable {
    private static final long RAM = 16 << 20;
    /** Where the input goes: a u32 length, then the bytes. Above the image, below the stack. */
    private static final long INPUT = 0x400000;
    /** The guest's struct feedback: cov[64], cmp_count, reserved, then 32 (have, want) pairs. */
    private static final long FEEDBACK = 0x402000;
    private static final int COV_BYTES = 64;
    private static final int CMP_COUNT = 64;
    private static final int CMP = 72;
    private static final int MAX_CMPS = 32;
    static final int MAX_INPUT = 4096;
    private static final int EXIT_PORT = 0xf4;
    private static final int CHECKPOINT_PORT = 0xf5;

    /** How one execution ended; {@code coverage} has a bit per check passed. */
    record Outcome(boolean crashed, int status, long coverage, int[] cmpHave, int[] cmpWant, String exit) {}

    private final Kvm kvm;
    private final GuestMemory ram;
    private final Vm vm;
    private final Vcpu vcpu;
    private final Checkpoint checkpoint;
    private final byte[] feedback = new byte[CMP + MAX_CMPS * 8];

    Target() {
        kvm = Kvm.open();
        GuestMemory memory = null;
        Vm machine = null;
        try {
            memory = GuestMemory.memfd("fuzz-target", RAM);
            machine = kvm.createVm();
            MemorySlot slot = machine.mapMemory(0, memory, MemorySlot.LOG_DIRTY_PAGES);
            GuestImage image = BuiltinImages.load("fuzz-target.elf");
            image.checkFits(RAM, BootSetup.BOOT_AREA_START, BootSetup.BOOT_AREA_END);
            image.loadInto(memory);
            Vcpu cpu = machine.createVcpu(0);
            BootSetup.longMode(cpu, memory, kvm.supportedCpuid(), 3, image.entry(), RAM, BootInfo.single(RAM, INPUT, FEEDBACK));
            VmExit first = cpu.run();
            if (!(first instanceof VmExit.IoOut out) || out.port() != CHECKPOINT_PORT) {
                throw new IllegalStateException("fuzz-target.elf should stop at its parser's entry (out 0xf5), but: " + first);
            }
            // The guest runs only integer code at ring 3, where it cannot write an MSR: the
            // registers, special registers, XSAVE and events are all a reset has to restore.
            // Every parse writes much the same few pages (stack, feedback, globals): keeping them
            // writable saves their write-protect faults at the price of copying them back at each
            // reset (Checkpoint.Tracking.KEEP_WRITABLE; REPROTECT where the kernel cannot).
            checkpoint = Checkpoint.mark(machine, slot, Checkpoint.Scope.NO_MSRS, List.of(), Checkpoint.Tracking.KEEP_WRITABLE);
            ram = memory;
            vm = machine;
            vcpu = cpu;
        } catch (RuntimeException e) {
            if (machine != null) {
                machine.close();
            }
            if (memory != null) {
                memory.close();
            }
            kvm.close();
            throw e;
        }
    }

    /** Runs the parser on {@code input} from the checkpoint, then resets the guest to it. */
    Outcome execute(byte[] input) {
        // The host's writes bypass the dirty log; the input is rewritten whole every time anyway.
        ram.putInt(INPUT, input.length);
        ram.write(INPUT + 4, input);
        VmExit exit = vcpu.run();
        Outcome outcome;
        if (exit instanceof VmExit.IoOut out && out.port() == EXIT_PORT) {
            outcome = feedback(false, out.value(), "exit");
        } else {
            // A fault (the planted bug ends in a triple fault: VmExit.Shutdown) or anything else.
            outcome = feedback(true, -1, exit.toString());
        }
        checkpoint.reset();
        return outcome;
    }

    private Outcome feedback(boolean crashed, int status, String exit) {
        ram.read(FEEDBACK, feedback, 0, feedback.length);
        long coverage = 0;
        for (int i = 0; i < COV_BYTES; i++) {
            if (feedback[i] != 0) {
                coverage |= 1L << i;
            }
        }
        int n = Math.min(MAX_CMPS, Math.max(0, intAt(CMP_COUNT)));
        int[] have = new int[n];
        int[] want = new int[n];
        for (int i = 0; i < n; i++) {
            have[i] = intAt(CMP + 8 * i);
            want[i] = intAt(CMP + 8 * i + 4);
        }
        return new Outcome(crashed, status, coverage, have, want, exit);
    }

    private int intAt(int offset) {
        return (feedback[offset] & 0xff) | (feedback[offset + 1] & 0xff) << 8
                | (feedback[offset + 2] & 0xff) << 16 | (feedback[offset + 3] & 0xff) << 24;
    }

    @Override
    public void close() {
        checkpoint.close();
        vm.close();
        ram.close();
        kvm.close();
    }
}
