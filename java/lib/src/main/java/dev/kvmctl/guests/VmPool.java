package dev.kvmctl.guests;

import com.google.common.util.concurrent.Uninterruptibles;
import dev.kvmctl.Vm;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.state.Cpuid;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Prepared VMs for cold switches: a switch-out hands the machine's VM to a background closer
 * ({@link #retire}), and a switch-in installs a VM that a background preparer made ahead of time
 * ({@link #install}), so neither creating nor closing a VM (about 1 ms here, 7-15 ms to close one
 * with an in-kernel irqchip) is on the switching thread's path.
 *
 * <pre>{@code
 * MachineContext context = new MachineContext(machine);
 * try (VmPool pool = new VmPool()) {
 *     context.capture(machine);
 *     pool.retire(machine);     // the machine has no VM now; the old one closes in the background
 *     // ... other machines run ...
 *     pool.install(machine);    // a brand-new VM, made while they ran
 *     context.restore(machine);
 * }
 * }</pre>
 *
 * <p><b>Depth.</b> The pool keeps one VM prepared per machine it has seen retire, and more when
 * switch-ins find none ready (see {@link PoolDepth}), up to the maximum; a machine that has
 * finished gets none, and its prepared VMs are closed at the next switch-in. A switch-in that
 * finds none ready waits for the one being made for it, or, with none in the making, makes one
 * itself: it never waits on anything that may not come.
 *
 * <p><b>CPUID.</b> Given the context's CPUID ({@link #retire(Machine, Cpuid)}), the preparer sets
 * it on the new vCPU too, the most costly step of a restore into a new VM (machines with one vCPU;
 * with several, each vCPU has its own table, and {@link #install} returns false).
 *
 * <p><b>Errors.</b> A VM that the preparer failed to make fails the machine's next
 * {@link #install} with an {@link IllegalStateException} naming the cause (the switcher ends the
 * machine as failed with it); the one after tries again.
 *
 * <p><b>Threads.</b> Two daemon threads, {@code kvmctl-vm-preparer} and {@code kvmctl-vm-closer}
 * (scheduled {@code SCHED_BATCH}, so that waking them does not preempt the switching thread), live
 * until {@link #close()}, which closes every VM the pool holds and ends both. The closer
 * waits while the preparer makes a VM (up to 16 retired VMs): making
 * is on the switches' path, closing is not, and the two compete for the same spare core. Retired VMs
 * beyond {@value #MAX_CLOSING} waiting to be closed are closed on the caller's thread, so a closer
 * that falls behind (irqchip VMs) slows the switches instead of piling up VMs. {@link #retire}
 * and {@link #install} are for one switching thread per machine; once the machine is known they
 * allocate nothing, unless they must queue for the pool's lock or make a VM themselves.
 */
public final class VmPool implements AutoCloseable {
    /** The most VMs kept prepared for one machine by {@link #VmPool()}. */
    public static final int DEFAULT_MAX_DEPTH = 4;
    /** Retired VMs waiting for the closer beyond which the caller closes them itself. */
    public static final int MAX_CLOSING = 64;
    /**
     * Retired VMs the closer lets wait while the preparer is making a VM: creating is on the
     * switches' critical path and closing is not, and on two cores the two compete for one.
     */
    private static final int CLOSE_WHILE_PREPARING = 16;

    private final int maxDepth;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when the preparer has work or the pool closes. */
    private final Condition work = lock.newCondition();
    /** Signalled when the closer has work, the preparer is done with a VM, or the pool closes. */
    private final Condition closing = lock.newCondition();
    /** Signalled when a VM is made, or its making failed. */
    private final Condition madeOne = lock.newCondition();
    private final Map<Machine, Entry> byMachine = new IdentityHashMap<>();
    /** The same entries, walked by index at every switch-in (no iterator). */
    private final List<Entry> entries = new ArrayList<>();
    /** Machines below their depth, in the order they need a VM. */
    private final ArrayDeque<Entry> wanted = new ArrayDeque<>();
    private final ArrayDeque<Vm> retired = new ArrayDeque<>();
    /** Whether the preparer is making a VM now. */
    private boolean preparing;
    private final Thread preparer;
    private final Thread closer;
    /** The preparer's copy of the CPUID it is setting, so that it sets it outside the lock. */
    private Cpuid preparerCpuid;
    private boolean closed;
    private long takes;
    private long misses;
    private long preparedCount;
    private long closedVms;
    private long closedByCaller;
    private Throwable closeFailure;

    /** Per machine: its prepared VMs, its depth, what is being made for it, a failure to report. */
    private static final class Entry {
        final Machine machine;
        final PoolDepth depth;
        final ArrayDeque<PreparedVm> ready = new ArrayDeque<>();
        int building;
        /** The CPUID the machine's vCPUs get ahead of time (its context's), or null. */
        Cpuid cpuid;
        /** Bumped whenever {@link #cpuid} changes; 0 while there is none. */
        int cpuidGeneration;
        boolean queued;
        boolean released;
        Throwable failure;

        Entry(Machine machine, int maxDepth) {
            this.machine = machine;
            this.depth = new PoolDepth(maxDepth);
        }
    }

    /** A pool keeping up to {@value #DEFAULT_MAX_DEPTH} VMs prepared per machine; starts its two threads. */
    public VmPool() {
        this(DEFAULT_MAX_DEPTH);
    }

    /**
     * A pool keeping up to {@code maxDepth} VMs prepared per machine; starts its two threads.
     *
     * @param maxDepth the most prepared VMs per machine, at least 1
     * @throws IllegalArgumentException if {@code maxDepth} is below 1
     */
    public VmPool(int maxDepth) {
        if (maxDepth < 1) {
            throw new IllegalArgumentException("a pool keeps at least one VM per machine, not " + maxDepth);
        }
        this.maxDepth = maxDepth;
        preparer = new Thread(this::prepareLoop, "kvmctl-vm-preparer");
        closer = new Thread(this::closeLoop, "kvmctl-vm-closer");
        preparer.setDaemon(true);
        closer.setDaemon(true);
        preparer.start();
        closer.start();
    }

    /**
     * Takes the machine's VM away and hands it to the closer, and makes sure a VM is being
     * prepared for the machine's next {@link #install}. Call it after capturing the context.
     * The CPUID given to an earlier {@link #retire(Machine, Cpuid)} is still set ahead.
     *
     * @param machine a machine of the switching thread, not running
     * @throws IllegalStateException if the pool is closed (the machine's VM is then closed here)
     */
    public void retire(Machine machine) {
        retire(machine, null);
    }

    /**
     * {@link #retire(Machine)}, and sets {@code cpuid} on the vCPUs prepared for the machine from
     * now on, so that a restore need not ({@link #install} says whether the installed one has it).
     * Setting the CPUID costs about 100 µs on a new vCPU here; a vCPU's CPUID cannot change once it
     * has run, so the context's stays the same from switch to switch.
     *
     * @param machine a machine of the switching thread, not running
     * @param cpuid the CPUID of the context that will be restored into its next VM (copied; a
     *     table like the last one is compared, not copied again), or null to keep the last one
     *     given (none at first); ignored for a machine with several vCPUs
     * @throws IllegalStateException if the pool is closed (the machine's VM is then closed here)
     */
    public void retire(Machine machine, Cpuid cpuid) {
        Vm old = machine.detachVm();
        lock.lock();
        try {
            if (!closed) {
                if (old != null && retired.size() < MAX_CLOSING) {
                    retired.add(old);
                    old = null;
                    closing.signal();
                }
                Entry e = entry(machine);
                // One table for one vCPU: with several, each vCPU has its own (APIC ids), set at restore.
                if (cpuid != null && machine.config().cpus() == 1 && !cpuid.equals(e.cpuid)) {
                    if (e.cpuid == null || e.cpuid.capacity() != cpuid.capacity()) {
                        e.cpuid = new Cpuid(cpuid.capacity());
                    }
                    e.cpuid.copyFrom(cpuid);
                    e.cpuidGeneration++;
                }
                want(e);
                return;
            }
        } finally {
            if (old != null && !closed) {
                closedByCaller++;
            }
            lock.unlock();
            if (old != null) {
                old.close(); // closed pool, or the closer is far behind: close it here
            }
        }
        throw new IllegalStateException("the VM pool is closed; " + machine.name() + "'s VM was closed");
    }

    /**
     * Installs a prepared VM into the machine ({@link Machine#installVm}): one made ahead of time,
     * or, if none is ready, the one being made for it once done, or else one made here.
     *
     * @param machine a machine that {@link #retire}d its VM into this pool
     * @return whether the new vCPU already holds the CPUID given to the last {@link #retire(Machine, Cpuid)}
     *     (if false, the restore must set it)
     * @throws IllegalStateException if the pool is closed, the machine was not retired into it
     *     or still has a VM, or the background preparer failed to make its VM (the cause attached)
     * @throws dev.kvmctl.KvmException if making the VM here fails
     */
    public boolean install(Machine machine) {
        PreparedVm next;
        boolean cpuidSet;
        lock.lock();
        try {
            Entry e = byMachine.get(machine);
            if (closed || e == null) {
                throw new IllegalStateException(closed ? "the VM pool is closed"
                        : machine.name() + " never retired a VM into this pool; retire it first");
            }
            releaseFinished();
            takes++;
            e.depth.onTake(e.ready.size());
            if (e.ready.isEmpty()) {
                misses++;
                while (e.ready.isEmpty() && e.building > 0 && e.failure == null && !closed) {
                    madeOne.awaitUninterruptibly();
                }
            }
            next = e.ready.poll();
            if (next == null && e.failure != null) {
                Throwable cause = e.failure;
                e.failure = null;
                want(e);
                throw new IllegalStateException(machine.name() + ": its next VM could not be prepared: " + cause, cause);
            }
            if (next == null && closed) {
                throw new IllegalStateException("the VM pool is closed");
            }
            cpuidSet = next != null && next.cpuidGeneration != 0 && next.cpuidGeneration == e.cpuidGeneration;
            while (e.ready.size() > e.depth.target()) {
                retireLocked(e.ready.pollLast());
            }
            want(e);
        } finally {
            lock.unlock();
        }
        if (next == null) {
            next = machine.prepareVm(); // none ready or in the making: the preparer is busy with others
        }
        machine.installVm(next);
        return cpuidSet;
    }

    /** Queues {@code e} for the preparer if it holds fewer VMs than its depth. Under the lock. */
    private void want(Entry e) {
        if (!e.queued && !e.released && e.failure == null && e.ready.size() + e.building < e.depth.target()) {
            e.queued = true;
            wanted.add(e);
            work.signal();
        }
    }

    private Entry entry(Machine machine) {
        Entry e = byMachine.get(machine);
        if (e == null) {
            e = new Entry(machine, maxDepth);
            byMachine.put(machine, e);
            entries.add(e);
        }
        e.released = false;
        return e;
    }

    /** Closes the prepared VMs of machines that have ended: they will not run again. Under the lock. */
    private void releaseFinished() {
        for (int i = 0, n = entries.size(); i < n; i++) {
            Entry e = entries.get(i);
            if (!e.released && e.machine.finished()) {
                e.released = true;
                while (!e.ready.isEmpty()) {
                    retireLocked(e.ready.poll());
                }
            }
        }
    }

    /** Hands a prepared VM nobody will install to the closer. Under the lock. */
    private void retireLocked(PreparedVm p) {
        if (p.claim()) {
            retired.add(p.vm());
            closing.signal();
        }
    }

    /**
     * Makes the calling thread {@code SCHED_BATCH}: woken by a switch, it then does not preempt
     * the switching thread on its core (under load that cost a switch-in some 100 µs here) but
     * still gets its fair share of CPU. Best effort: a kernel or libc that refuses leaves it as is.
     */
    private static void noWakeupPreemption() {
        try {
            LibC.INSTANCE.sched_setscheduler(LibC.INSTANCE.gettid(), LibC.SCHED_BATCH, new int[1]);
        } catch (RuntimeException | LinkageError e) {
            // only a scheduling hint: the pool works the same without it
        }
    }

    private void prepareLoop() {
        noWakeupPreemption();
        while (true) {
            Entry e;
            int generation;
            lock.lock();
            try {
                while (!closed && wanted.isEmpty()) {
                    work.awaitUninterruptibly();
                }
                if (closed) {
                    return;
                }
                e = wanted.poll();
                e.queued = false;
                if (e.released || e.failure != null || e.ready.size() + e.building >= e.depth.target()) {
                    continue;
                }
                e.building++;
                preparing = true;
                generation = e.cpuidGeneration;
                if (e.cpuid != null) {
                    if (preparerCpuid == null || preparerCpuid.capacity() != e.cpuid.capacity()) {
                        preparerCpuid = new Cpuid(e.cpuid.capacity());
                    }
                    preparerCpuid.copyFrom(e.cpuid);
                }
            } finally {
                lock.unlock();
            }
            PreparedVm p = null;
            Throwable failure = null;
            try {
                p = e.machine.prepareVm();
                if (generation != 0) {
                    p.vcpu().setCpuid(preparerCpuid);
                    p.cpuidGeneration = generation;
                }
            } catch (Throwable t) { // an Error too: the switching thread must hear of it, not wait
                failure = t;
                if (p != null) {
                    p.close();
                    p = null;
                }
            }
            PreparedVm unwanted = null;
            lock.lock();
            try {
                e.building--;
                preparing = false;
                closing.signal();
                if (failure == null) {
                    preparedCount++;
                }
                if (failure != null) {
                    e.failure = failure;
                } else if (closed) {
                    unwanted = p; // the closer may have ended already
                } else if (e.released) {
                    retireLocked(p);
                } else {
                    e.ready.add(p);
                    want(e);
                }
                madeOne.signalAll();
            } finally {
                lock.unlock();
            }
            if (unwanted != null) {
                unwanted.close();
            }
        }
    }

    private void closeLoop() {
        noWakeupPreemption();
        while (true) {
            Vm vm;
            lock.lock();
            try {
                while (!closed && (retired.isEmpty() || (preparing && retired.size() < CLOSE_WHILE_PREPARING))) {
                    closing.awaitUninterruptibly();
                }
                vm = retired.poll();
                if (vm == null) {
                    return; // closed, and nothing left to close
                }
            } finally {
                lock.unlock();
            }
            Throwable failure = null;
            try {
                vm.close();
            } catch (Throwable t) {
                failure = t;
            }
            lock.lock();
            try {
                closedVms++;
                if (failure != null && closeFailure == null) {
                    closeFailure = failure;
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** {@return how many switch-ins took a VM so far} */
    public long takes() {
        lock.lock();
        try {
            return takes;
        } finally {
            lock.unlock();
        }
    }

    /** {@return how many switch-ins found no VM ready and waited for one or made it themselves} */
    public long misses() {
        lock.lock();
        try {
            return misses;
        } finally {
            lock.unlock();
        }
    }

    /** {@return how many VMs the background preparer made so far} */
    public long prepared() {
        lock.lock();
        try {
            return preparedCount;
        } finally {
            lock.unlock();
        }
    }

    /** {@return how many VMs the background closer closed so far} */
    public long closedInBackground() {
        lock.lock();
        try {
            return closedVms;
        } finally {
            lock.unlock();
        }
    }

    /** {@return how many retired VMs the switching thread closed itself, the closer being too far behind} */
    public long closedBySwitchThread() {
        lock.lock();
        try {
            return closedByCaller;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@return how many VMs the pool means to keep prepared for {@code machine} now; 0 for a
     * machine it does not know or has released}
     *
     * @param machine a machine
     */
    public int depth(Machine machine) {
        lock.lock();
        try {
            Entry e = byMachine.get(machine);
            return e == null || e.released ? 0 : e.depth.target();
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@return how many VMs are prepared and waiting for {@code machine}}
     *
     * @param machine a machine
     */
    public int ready(Machine machine) {
        lock.lock();
        try {
            Entry e = byMachine.get(machine);
            return e == null ? 0 : e.ready.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Closes every VM the pool holds (prepared, being made, retired) and ends its threads; waits
     * for both. Idempotent; installed VMs stay their machines'.
     *
     * @throws IllegalStateException if closing a retired VM failed (all the others are closed)
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                for (int i = 0; i < entries.size(); i++) {
                    Entry e = entries.get(i);
                    while (!e.ready.isEmpty()) {
                        retireLocked(e.ready.poll());
                    }
                }
                work.signalAll();
                closing.signalAll();
                madeOne.signalAll();
            }
        } finally {
            lock.unlock();
        }
        Uninterruptibles.joinUninterruptibly(preparer);
        Uninterruptibles.joinUninterruptibly(closer);
        lock.lock();
        try {
            if (closeFailure != null) {
                Throwable f = closeFailure;
                closeFailure = null;
                throw new IllegalStateException("closing a retired VM failed: " + f, f);
            }
        } finally {
            lock.unlock();
        }
    }
}
