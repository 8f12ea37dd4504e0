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
 * try (Kvm kvm = Kvm.open()) {
 *     System.out.println("KVM API " + kvm.apiVersion() + ", max vCPUs " + kvm.maxVcpus());
 *     try (Vm vm = kvm.createVm()) {
 *         ...
 *     }
 * }
 * }</pre>
 */
public final class Kvm implements AutoCloseable {
    /** The device node kvmctl opens by default. */
    public static final Path DEFAULT_DEVICE = Paths.get("/dev/kvm");
    /** The only KVM API version there has ever been. */
    public static final int API_VERSION = Layout.intValue("KVM_API_VERSION");

    private static final int ENOENT = 2, ENXIO = 6, EACCES = 13, ENODEV = 19, EPERM = 1;

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
        this.vcpuMmapSize = KvmException.check(fd.call((kvm, unused) -> Shim.getVcpuMmapSize(kvm), 0), "KVM_GET_VCPU_MMAP_SIZE");
        int slots = checkExtension(Capability.NR_MEMSLOTS);
        this.memslots = slots > 0 ? slots : 32;
        this.xsaveSize = Math.max(checkExtension(Capability.XSAVE2), Layout.sizeOf("kvm_xsave"));
    }

    /** Opens {@code /dev/kvm}. */
    public static Kvm open() {
        return open(DEFAULT_DEVICE);
    }

    /**
     * Opens the KVM device at {@code device}.
     *
     * @throws KvmException with a message that says what to do when the device is missing, not
     *     accessible, or not a KVM device
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

    private static String openHint(Path device, int errno) {
        switch (errno) {
            case ENOENT:
                return device + " does not exist: this kernel has no KVM or its module is not loaded "
                        + "(modprobe kvm_intel or kvm_amd; in a VM, enable nested virtualization), "
                        + "or this container was started without --device " + device;
            case EACCES:
            case EPERM:
                return "no permission to open " + device + ": run as a member of its group (ls -l "
                        + device + "; usermod -aG kvm $USER, then log in again) or grant access with a udev rule";
            case ENXIO:
            case ENODEV:
                return device + " exists but no KVM driver answers it: load kvm_intel or kvm_amd, and "
                        + "check that virtualization is enabled in the firmware";
            default:
                return Files.exists(device) ? "could not open " + device : device + " does not exist";
        }
    }

    private static int apiVersion(int kvm, long unused) {
        return Shim.getApiVersion(kvm);
    }

    private void ensureOpen() {
        fd.get(); // refuses with "<device> is closed"
    }

    /** The device this was opened from. */
    public Path device() {
        ensureOpen();
        return device;
    }

    /** {@code KVM_GET_API_VERSION}: always 12 on any kernel kvmctl accepts. */
    public int apiVersion() {
        return KvmException.check(fd.call(Kvm::apiVersion, 0), "KVM_GET_API_VERSION");
    }

    /** {@code KVM_CHECK_EXTENSION}: 0 when absent, otherwise 1 or a capability-specific number. */
    public int checkExtension(Capability cap) {
        return KvmException.check(fd.call(Shim::checkExtension, cap.number()), "KVM_CHECK_EXTENSION");
    }

    /** Whether the capability is present. */
    public boolean has(Capability cap) {
        return checkExtension(cap) > 0;
    }

    /** Throws a {@link KvmException} that names the first capability this kernel lacks. */
    public void require(Capability... caps) {
        ensureOpen();
        for (Capability cap : caps) {
            if (!has(cap)) {
                throw new KvmException(cap.kernelName(), KvmException.NO_ERRNO,
                        "this kernel's KVM lacks it; kvmctl needs a newer kernel or a KVM module with this feature");
            }
        }
    }

    /** Size of the region to mmap from a vCPU fd: the {@code kvm_run} page and what follows it. */
    public int vcpuMmapSize() {
        ensureOpen();
        return vcpuMmapSize;
    }

    /** The most vCPUs a VM may have ({@code KVM_CAP_MAX_VCPUS}, falling back to the recommended number). */
    public int maxVcpus() {
        int max = checkExtension(Capability.MAX_VCPUS);
        return max > 0 ? max : recommendedVcpus();
    }

    /** The recommended most vCPUs ({@code KVM_CAP_NR_VCPUS}; 4 when the kernel does not say). */
    public int recommendedVcpus() {
        int n = checkExtension(Capability.NR_VCPUS);
        return n > 0 ? n : 4;
    }

    /** The most memory slots a VM may have ({@code KVM_CAP_NR_MEMSLOTS}; 32 when the kernel does not say). */
    public int memslots() {
        ensureOpen();
        return memslots;
    }

    /** Bytes of a vCPU's XSAVE area: {@code KVM_CAP_XSAVE2}'s answer, at least the 4 KiB of {@code struct kvm_xsave}. */
    public int xsaveSize() {
        ensureOpen();
        return xsaveSize;
    }

    /** {@code KVM_GET_SUPPORTED_CPUID}: every CPUID leaf KVM can present to a guest. */
    public Cpuid supportedCpuid() {
        return cpuid(false);
    }

    /** {@code KVM_GET_EMULATED_CPUID}: leaves KVM emulates even where the host lacks them. */
    public Cpuid emulatedCpuid() {
        return cpuid(true);
    }

    private Cpuid cpuid(boolean emulated) {
        ensureOpen();
        Cpuid cpuid = new Cpuid(Cpuid.MAX_ENTRIES);
        int rc = fd.call(emulated ? Shim::getEmulatedCpuid : Shim::getSupportedCpuid, cpuid.address());
        KvmException.check(rc, emulated ? "KVM_GET_EMULATED_CPUID" : "KVM_GET_SUPPORTED_CPUID");
        return cpuid;
    }

    /** {@code KVM_GET_MSR_INDEX_LIST}: the MSRs that KVM_GET_MSRS/KVM_SET_MSRS can save and restore. */
    public int[] msrIndexList() {
        return msrList(false);
    }

    /** {@code KVM_GET_MSR_FEATURE_INDEX_LIST}: MSRs that describe features (read with the system ioctl). */
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
            ByteBuffer list = Memory.allocate(header + 4 * capacity);
            list.putInt(nmsrs, capacity);
            long address = Memory.addressOf(list);
            int rc = fd.call(features ? Shim::getMsrFeatureIndexList : Shim::getMsrIndexList, address);
            int n = list.getInt(nmsrs);
            if (rc == -7 /* E2BIG: the kernel wrote the count it needs */ && n > capacity) {
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
     * instruction emulator.
     */
    public Backend backend() {
        ensureOpen();
        return Backend.detect();
    }

    /** Creates a VM of the default type. */
    public Vm createVm() {
        int vm = fd.call(Shim::createVm, 0);
        if (vm < 0) {
            throw new KvmException("KVM_CREATE_VM", -vm, -vm == 12 || -vm == 24
                    ? "the host is out of memory or file descriptors; close unused VMs" : null);
        }
        return new Vm(this, new OwnedFd(vm, "VM"));
    }

    /** Whether {@link #close()} was called. */
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
