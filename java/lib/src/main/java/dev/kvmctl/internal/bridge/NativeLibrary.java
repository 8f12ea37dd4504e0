package dev.kvmctl.internal.bridge;

/**
 * Loads the JNI library that JavaCPP built into the jar, turning a failure into one message that
 * says what is missing instead of a bare {@link UnsatisfiedLinkError}.
 */
public final class NativeLibrary {
    private static volatile Throwable failure;
    private static volatile boolean loaded;

    private NativeLibrary() {}

    /** Loads the shim once; throws {@link IllegalStateException} with a cause that says why not. */
    public static void ensureLoaded() {
        if (loaded) {
            return;
        }
        synchronized (NativeLibrary.class) {
            if (loaded) {
                return;
            }
            if (failure == null) {
                try {
                    Class.forName(Shim.class.getName(), true, Shim.class.getClassLoader());
                    loaded = true;
                    return;
                } catch (LinkageError | ClassNotFoundException e) {
                    failure = e;
                }
            }
            throw new IllegalStateException(message(), failure);
        }
    }

    /**
     * Loads the native code now, as the first KVM call would: the shim and jffi's library (for
     * {@link LibC}). For a program that can do it on another thread while it does other start-up
     * work: the command line, while picocli parses (issue 11). Does nothing unless both libraries
     * are already unpacked, as {@code scripts/kvmctl} names them (the system properties
     * {@code kvmctl.shim.library} and {@code jffi.boot.library.path}): an extraction on a thread
     * that the process's exit may cut short would leave a partial file behind. Never throws: a
     * failure is kept and thrown, as before, by the first call that needs the code
     * ({@link #ensureLoaded()} keeps its own; jffi throws its load error again at every use).
     * Initializes no class of kvmctl's but the shim's, so it cannot deadlock with a thread that
     * initializes the others.
     *
     * @return whether it loaded them (false: nothing to preload, or a failure kept as above)
     */
    public static boolean preload() {
        String shim = System.getProperty("kvmctl.shim.library");
        String jffi = System.getProperty("jffi.boot.library.path");
        if (shim == null || jffi == null || !new java.io.File(shim).isFile() || !new java.io.File(jffi).isDirectory()) {
            return false;
        }
        try {
            ensureLoaded();
        } catch (IllegalStateException e) {
            return false; // kept in `failure`: the next ensureLoaded() throws it again
        }
        try {
            // The CPU's name comes from jffi's library: this loads it (and falls back to os.arch,
            // as it would for any caller, if it cannot).
            com.kenai.jffi.Platform.getPlatform().getCPU();
            return true;
        } catch (RuntimeException | LinkageError e) {
            return false; // jffi keeps its load error and throws it again at its next use
        }
    }

    private static String message() {
        String os = System.getProperty("os.name") + "/" + System.getProperty("os.arch");
        if (!os.toLowerCase().startsWith("linux/amd64")) {
            return "kvmctl runs on x86-64 Linux only; this JVM is on " + os;
        }
        return "kvmctl's native library (libjniShim.so, inside the jar) could not be loaded: "
                + failure + ". It needs glibc; JavaCPP extracts it into ~/.javacpp/cache (set "
                + "-Dorg.bytedeco.javacpp.cachedir=DIR if that is not writable or is mounted noexec)";
    }
}
