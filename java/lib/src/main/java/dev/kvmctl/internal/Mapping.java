package dev.kvmctl.internal;

import dev.kvmctl.internal.bridge.LibC;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A range of the address space that Java code reads and writes directly (a {@code kvm_run} page,
 * guest RAM), made safe to close while something may still touch it.
 *
 * <p>A direct {@code ByteBuffer} or a raw address that outlives {@code munmap} makes the next
 * access a SIGSEGV, which kills the JVM; a closed flag checked before each access leaves a window
 * between the check and the access in which another thread can unmap. So closing never unmaps:
 * {@link #retire()} atomically replaces the mapping with private anonymous zero pages
 * ({@code mmap(MAP_FIXED)}, the same addresses). That lets go of the real object at once (the
 * vCPU's file, the memfd's pages) and leaves a stale reader reading zeros, and a stale writer
 * writing into pages nobody reads. The range itself is unmapped only when it has been retired and
 * every {@linkplain #anchor anchor} (an object through which Java code can reach the addresses) has
 * become unreachable, so no access can ever land on an unmapped or reused address.
 *
 * <p>If the replacement cannot be mapped (the host is out of memory or mappings), the real
 * mapping stays until the anchors are unreachable: nothing crashes, the memory comes back later.
 */
public final class Mapping {
    /** One daemon thread for every mapping kvmctl makes. */
    private static final Cleaner CLEANER = Cleaner.create();

    private final long address;
    private final long size;
    /** One for the owner until {@link #retire()}, plus one per reachable anchor; unmapped at 0. */
    private final AtomicInteger holds = new AtomicInteger(1);
    private final AtomicBoolean retired = new AtomicBoolean();

    /** Takes over {@code size} bytes mapped at {@code address}. */
    public Mapping(long address, long size) {
        this.address = address;
        this.size = size;
    }

    /** The first byte's address. */
    public long address() {
        return address;
    }

    /** Bytes mapped. */
    public long size() {
        return size;
    }

    /**
     * Keeps the range mapped (to the real memory or its zero replacement) while {@code holder} is
     * reachable; returns {@code holder}. Everything that reads the range directly must be an anchor
     * or reachable from one for as long as it reads (buffers derived from a direct buffer keep it
     * reachable).
     */
    public <T> T anchor(T holder) {
        holds.incrementAndGet();
        CLEANER.register(holder, this::drop); // the action holds this, never the holder
        return holder;
    }

    /**
     * Lets go of the real memory now: the range reads as zeros from here on and is unmapped once no
     * anchor is reachable. Idempotent.
     */
    public void retire() {
        if (!retired.compareAndSet(false, true)) {
            return;
        }
        // On failure the real mapping simply stays until the last anchor goes.
        LibC.mapFixed(address, size, LibC.PROT_READ | LibC.PROT_WRITE,
                LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1);
        drop();
    }

    /** Whether {@link #retire()} was called. */
    public boolean isRetired() {
        return retired.get();
    }

    private void drop() {
        if (holds.decrementAndGet() == 0) {
            LibC.INSTANCE.munmap(address, size);
        }
    }

    @Override
    public String toString() {
        return String.format("Mapping[0x%x, %d bytes%s]", address, size, retired.get() ? ", retired" : "");
    }
}
