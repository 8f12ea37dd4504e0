package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.stream.IntStream;
import java.util.zip.CRC32C;

/**
 * A snapshot's memory index: the memory image cut into chunks of {@link #CHUNK} bytes (the last
 * may be shorter), each with its CRC32C and whether it is all zeros. It lets a restore check any
 * chunk on its own, so the guest can start before the whole image is read ({@link LazyRestore}),
 * and it lets the writer skip zero chunks and checksum in parallel: the whole image's CRC32C (the
 * header's) is combined from the chunks' without a second pass.
 *
 * <p>Stored as the metadata section {@link #SECTION} (so the metadata checksum covers it, and a
 * reader that does not know it ignores it): chunk size (int), chunk count (int), the CRCs (int
 * each), then one byte per chunk, 1 for a zero chunk. Little-endian.
 */
final class MemoryIndex {
    /** The metadata section that holds the index. */
    static final int SECTION = 40;
    /** The chunk: what a restore reads, checks and maps at a time. */
    static final int CHUNK = SnapshotFormat.CHUNK;
    private static final int HEADER = 8;

    /**
     * What only writing a snapshot (and naming a diff's base) needs, built on first use: a
     * restore decodes an index without either, and building them in the interpreter of a fresh
     * JVM took about 2 ms of the time to the guest's first {@code KVM_RUN}.
     */
    private static final class Tables {
        /** x^(8 * CHUNK) mod P as a 32x32 GF(2) matrix: combines a whole chunk's CRC in 32 steps. */
        static final int[] CHUNK_SHIFT = shiftOperator(CHUNK);
        static final int ZERO_CHUNK_CRC = crc(ByteBuffer.allocateDirect(CHUNK));
    }

    private final long memorySize;
    private final int[] crcs;
    private final boolean[] zero;

    private MemoryIndex(long memorySize, int[] crcs, boolean[] zero) {
        this.memorySize = memorySize;
        this.crcs = crcs;
        this.zero = zero;
    }

    /** How many chunks cover {@code memorySize} bytes. */
    static int chunks(long memorySize) {
        return Math.toIntExact((memorySize + CHUNK - 1) / CHUNK);
    }

    /**
     * Checksums every chunk of {@code ram} (stopped: nothing may write it meanwhile), on the
     * common fork-join pool: one read pass, in parallel. Chunks that are holes of a memfd are
     * zero chunks without being read ({@link GuestMemory#mayHoldData}), so they stay unallocated.
     */
    static MemoryIndex of(GuestMemory ram) {
        long size = ram.size();
        int n = chunks(size);
        int[] crcs = new int[n];
        boolean[] zero = new boolean[n];
        IntStream.range(0, n).parallel().forEach(i -> {
            int length = length(size, i);
            long at = (long) i * CHUNK;
            // A hole of a memfd is zeros: reading it would allocate it (all 8 GiB of a mostly empty guest).
            ByteBuffer chunk = ram.mayHoldData(at, length) ? ram.slice(at, length) : null;
            zero[i] = chunk == null || SnapshotFormat.isZero(chunk, 0, length);
            crcs[i] = zero[i] ? zeroCrc(length) : crc(chunk);
        });
        return new MemoryIndex(size, crcs, zero);
    }

    /**
     * Decodes an index read from a snapshot whose memory is {@code memorySize} bytes; the metadata
     * checksum has been checked, so a mismatch here is a writer's bug or a crafted file.
     */
    static MemoryIndex decode(byte[] bytes, long memorySize, Path file) {
        int n = chunks(memorySize);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length != HEADER + 5L * n || b.getInt(0) != CHUNK || b.getInt(4) != n) {
            throw new ContextFormatException(String.format("%s is corrupted: its memory index does not describe %d bytes "
                    + "in chunks of %d", file, memorySize, CHUNK));
        }
        // Bulk copies, then one plain loop: a restore decodes this on the way to the guest's first
        // KVM_RUN, in the interpreter of a fresh JVM, where a call per chunk cost ms for 8 GiB.
        int[] crcs = new int[n];
        b.position(HEADER).asIntBuffer().get(crcs);
        boolean[] zero = new boolean[n];
        for (int i = 0, at = HEADER + 4 * n; i < n; i++, at++) {
            byte flag = bytes[at];
            if (flag != 0 && flag != 1) {
                throw new ContextFormatException(file + " is corrupted: its memory index flags chunk " + i + " with " + flag);
            }
            zero[i] = flag == 1;
        }
        return new MemoryIndex(memorySize, crcs, zero);
    }

    byte[] encode() {
        int n = crcs.length;
        ByteBuffer b = ByteBuffer.allocate(HEADER + 5 * n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(CHUNK).putInt(n);
        for (int crc : crcs) {
            b.putInt(crc);
        }
        for (boolean z : zero) {
            b.put((byte) (z ? 1 : 0));
        }
        return b.array();
    }

    int count() {
        return crcs.length;
    }

    int crc(int chunk) {
        return crcs[chunk];
    }

    boolean isZero(int chunk) {
        return zero[chunk];
    }

    long offset(int chunk) {
        return (long) chunk * CHUNK;
    }

    int length(int chunk) {
        return length(memorySize, chunk);
    }

    private static int length(long size, int chunk) {
        return (int) Math.min(CHUNK, size - (long) chunk * CHUNK);
    }

    /**
     * What a diff snapshot names its base by: the whole image's CRC32C and the CRC32C of this
     * encoded index, so a base whose memory differs in any chunk (but for a CRC collision) has
     * another id, whatever its file name.
     */
    long id() {
        byte[] bytes = encode();
        CRC32C c = new CRC32C();
        c.update(bytes, 0, bytes.length);
        return ((long) wholeCrc() << 32) | c.getValue();
    }

    /** The CRC32C of the whole image, combined from the chunks' (no pass over the memory). */
    int wholeCrc() {
        int whole = 0; // the CRC of nothing
        for (int i = 0; i < crcs.length; i++) {
            int length = length(i);
            whole = (length == CHUNK ? apply(Tables.CHUNK_SHIFT, whole) : apply(shiftOperator(length), whole)) ^ crcs[i];
        }
        return whole;
    }

    static int crc(ByteBuffer bytes) {
        CRC32C c = new CRC32C();
        c.update(bytes.duplicate());
        return (int) c.getValue();
    }

    private static int zeroCrc(int length) {
        return length == CHUNK ? Tables.ZERO_CHUNK_CRC : crc(ByteBuffer.allocateDirect(length));
    }

    /**
     * {@code crc(A ++ B) = shift(|B|)(crc(A)) ^ crc(B)}: the pre- and post-inversion of CRC32C
     * cancel, and appending |B| zero bytes is linear. The operator is built as zlib's
     * {@code crc32_combine} does, by squaring the one-zero-bit operator.
     */
    static int combine(int crcA, int crcB, long lengthB) {
        return apply(shiftOperator(lengthB), crcA) ^ crcB;
    }

    /** The matrix that appends {@code length} zero bytes to a CRC32C's register. */
    private static int[] shiftOperator(long length) {
        int[] result = new int[32];
        for (int k = 0; k < 32; k++) {
            result[k] = 1 << k; // identity
        }
        int[] op = new int[32];
        op[0] = 0x82f63b78; // one zero bit: the reflected polynomial
        for (int k = 1; k < 32; k++) {
            op[k] = 1 << (k - 1);
        }
        op = square(square(square(op))); // one zero byte
        for (long n = length; n != 0; n >>>= 1) {
            if ((n & 1) != 0) {
                result = multiply(op, result);
            }
            op = square(op);
        }
        return result;
    }

    private static int apply(int[] matrix, int vector) {
        int sum = 0;
        for (int k = 0, v = vector; v != 0; k++, v >>>= 1) {
            if ((v & 1) != 0) {
                sum ^= matrix[k];
            }
        }
        return sum;
    }

    private static int[] multiply(int[] a, int[] b) {
        int[] c = new int[32];
        for (int k = 0; k < 32; k++) {
            c[k] = apply(a, b[k]);
        }
        return c;
    }

    private static int[] square(int[] m) {
        return multiply(m, m);
    }
}
