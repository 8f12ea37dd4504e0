package dev.kvmctl;

import dev.kvmctl.internal.bridge.Shim;

/** The signal {@link Vcpu#kick()} sends: a real-time signal with an empty handler, installed once. */
final class Kick {
    /** SIGRTMIN + 7: clear of glibc's own and of the signals the JVM uses. */
    static final int SIGNAL = install();

    private Kick() {}

    private static int install() {
        int signo = Shim.sigrtmin() + 7;
        KvmException.check(Shim.kickInstall(signo), "sigaction");
        return signo;
    }

    static void signal(long thread) {
        KvmException.check(Shim.threadKick(thread, SIGNAL), "pthread_kill");
    }
}
