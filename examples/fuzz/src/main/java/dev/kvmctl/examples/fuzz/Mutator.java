package dev.kvmctl.examples.fuzz;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A small guided mutator, deterministic for a seed: a corpus of inputs that each reached checks
 * no earlier input reached (edge feedback, as AFL keeps), mutated by random byte writes and bit
 * flips, plus input-to-state replacement (as AFL++'s CmpLog does): where a 32-bit comparison saw
 * a value of the input against a constant, the constant is written where that value sits. Byte
 * checks fall to random writes within a few thousand executions each; the 32-bit magic, which
 * random writes would take billions of executions to guess, falls in the first few after its
 * comparison is reached.
 */
final class Mutator {
    /** An input and the comparisons its execution recorded. */
    private record Entry(byte[] input, int[] cmpHave, int[] cmpWant) {}

    private final Random random;
    private final List<Entry> corpus = new ArrayList<>();
    private long seen;

    Mutator(long seed, byte[] first) {
        random = new Random(seed);
        corpus.add(new Entry(first.clone(), new int[0], new int[0]));
    }

    /** {@return the next input to try} */
    byte[] next() {
        Entry parent = corpus.get(random.nextInt(corpus.size()));
        byte[] child = parent.input().clone();
        int mutations = 1 + random.nextInt(4);
        for (int m = 0; m < mutations; m++) {
            int kind = random.nextInt(4);
            if (kind == 0 && parent.cmpHave().length > 0) {
                int c = random.nextInt(parent.cmpHave().length);
                replace(child, parent.cmpHave()[c], parent.cmpWant()[c]);
            } else if (kind == 1) {
                child[random.nextInt(child.length)] ^= (byte) (1 << random.nextInt(8));
            } else {
                child[random.nextInt(child.length)] = (byte) random.nextInt(256);
            }
        }
        return child;
    }

    /** Keeps {@code input} if its execution reached a check no input before it did; returns whether it did. */
    boolean learn(byte[] input, Target.Outcome outcome) {
        if ((outcome.coverage() & ~seen) == 0) {
            return false;
        }
        seen |= outcome.coverage();
        corpus.add(new Entry(input, outcome.cmpHave(), outcome.cmpWant()));
        return true;
    }

    /** {@return how many inputs the corpus holds} */
    int corpusSize() {
        return corpus.size();
    }

    /** Writes {@code want} (little-endian) over every place {@code have} occurs in {@code input}. */
    private static void replace(byte[] input, int have, int want) {
        for (int i = 0; i + 4 <= input.length; i++) {
            if (le32(input, i) == have) {
                for (int b = 0; b < 4; b++) {
                    input[i + b] = (byte) (want >>> (8 * b));
                }
            }
        }
    }

    private static int le32(byte[] a, int i) {
        return (a[i] & 0xff) | (a[i + 1] & 0xff) << 8 | (a[i + 2] & 0xff) << 16 | (a[i + 3] & 0xff) << 24;
    }
}
