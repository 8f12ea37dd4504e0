package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.Shim;

/**
 * The shim's calls that {@link Kvm}, {@link Vm} and {@link Vcpu} make through
 * {@link OwnedFd#call}, as constants rather than method references ({@code Shim::setRegs}): in a
 * fresh JVM the first run of each method-reference call site links it (a lambda class, method
 * handles), about 0.15 ms apiece, and a restore ran a dozen of them between opening the snapshot
 * and the guest's first {@code KVM_RUN} (issue 11). These constants are made once, when this
 * class initializes ({@code LazyRestore.loadClasses()} does it ahead of a restore), and a call is
 * one switch.
 */
enum Ioctl implements OwnedFd.Call {
    CHECK_EXTENSION,
    CREATE_IRQCHIP,
    CREATE_VCPU,
    CREATE_VM,
    GET_CLOCK,
    GET_CPUID2,
    GET_DEBUGREGS,
    GET_EMULATED_CPUID,
    GET_FPU,
    GET_IRQCHIP,
    GET_LAPIC,
    GET_MP_STATE,
    GET_MSRS,
    GET_MSR_FEATURE_INDEX_LIST,
    GET_MSR_INDEX_LIST,
    GET_NESTED_STATE,
    GET_PIT2,
    GET_REGS,
    GET_SREGS,
    GET_STATS_FD,
    GET_SUPPORTED_CPUID,
    GET_TSC_KHZ,
    GET_VCPU_EVENTS,
    GET_VCPU_MMAP_SIZE,
    GET_XCRS,
    GET_XSAVE,
    GET_XSAVE2,
    KVMCLOCK_CTRL,
    NMI,
    PRE_FAULT_MEMORY,
    RESET_DIRTY_RINGS,
    SET_CLOCK,
    SET_CPUID2,
    SET_DEBUGREGS,
    SET_FPU,
    SET_GSI_ROUTING,
    SET_GUEST_DEBUG,
    SET_IDENTITY_MAP_ADDR,
    SET_IRQCHIP,
    SET_LAPIC,
    SET_MP_STATE,
    SET_MSRS,
    SET_MSR_FILTER,
    SET_NESTED_STATE,
    SET_PIT2,
    SET_REGS,
    SET_SREGS,
    SET_TSS_ADDR,
    SET_VCPU_EVENTS,
    SET_XCRS,
    SET_XSAVE,
    SMI,
    TRANSLATE;

    /** {@code KVM_} and the constant's name: how errors name most of these calls. */
    private final String kernelName = "KVM_" + name();

    /** {@return the ioctl's name as the kernel spells it, for most constants ({@code KVM_SET_REGS})} */
    String kernelName() {
        return kernelName;
    }

    @Override
    public int call(int fd, long arg) {
        return switch (this) {
            case CHECK_EXTENSION -> Shim.checkExtension(fd, arg);
            case CREATE_IRQCHIP -> Shim.createIrqchip(fd);
            case CREATE_VCPU -> Shim.createVcpu(fd, arg);
            case CREATE_VM -> Shim.createVm(fd, arg);
            case GET_CLOCK -> Shim.getClock(fd, arg);
            case GET_CPUID2 -> Shim.getCpuid2(fd, arg);
            case GET_DEBUGREGS -> Shim.getDebugRegs(fd, arg);
            case GET_EMULATED_CPUID -> Shim.getEmulatedCpuid(fd, arg);
            case GET_FPU -> Shim.getFpu(fd, arg);
            case GET_IRQCHIP -> Shim.getIrqchip(fd, arg);
            case GET_LAPIC -> Shim.getLapic(fd, arg);
            case GET_MP_STATE -> Shim.getMpState(fd, arg);
            case GET_MSRS -> Shim.getMsrs(fd, arg);
            case GET_MSR_FEATURE_INDEX_LIST -> Shim.getMsrFeatureIndexList(fd, arg);
            case GET_MSR_INDEX_LIST -> Shim.getMsrIndexList(fd, arg);
            case GET_NESTED_STATE -> Shim.getNestedState(fd, arg);
            case GET_PIT2 -> Shim.getPit2(fd, arg);
            case GET_REGS -> Shim.getRegs(fd, arg);
            case GET_SREGS -> Shim.getSregs(fd, arg);
            case GET_STATS_FD -> Shim.getStatsFd(fd);
            case GET_SUPPORTED_CPUID -> Shim.getSupportedCpuid(fd, arg);
            case GET_TSC_KHZ -> Shim.getTscKhz(fd);
            case GET_VCPU_EVENTS -> Shim.getVcpuEvents(fd, arg);
            case GET_VCPU_MMAP_SIZE -> Shim.getVcpuMmapSize(fd);
            case GET_XCRS -> Shim.getXcrs(fd, arg);
            case GET_XSAVE -> Shim.getXsave(fd, arg);
            case GET_XSAVE2 -> Shim.getXsave2(fd, arg);
            case KVMCLOCK_CTRL -> Shim.kvmclockCtrl(fd);
            case NMI -> Shim.nmi(fd);
            case PRE_FAULT_MEMORY -> Shim.preFaultMemory(fd, arg);
            case RESET_DIRTY_RINGS -> Shim.resetDirtyRings(fd);
            case SET_CLOCK -> Shim.setClock(fd, arg);
            case SET_CPUID2 -> Shim.setCpuid2(fd, arg);
            case SET_DEBUGREGS -> Shim.setDebugRegs(fd, arg);
            case SET_FPU -> Shim.setFpu(fd, arg);
            case SET_GSI_ROUTING -> Shim.setGsiRouting(fd, arg);
            case SET_GUEST_DEBUG -> Shim.setGuestDebug(fd, arg);
            case SET_IDENTITY_MAP_ADDR -> Shim.setIdentityMapAddr(fd, arg);
            case SET_IRQCHIP -> Shim.setIrqchip(fd, arg);
            case SET_LAPIC -> Shim.setLapic(fd, arg);
            case SET_MP_STATE -> Shim.setMpState(fd, arg);
            case SET_MSRS -> Shim.setMsrs(fd, arg);
            case SET_MSR_FILTER -> Shim.setMsrFilter(fd, arg);
            case SET_NESTED_STATE -> Shim.setNestedState(fd, arg);
            case SET_PIT2 -> Shim.setPit2(fd, arg);
            case SET_REGS -> Shim.setRegs(fd, arg);
            case SET_SREGS -> Shim.setSregs(fd, arg);
            case SET_TSS_ADDR -> Shim.setTssAddr(fd, arg);
            case SET_VCPU_EVENTS -> Shim.setVcpuEvents(fd, arg);
            case SET_XCRS -> Shim.setXcrs(fd, arg);
            case SET_XSAVE -> Shim.setXsave(fd, arg);
            case SMI -> Shim.smi(fd);
            case TRANSLATE -> Shim.translate(fd, arg);
        };
    }
}
