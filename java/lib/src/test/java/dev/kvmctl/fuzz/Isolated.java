package dev.kvmctl.fuzz;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmException;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.state.Msrs;
import dev.kvmctl.state.Xsave;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Hostile calls that may crash or hang the JVM when kvmctl does not refuse them, run in a child
 * JVM so that the test JVM survives to report it. The child prints one {@code RESULT} line:
 * {@code RESULT refused <exception>: <message>} when the API refused the call, or
 * {@code RESULT accepted ...} when it went ahead (and then usually dies).
 */
final class Isolated {
    private Isolated() {}

    /** A finished (or killed) child: exit status, -1 when it had to be killed; everything it printed. */
    record Outcome(int status, String output, boolean timedOut) {
        String resultLine() {
            for (String line : output.split("\n")) {
                if (line.startsWith("RESULT ")) {
                    return line;
                }
            }
            return null;
        }

        String describe() {
            String crash;
            if (output.contains("A fatal error has been detected by the Java Runtime Environment")) {
                crash = " (the JVM crashed; its report follows)";
            } else if (status == 134) {
                crash = " (SIGABRT: the process aborted, e.g. glibc found the native heap corrupted)";
            } else {
                crash = status == 135 ? " (SIGBUS)" : status == 139 ? " (SIGSEGV)" : "";
            }
            return (timedOut ? "killed after the time limit" : "exit status " + status) + crash + "; output:\n"
                    + (output.length() > 4000 ? output.substring(0, 4000) + "..." : output);
        }
    }

    /** Runs {@code main(scenario, args)} of this class in a new JVM, as {@link #runMain} does. */
    static Outcome run(Duration limit, List<String> jvmFlags, String scenario, String... args)
            throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of(scenario));
        all.addAll(Arrays.asList(args));
        return runMain(limit, jvmFlags, Isolated.class, all.toArray(String[]::new));
    }

    /**
     * Runs {@code main(args)} of {@code main} in a new JVM with this JVM's classpath, in a scratch
     * directory (its {@code java.io.tmpdir}) that is deleted afterwards; a crash report the JVM
     * wrote there is appended to the output. The class should print a {@code RESULT} line.
     */
    static Outcome runMain(Duration limit, List<String> jvmFlags, Class<?> main, String... args)
            throws IOException, InterruptedException {
        Path work = Files.createTempDirectory("kvmctl-isolated");
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
            if (Runtime.version().feature() >= 22) {
                cmd.add("--enable-native-access=ALL-UNNAMED");
            }
            cmd.add("-Djava.io.tmpdir=" + work);
            cmd.add("-XX:ErrorFile=" + work + "/hs_err_%p.log");
            cmd.addAll(jvmFlags);
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(main.getName());
            cmd.addAll(Arrays.asList(args));
            Path log = work.resolve("output.txt");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("LIBC_FATAL_STDERR_", "1"); // glibc's abort messages to stderr, not /dev/tty
            Process p = pb.start();
            boolean finished = p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                p.destroyForcibly().waitFor();
            }
            StringBuilder output = new StringBuilder(Files.readString(log));
            try (Stream<Path> files = Files.list(work)) {
                for (Path f : files.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList()) {
                    output.append("--- ").append(f.getFileName()).append(" (first lines) ---\n");
                    Files.readAllLines(f).stream().limit(25).forEach(l -> output.append(l).append('\n'));
                }
            }
            return new Outcome(finished ? p.exitValue() : -1, output.toString(), !finished);
        } finally {
            try (Stream<Path> files = Files.walk(work)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "xsave-small" -> xsaveSmall(Integer.parseInt(rest[0]));
            case "msrs-count" -> msrsCount(Integer.parseInt(rest[0]));
            case "mapfile-beyond-eof" -> mapFileBeyondEof();
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void refused(Exception e) {
        System.out.println("RESULT refused " + e.getClass().getName() + ": " + e.getMessage());
    }

    /** An XSAVE struct smaller than the kernel's area, read and written by the vCPU. */
    private static void xsaveSmall(int size) {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            List<Object> neighbours = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                Xsave x;
                try {
                    x = new Xsave(size);
                    vcpu.getXsave(x);
                    vcpu.setXsave(x);
                } catch (IllegalArgumentException | KvmException e) {
                    refused(e);
                    return;
                }
                neighbours.add(x);
                neighbours.add(ByteBuffer.allocateDirect(64));
                if (i % 20 == 0) {
                    neighbours.clear();
                    System.gc();
                }
            }
            System.out.println("RESULT accepted: a " + size + "-byte Xsave was read and written (kvm.xsaveSize() = "
                    + kvm.xsaveSize() + ")");
        }
    }

    /** An MSR list whose count field (loaded from raw bytes) is larger than its capacity. */
    private static void msrsCount(int count) {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            List<Object> neighbours = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                Msrs m = Msrs.of(0x10); // IA32_TSC: readable, so the kernel writes entries back
                byte[] raw = m.toByteArray();
                ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).putInt(0, count); // nmsrs
                try {
                    m.load(raw);
                    vcpu.getMsrs(m);
                } catch (IllegalArgumentException | KvmException e) {
                    refused(e);
                    return;
                }
                neighbours.add(m);
                neighbours.add(ByteBuffer.allocateDirect(64));
                if (i % 20 == 0) {
                    neighbours.clear();
                    System.gc();
                }
            }
            System.out.println("RESULT accepted: KVM_GET_MSRS ran on a 1-entry list whose count said " + count);
        }
    }

    /** A file mapping larger than the file, then read past the end of the file. */
    private static void mapFileBeyondEof() throws IOException {
        Path f = Files.createTempFile("kvmctl-small", ".bin");
        try {
            Files.write(f, new byte[4096]);
            GuestMemory m;
            try {
                m = GuestMemory.mapFile(f, 0, 1 << 20);
            } catch (IllegalArgumentException | KvmException e) {
                refused(e);
                return;
            }
            System.out.println("RESULT accepted: mapped 1 MiB of a 4 KiB file; reading past its end:");
            System.out.flush();
            try (m) {
                System.out.println("read " + m.read(64 << 10, 16).length + " bytes");
            } catch (Throwable t) {
                System.out.println("threw " + t);
            }
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
