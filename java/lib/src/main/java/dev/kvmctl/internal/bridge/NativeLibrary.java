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
