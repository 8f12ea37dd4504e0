package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.internal.bridge.NativeLibrary;
import dev.kvmctl.internal.bridge.Shim;
import dev.kvmctl.state.Cpuid;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * The KVM subsystem: an open {@code /dev/kvm}. It answers system-wide questions (API version,
 * capabilities, limits, supported CPUID and MSRs) and creates {@link Vm}s. Closing it does not
 * close the VMs it created, which keep working. A closed {@code Kvm} refuses every call with
 * {@link IllegalStateException} except {@link #close()} (idempotent), {@link #isClosed()} and
 * {@code toString()}, including the answers it had cached.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      GuestMemory ram = GuestMemory.anonymous(1 << 20);
 *      Vm vm = kvm.createVm()) {
 *     System.out.println("KVM API " + kvm.apiVersion() + ", max vCPUs " + kvm.maxVcpus());
 *     vm.mapMemory(0, ram);
 *     ...
 * }
 * }</pre>
 *
 * <p>The resources are opened in the order the {@linkplain dev.kvmctl package documentation}
 * recommends, so try-with-resources closes them in the right one.
 */
public final class Kvm implements AutoCloseable {
    /** The device node kvmctl opens by default. */
    public static final Path DEFAULT_DEVICE = Paths.get("/dev/kvm");
    /**
     * The only KVM API version there has ever been (12); {@link #open(Path)} refuses a kernel that
     * reports another.
     */
    public static final int API_VERSION = Layout.intValue("KVM_API_VERSION");

    private static final int MSR_INDEX_SIZE = Layout.intValue("sizeof kvm_msr_list.indices[0]");
    /** How often {@link #createVm(long)} issues KVM_CREATE_VM while it fails with EINTR (Firecracker: 5; QEMU: no limit). */
    private static final int CREATE_VM_ATTEMPTS = 64;

    private final OwnedFd fd;
    private final Path device;
    private final int vcpuMmapSize;
    /** Fixed for the kernel's lifetime, and asked for by every new VM: looked up once. */
    private final int memslots;
    private final int xsaveSize;

    private Kvm(OwnedFd fd, Path device) {
        this.fd = fd;
        this.device = device;
        int version = fd.call(Kvm::apiVersion, 0);
        if (version < 0) {
            fd.close();
            throw new KvmException("KVM_GET_API_VERSION", -version, device + " is not a KVM device");
        }
        if (version != API_VERSION) {
            fd.close();
            throw new KvmException("KVM_GET_API_VERSION", KvmException.NO_ERRNO,
                    "the kernel reports KVM API version " + version + ", kvmctl needs " + API_VERSION);
        }
        this.vcpuMmapSize = KvmException.check(fd.call(Ioctl.GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE");
        int slots = checkExtension(Capability.NR_MEMSLOTS);
        this.memslots = slots > 0 ? slots : 32;
        this.xsaveSize = Math.max(checkExtension(Capability.XSAVE2), Layout.sizeOf("kvm_xsave"));
    }

    /**
     * Opens {@link #DEFAULT_DEVICE}, {@code /dev/kvm}.
     *
     * @return the open device, which the caller closes
     * @throws KvmException as {@link #open(Path)} does
     */
    public static Kvm open() {
        return open(DEFAULT_DEVICE);
    }

    /**
     * Opens the KVM device at {@code device}, checks its API version ({@code KVM_GET_API_VERSION})
     * and reads the limits every VM needs ({@code KVM_GET_VCPU_MMAP_SIZE}, memory slots, XSAVE
     * size) once.
     *
     * @param device the device node, usually {@link #DEFAULT_DEVICE}
     * @return the open device, which the caller closes
     * @throws KvmException with a message that says what to do: {@code ENOENT} when the device is
     *     missing, {@code EACCES} or {@code EPERM} when it is not accessible, {@code ENXIO} or
     *     {@code ENODEV} when no KVM driver answers it; a failed {@code KVM_GET_API_VERSION} when
     *     it is not a KVM device or reports an API version other than {@link #API_VERSION}
     */
    public static Kvm open(Path device) {
        NativeLibrary.ensureLoaded();
        int raw = LibC.INSTANCE.open(device.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        if (raw < 0) {
            int errno = LibC.errno();
            throw new KvmException("open(" + device + ")", errno, openHint(device, errno));
        }
        return new Kvm(new OwnedFd(raw, device.toString()), device);
    }

    /**
     * Takes ownership of a {@code /dev/kvm} descriptor opened elsewhere (inherited, or passed over
     * a socket), as kvm-ioctls' {@code Kvm::from_raw_fd} does: checks its API version and reads
     * the limits as {@link #open(Path)} does. The returned object closes it.
     *
     * @param rawFd an open descriptor of {@code /dev/kvm}, which the caller must not use or close
     *     afterwards
     * @return the adopted device, which the caller closes
     * @throws IllegalArgumentException if {@code rawFd} is negative
     * @throws KvmException a failed {@code KVM_GET_API_VERSION} when {@code rawFd} is not a KVM
     *     descriptor (it is closed then)
     */
    public static Kvm adopt(int rawFd) {
        NativeLibrary.ensureLoaded();
        if (rawFd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + rawFd);
        }
        return new Kvm(new OwnedFd(rawFd, "/dev/kvm (fd " + rawFd + ")"), Paths.get("/proc/self/fd/" + rawFd));
    }

    private static String openHint(Path device, int errno) {
        if (errno == LibC.ENOENT) {
            return device + " does not exist: this kernel has no KVM or its module is not loaded "
                    + "(modprobe kvm_intel or kvm_amd; in a VM, enable nested virtualization), "
                    + "or this container was started without --device " + device;
        } else if (errno == LibC.EACCES || errno == LibC.EPERM) {
            return "no permission to open " + device + ": run as a member of its group (ls -l "
                    + device + "; usermod -aG kvm $USER, then log in again) or grant access with a udev rule";
        } else if (errno == LibC.ENXIO || errno == LibC.ENODEV) {
            return device + " exists but no KVM driver answers it: load kvm_intel or kvm_amd, and "
                    + "check that virtualization is enabled in the firmware";
        }
        return Files.exists(device) ? "could not open " + device : device + " does not exist";
    }

    private static int apiVersion(int kvm, long unused) {
        return Shim.getApiVersion(kvm);
    }

    private void ensureOpen() {
        fd.get(); // refuses with "<device> is closed"
    }

    /**
     * {@return the device node this was opened from}
     *
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public Path device() {
        ensureOpen();
        return device;
    }

    /**
     * The {@code /dev/kvm} descriptor, for callers that issue their own ioctls. The number is the
     * caller's to guard: after {@link #close()} it may name another file.
     *
     * @return the descriptor, owned by this {@code Kvm} (do not close it)
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int fd() {
        return fd.get();
    }

    /**
     * Asks the kernel again for its API version. Issues {@code KVM_GET_API_VERSION}.
     *
     * @return {@link #API_VERSION}, 12, on any kernel kvmctl accepts
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int apiVersion() {
        return KvmException.check(fd.call(Kvm::apiVersion, 0), "KVM_GET_API_VERSION");
    }

    /**
     * Asks whether this kernel's KVM has a capability, system-wide. Issues
     * {@code KVM_CHECK_EXTENSION} on the {@code /dev/kvm} descriptor; {@link Vm#checkExtension}
     * asks one VM, for the capabilities whose answer differs per VM.
     *
     * @param cap the capability
     * @return 0 when absent; otherwise 1, or a capability-specific number (a count, a size: see
     *     {@link Capability})
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int checkExtension(Capability cap) {
        return KvmException.check(fd.call(Ioctl.CHECK_EXTENSION, cap.number()), "KVM_CHECK_EXTENSION");
    }

    /**
     * As {@link #checkExtension(Capability)}, for a capability by its raw {@code KVM_CAP_*} number,
     * including those the {@link Capability} enum does not list. Issues {@code KVM_CHECK_EXTENSION}.
     *
     * @param cap the capability number, from the kernel headers
     * @return 0 when absent (also for numbers this kernel does not know); otherwise 1, or a
     *     capability-specific number
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int checkExtension(int cap) {
        return KvmException.check(fd.call(Ioctl.CHECK_EXTENSION, cap), "KVM_CHECK_EXTENSION(" + cap + ")");
    }

    /**
     * {@return whether the capability is present: {@link #checkExtension} answers more than 0}
     *
     * @param cap the capability
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public boolean has(Capability cap) {
        return checkExtension(cap) > 0;
    }

    /**
     * Checks that this kernel has every capability a program needs, before it starts.
     *
     * @param caps the capabilities needed
     * @throws KvmException naming the first capability this kernel lacks ({@link KvmException#operation()}
     *     is its kernel name, e.g. {@code KVM_CAP_IRQFD}; the errno is {@link KvmException#NO_ERRNO})
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public void require(Capability... caps) {
        ensureOpen();
        for (Capability cap : caps) {
            if (!has(cap)) {
                throw new KvmException(cap.kernelName(), KvmException.NO_ERRNO,
                        "this kernel's KVM lacks it; kvmctl needs a newer kernel or a KVM module with this feature");
            }
        }
    }

    /**
     * {@return the size in bytes of the region each {@link Vcpu} maps from its descriptor: the
     * {@code kvm_run} page and the pages that follow it (port I/O data, the coalesced MMIO ring)}
     * Read once with {@code KVM_GET_VCPU_MMAP_SIZE} when this was opened.
     *
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int vcpuMmapSize() {
        ensureOpen();
        return vcpuMmapSize;
    }

    /**
     * {@return the most vCPUs a VM may have: {@code KVM_CAP_MAX_VCPUS}, or {@link #recommendedVcpus()}
     * when the kernel does not say}
     *
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int maxVcpus() {
        int max = checkExtension(Capability.MAX_VCPUS);
        return max > 0 ? max : recommendedVcpus();
    }

    /**
     * {@return the most vCPUs a VM should have: {@code KVM_CAP_NR_VCPUS}, usually the host's online
     * CPUs; 4 when the kernel does not say}
     *
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int recommendedVcpus() {
        int n = checkExtension(Capability.NR_VCPUS);
        return n > 0 ? n : 4;
    }

    /**
     * {@return the most memory slots a VM may have: {@code KVM_CAP_NR_MEMSLOTS}, read once when this
     * was opened; 32 when the kernel does not say}
     *
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int memslots() {
        ensureOpen();
        return memslots;
    }

    /**
     * {@return the size in bytes of a vCPU's XSAVE area, the size an {@link dev.kvmctl.state.Xsave}
     * needs: {@code KVM_CAP_XSAVE2}'s answer, at least the 4 KiB of {@code struct kvm_xsave}}
     *
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int xsaveSize() {
        ensureOpen();
        return xsaveSize;
    }

    /**
     * Reads every CPUID leaf KVM can present to a guest, the usual table to give
     * {@link Vcpu#setCpuid}. Issues {@code KVM_GET_SUPPORTED_CPUID}.
     *
     * @return a new table the caller owns, with room for {@link dev.kvmctl.state.Cpuid#MAX_ENTRIES}
     *     entries and its count set to the entries KVM filled in
     * @throws KvmException {@code E2BIG} if KVM has more than {@code Cpuid.MAX_ENTRIES} entries
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public Cpuid supportedCpuid() {
        return cpuid(false);
    }

    /**
     * Reads the CPUID features KVM emulates even where the host lacks them (such as
     * {@code movbe}), which it does not include in {@link #supportedCpuid()}. Issues
     * {@code KVM_GET_EMULATED_CPUID}.
     *
     * @return a new table the caller owns, as {@link #supportedCpuid()} returns
     * @throws KvmException {@code E2BIG} if KVM has more than {@code Cpuid.MAX_ENTRIES} entries
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public Cpuid emulatedCpuid() {
        return cpuid(true);
    }

    private Cpuid cpuid(boolean emulated) {
        ensureOpen();
        Cpuid cpuid = new Cpuid(Cpuid.MAX_ENTRIES);
        int rc = fd.call(emulated ? Ioctl.GET_EMULATED_CPUID : Ioctl.GET_SUPPORTED_CPUID, cpuid.address());
        KvmException.check(rc, emulated ? "KVM_GET_EMULATED_CPUID" : "KVM_GET_SUPPORTED_CPUID");
        return cpuid;
    }

    /**
     * Lists the MSRs that {@link Vcpu#getMsrs} and {@link Vcpu#setMsrs} can save and restore.
     * Issues {@code KVM_GET_MSR_INDEX_LIST}, growing its buffer as the kernel asks.
     *
     * @return a new array of MSR indices, in the kernel's order
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int[] msrIndexList() {
        return msrList(false);
    }

    /**
     * Lists the MSRs that describe what the host's CPU can do for guests (such as
     * {@code IA32_ARCH_CAPABILITIES}), read with {@code KVM_GET_MSRS} on the system descriptor
     * rather than a vCPU's. Issues {@code KVM_GET_MSR_FEATURE_INDEX_LIST}.
     *
     * @return a new array of MSR indices
     * @throws KvmException if this kernel lacks the ioctl ({@link Capability#GET_MSR_FEATURES} is 0)
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public int[] msrFeatureIndexList() {
        return msrList(true);
    }

    private int[] msrList(boolean features) {
        ensureOpen();
        int header = Layout.sizeOf("kvm_msr_list");
        int nmsrs = Layout.offsetOf("kvm_msr_list", "nmsrs");
        int indices = Layout.offsetOf("kvm_msr_list", "indices");
        String op = features ? "KVM_GET_MSR_FEATURE_INDEX_LIST" : "KVM_GET_MSR_INDEX_LIST";
        int capacity = 256;
        while (true) {
            ByteBuffer list = Memory.allocate(header + MSR_INDEX_SIZE * capacity);
            list.putInt(nmsrs, capacity);
            long address = Memory.addressOf(list);
            int rc = fd.call(features ? Ioctl.GET_MSR_FEATURE_INDEX_LIST : Ioctl.GET_MSR_INDEX_LIST, address);
            int n = list.getInt(nmsrs);
            if (rc == -LibC.E2BIG /* the kernel wrote the count it needs */ && n > capacity) {
                capacity = n;
                continue;
            }
            KvmException.check(rc, op);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = list.getInt(indices + 4 * i);
            }
            return out;
        }
    }

    /**
     * How this KVM runs guests: with hardware virtualization (Intel VT-x or AMD-V), or with the PVM
     * backend, which runs ring-3 guest code natively but ring 0 and real mode through KVM's
     * instruction emulator. Told by the kernel modules loaded ({@code /sys/module}); no ioctl.
     *
     * @return the backend, or {@link Backend#UNKNOWN} when {@code /sys/module} does not show it
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public Backend backend() {
        ensureOpen();
        return Backend.detect();
    }

    /**
     * Creates a VM of the default type, with no memory, devices or vCPUs yet. Issues
     * {@code KVM_CREATE_VM}.
     *
     * @return the new VM, which the caller closes; it keeps working after this {@code Kvm} is closed
     * @throws KvmException {@code ENOMEM} or {@code EMFILE} when the host is out of memory or file
     *     descriptors (the message says so)
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public Vm createVm() {
        return createVm(0);
    }

    /**
     * Creates a VM of a machine type. Issues {@code KVM_CREATE_VM} with {@code type}.
     *
     * @param type the machine type: 0 for the default; on x86 the bits {@code KVM_CAP_VM_TYPES}
     *     answers ({@code KVM_X86_DEFAULT_VM} 0, {@code KVM_X86_SW_PROTECTED_VM} 1, ...)
     * @return the new VM, which the caller closes; it keeps working after this {@code Kvm} is closed
     * @throws KvmException {@code EINVAL} for a type this kernel does not offer; {@code EINTR} only if
     *     signals interrupted it 64 times in a row (each EINTR is retried); {@code ENOMEM} or
     *     {@code EMFILE} when the host is out of memory or file descriptors
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public Vm createVm(long type) {
        int vm = fd.call(Ioctl.CREATE_VM, type);
        // KVM_CREATE_VM registers an MMU notifier, which takes every lock of the process's address
        // space and gives up with EINTR when a signal arrives meanwhile (a profiler's timer, the
        // JVM's own signals): a retry is the answer, as QEMU, Firecracker and Cloud Hypervisor do.
        for (int attempt = 1; vm == -LibC.EINTR && attempt < CREATE_VM_ATTEMPTS; attempt++) {
            vm = fd.call(Ioctl.CREATE_VM, type);
        }
        if (vm < 0) {
            throw new KvmException("KVM_CREATE_VM", -vm, -vm == LibC.ENOMEM || -vm == LibC.EMFILE || -vm == LibC.ENFILE
                    ? "the host is out of memory or file descriptors; close unused VMs"
                    : -vm == LibC.EINTR ? "interrupted by signals " + CREATE_VM_ATTEMPTS + " times in a row; try again" : null);
        }
        return new Vm(this, new OwnedFd(vm, "VM"));
    }

    /**
     * Takes ownership of a VM descriptor made elsewhere (another {@code Kvm}, an inherited or
     * received descriptor), as kvm-ioctls' {@code Kvm::create_vmfd_from_rawfd} does. kvmctl knows
     * nothing of its memory slots or vCPUs: map memory and create vCPUs through the returned
     * {@link Vm} only where the descriptor's owner did not.
     *
     * @param rawFd an open VM descriptor, which the caller must not use or close afterwards
     * @return the adopted VM, which the caller closes
     * @throws IllegalArgumentException if {@code rawFd} is negative
     * @throws KvmException {@code KVM_CHECK_EXTENSION} fails when {@code rawFd} is not a VM
     *     descriptor (it is closed then)
     * @throws IllegalStateException if this {@code Kvm} is closed
     */
    public Vm adoptVm(int rawFd) {
        ensureOpen();
        OwnedFd owned = new OwnedFd(rawFd, "VM (fd " + rawFd + ")");
        int rc = owned.call(Ioctl.CHECK_EXTENSION, Capability.USER_MEMORY.number());
        if (rc < 0) {
            owned.close();
            throw new KvmException("KVM_CHECK_EXTENSION", -rc, "fd " + rawFd + " is not a KVM VM descriptor");
        }
        return new Vm(this, owned);
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /** Closes {@code /dev/kvm} (not the VMs made from it); idempotent. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Kvm[" + device + "]";
    }
}
