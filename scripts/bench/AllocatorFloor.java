import dev.kvmctl.memory.AllocationResult;
import dev.kvmctl.memory.BlockAllocator;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * The floor study of scripts/bench-allocator-floor.sh: how fast could any allocator with
 * BlockAllocator's rules go on this machine? Runs the allocator benchmark's step (free a random live
 * block, allocate 1 to 4096 bytes for one of four owners; docs/allocator.md) on BlockAllocator
 * itself and on {@link Floor}, a stripped allocator with the cheapest layout found, in variants.
 * Run from the repository root after the build:
 *
 *   java -cp java/lib/target/classes scripts/bench/AllocatorFloor.java VARIANT LIVE ROUNDS
 *
 * VARIANT is {@code BlockAllocator} or {@code floor-LOCK-TIES}, LOCK one of {@code monitor}
 * ({@code synchronized}), {@code cas} (one compare-and-set, a release store: StepLock's scheme) or
 * {@code none}, TIES {@code address} (among idle blocks of one size, the lowest address:
 * BlockAllocator's rule) or {@code recent} (the most recently freed). Prints one line per round:
 * "VARIANT LIVE <million operations/s>", an operation being one allocate or one free.
 *
 * <p>This is a measuring instrument, not an allocator to use: {@link Floor} keeps no per-owner
 * counts, answers no statistics, returns no result objects, and checks a free only against the
 * block's header word. What it does keep is every memory access the rules need: one 4-byte tag per
 * alignment unit holding each block's size and state at its first and its last unit (boundary
 * tags: the neighbours of a block are found next to it in memory, with no lookup), and one bin per
 * exact size under 4096 units (an 8-ary heap of starts for {@code address}, a stack for
 * {@code recent}), with lazy removal as in BlockAllocator. Anything an allocator with the same rules
 * must do costs at least this much.
 */
public class AllocatorFloor {
    private static final long MAX_REQUEST = 4096;
    private static final int OWNERS = 4;

    /** One step's allocator: a free and an allocate. */
    private interface Subject {
        boolean free(int owner, long offset);

        long allocate(int owner, long bytes);
    }

    public static void main(String[] args) {
        String variant = args[0];
        int live = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        long region = 2L * live * MAX_REQUEST;
        Subject s = subject(variant, region);
        // The benchmark's starting state: 2N requests allocated in order, a random half freed.
        int total = 2 * live;
        SplittableRandom rnd = new SplittableRandom(0x5EED_0A11_0CA7_0001L);
        long[] bytes = new long[total];
        int[] owner = new int[total];
        int[] order = new int[total];
        for (int j = 0; j < total; j++) {
            bytes[j] = 1 + rnd.nextLong(MAX_REQUEST);
            owner[j] = rnd.nextInt(OWNERS);
            order[j] = j;
        }
        for (int j = total - 1; j > 0; j--) {
            int k = rnd.nextInt(j + 1);
            int t = order[j];
            order[j] = order[k];
            order[k] = t;
        }
        long[] offset = new long[total];
        for (int j = 0; j < total; j++) {
            offset[j] = s.allocate(owner[j], bytes[j]);
        }
        for (int i = live; i < total; i++) {
            if (!s.free(owner[order[i]], offset[order[i]])) {
                throw new IllegalStateException("set-up free refused");
            }
        }
        long[] liveOffset = new long[live];
        int[] liveOwner = new int[live];
        for (int i = 0; i < live; i++) {
            liveOffset[i] = offset[order[i]];
            liveOwner[i] = owner[order[i]];
        }
        long x = 0x2545_F491_4F6C_DD1DL;
        int steps = live > 100_000 ? 3_000_000 : 20_000_000;
        long sink = 0;
        for (int round = 0; round < rounds; round++) {
            long t0 = System.nanoTime();
            for (int q = 0; q < steps; q++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                long m = x * 0x9E37_79B9_7F4A_7C15L;
                int i = (int) (((m >>> 32) * live) >>> 32);
                if (!s.free(liveOwner[i], liveOffset[i])) {
                    throw new IllegalStateException("free refused");
                }
                int who = (int) (m >>> 30) & (OWNERS - 1);
                long o = s.allocate(who, 1 + (((m & 0x3FFF_FFFFL) * MAX_REQUEST) >>> 30));
                if (o < 0) {
                    throw new IllegalStateException("allocation refused");
                }
                liveOffset[i] = o;
                liveOwner[i] = who;
                sink += o;
            }
            long ns = System.nanoTime() - t0;
            System.out.printf("%s %d %.3f%n", variant, live, 2e3 * steps / ns);
        }
        if (sink == 42) {
            System.out.println(); // keeps the offsets alive for the JIT
        }
    }

    private static Subject subject(String variant, long region) {
        if (variant.equals("BlockAllocator")) {
            BlockAllocator a = new BlockAllocator(region);
            return new Subject() {
                @Override
                public boolean free(int owner, long offset) {
                    return a.free(owner, offset).isDone();
                }

                @Override
                public long allocate(int owner, long bytes) {
                    return a.allocate(owner, bytes) instanceof AllocationResult.Allocated ok ? ok.offset() : -1;
                }
            };
        }
        String[] v = variant.split("-");
        if (v.length != 3 || !v[0].equals("floor")) {
            throw new IllegalArgumentException("unknown variant " + variant);
        }
        boolean recent = switch (v[2]) {
            case "address" -> false;
            case "recent" -> true;
            default -> throw new IllegalArgumentException("ties: address or recent, not " + v[2]);
        };
        Floor f = new Floor(region, recent);
        return switch (v[1]) {
            case "monitor" -> new Subject() {
                @Override
                public synchronized boolean free(int owner, long offset) {
                    return f.free(owner, offset);
                }

                @Override
                public synchronized long allocate(int owner, long bytes) {
                    return f.allocate(owner, bytes);
                }
            };
            case "cas" -> new CasLocked(f);
            case "none" -> new Subject() {
                @Override
                public boolean free(int owner, long offset) {
                    return f.free(owner, offset);
                }

                @Override
                public long allocate(int owner, long bytes) {
                    return f.allocate(owner, bytes);
                }
            };
            default -> throw new IllegalArgumentException("lock: monitor, cas or none, not " + v[1]);
        };
    }

    /** StepLock's scheme: a compare-and-set to take, a release store to give back. */
    private static final class CasLocked implements Subject {
        private static final VarHandle HELD;

        static {
            try {
                HELD = MethodHandles.lookup().findVarHandle(CasLocked.class, "held", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private final Floor f;
        @SuppressWarnings("unused")
        private volatile int held;

        CasLocked(Floor f) {
            this.f = f;
        }

        private void lock() {
            while (!HELD.compareAndSet(this, 0, 1)) {
                Thread.onSpinWait();
            }
        }

        @Override
        public boolean free(int owner, long offset) {
            lock();
            try {
                return f.free(owner, offset);
            } finally {
                HELD.setRelease(this, 0);
            }
        }

        @Override
        public long allocate(int owner, long bytes) {
            lock();
            try {
                return f.allocate(owner, bytes);
            } finally {
                HELD.setRelease(this, 0);
            }
        }
    }

    /**
     * The stripped allocator, 64-byte units. A tag is {@code size << 5 | HEAD | FOOT | kind}: HEAD at
     * a block's first unit, FOOT at its last (both for a one-unit block), kind 1 for idle, 2 + owner
     * in use; every other unit's tag is 0, so a free of an offset inside a block finds no HEAD.
     */
    private static final class Floor {
        private static final int HEAD = 16;
        private static final int FOOT = 8;
        private static final int KIND = 7;
        private static final int IDLE = 1;
        private static final int BINS = 4096;
        private final boolean recent;
        private final int units;
        private final int[] tags;
        private final int[][] bins = new int[BINS][];
        private final int[] entries = new int[BINS];
        private final int[] counts = new int[BINS];
        private final long[] bits = new long[BINS / 64];
        private long summary;
        /** Idle blocks of BINS units or more, as size << 32 | start (rare: the region's tail). */
        private final TreeSet<Long> large = new TreeSet<>();

        Floor(long region, boolean recent) {
            this.recent = recent;
            units = Math.toIntExact(region >>> 6);
            tags = new int[units];
            addIdle(0, units);
        }

        private void mark(int start, int len, int kind) {
            int t = len << 5 | kind;
            if (len == 1) {
                tags[start] = t | HEAD | FOOT;
            } else {
                tags[start] = t | HEAD;
                tags[start + len - 1] = t | FOOT;
            }
        }

        private boolean liveIn(int bin, int start) {
            int t = tags[start];
            return (t & (HEAD | KIND)) == (HEAD | IDLE) && t >>> 5 == bin;
        }

        private void addIdle(int start, int len) {
            mark(start, len, IDLE);
            if (len >= BINS) {
                large.add((long) len << 32 | start);
                return;
            }
            if (counts[len]++ == 0) {
                bits[len >>> 6] |= 1L << len;
                summary |= 1L << (len >>> 6);
            }
            int[] b = bins[len];
            int n = entries[len];
            if (b == null || n == b.length) {
                b = room(len);
                n = entries[len];
            }
            if (recent) {
                b[n] = start;
            } else {
                push(b, n, start);
            }
            entries[len] = n + 1;
        }

        /** Drops stale entries when at least half are (order kept), else grows. */
        private int[] room(int bin) {
            int[] b = bins[bin];
            int n = entries[bin];
            if (b != null && n - (counts[bin] - 1) >= n / 2 + 1) {
                int k = 0;
                for (int i = 0; i < n; i++) {
                    if (liveIn(bin, b[i])) {
                        b[k++] = b[i];
                    }
                }
                if (!recent) {
                    Arrays.sort(b, 0, k);
                }
                entries[bin] = n = k;
            }
            if (b == null || n + 1 > b.length) {
                bins[bin] = b = b == null ? new int[8] : Arrays.copyOf(b, 2 * (n + 1));
            }
            return b;
        }

        private void removeIdle(int start, int len) {
            if (len >= BINS) {
                large.remove((long) len << 32 | start);
                return;
            }
            if (--counts[len] == 0) {
                entries[len] = 0;
                bits[len >>> 6] &= ~(1L << len);
                if (bits[len >>> 6] == 0) {
                    summary &= ~(1L << (len >>> 6));
                }
                return;
            }
            int[] b = bins[len];
            if (recent) {
                if (b[entries[len] - 1] == start) {
                    entries[len]--;
                }
            } else if (b[0] == start) {
                pop(b, entries[len]--);
            }
        }

        private int nextBin(int k) {
            int w = k >>> 6;
            long m = bits[w] & (-1L << k);
            if (m != 0) {
                return (w << 6) + Long.numberOfTrailingZeros(m);
            }
            long words = w == bits.length - 1 ? 0 : summary & (-1L << (w + 1));
            if (words == 0) {
                return -1;
            }
            w = Long.numberOfTrailingZeros(words);
            return (w << 6) + Long.numberOfTrailingZeros(bits[w]);
        }

        long allocate(int owner, long bytes) {
            int n = (int) ((bytes + 63) >>> 6);
            int k = n < BINS ? nextBin(n) : -1;
            int start;
            int len;
            if (k > 0) {
                int[] b = bins[k];
                while (true) {
                    int top = recent ? b[entries[k] - 1] : b[0];
                    if (liveIn(k, top)) {
                        start = top;
                        break;
                    }
                    if (recent) {
                        entries[k]--;
                    } else {
                        pop(b, entries[k]--);
                    }
                }
                len = k;
            } else {
                Long c = large.ceiling((long) n << 32);
                if (c == null) {
                    return -1;
                }
                start = (int) (long) c;
                len = (int) (c >>> 32);
            }
            removeIdle(start, len);
            if (len > n) {
                tags[start + len - 1] = 0;
                mark(start, n, 2 + owner);
                addIdle(start + n, len - n);
            } else {
                mark(start, n, 2 + owner);
            }
            return (long) start << 6;
        }

        boolean free(int owner, long offset) {
            int s = (int) (offset >>> 6);
            int t = tags[s];
            if ((t & (HEAD | KIND)) != (HEAD | (2 + owner))) {
                return false;
            }
            int len = t >>> 5;
            int start = s;
            int end = s + len;
            int before = s > 0 ? tags[s - 1] : 0;
            int after = end < units ? tags[end] : 0;
            tags[s] = 0;
            tags[end - 1] = 0;
            if ((before & KIND) == IDLE) {
                int pl = before >>> 5;
                start = s - pl;
                removeIdle(start, pl);
                tags[start] = 0;
                tags[s - 1] = 0;
            }
            if ((after & KIND) == IDLE) {
                int nl = after >>> 5;
                removeIdle(end, nl);
                tags[end] = 0;
                tags[end + nl - 1] = 0;
                end += nl;
            }
            addIdle(start, end - start);
            return true;
        }

        private static void push(int[] h, int size, int key) {
            int i = size;
            while (i > 0) {
                int p = (i - 1) >>> 3;
                if (h[p] <= key) {
                    break;
                }
                h[i] = h[p];
                i = p;
            }
            h[i] = key;
        }

        private static void pop(int[] h, int size) {
            int n = size - 1;
            int key = h[n];
            int i = 0;
            while (true) {
                int c = 8 * i + 1;
                if (c >= n) {
                    break;
                }
                int end = Math.min(c + 8, n);
                int m = c;
                for (int j = c + 1; j < end; j++) {
                    if (h[j] < h[m]) {
                        m = j;
                    }
                }
                if (h[m] >= key) {
                    break;
                }
                h[i] = h[m];
                i = m;
            }
            h[i] = key;
        }
    }
}
