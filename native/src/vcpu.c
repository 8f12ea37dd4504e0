/* vCPU ioctls: issued on a vCPU file descriptor. */
#include "shim.h"

int kvmctl_run(int vcpu) { return KVMCTL_IOCTL(vcpu, KVM_RUN, 0); }
int kvmctl_get_regs(int vcpu, void *regs) { return KVMCTL_IOCTL(vcpu, KVM_GET_REGS, regs); }
int kvmctl_set_regs(int vcpu, void *regs) { return KVMCTL_IOCTL(vcpu, KVM_SET_REGS, regs); }
int kvmctl_get_sregs(int vcpu, void *sregs) { return KVMCTL_IOCTL(vcpu, KVM_GET_SREGS, sregs); }
int kvmctl_set_sregs(int vcpu, void *sregs) { return KVMCTL_IOCTL(vcpu, KVM_SET_SREGS, sregs); }
int kvmctl_get_fpu(int vcpu, void *fpu) { return KVMCTL_IOCTL(vcpu, KVM_GET_FPU, fpu); }
int kvmctl_set_fpu(int vcpu, void *fpu) { return KVMCTL_IOCTL(vcpu, KVM_SET_FPU, fpu); }
int kvmctl_get_xsave(int vcpu, void *xsave) { return KVMCTL_IOCTL(vcpu, KVM_GET_XSAVE, xsave); }
int kvmctl_get_xsave2(int vcpu, void *xsave) { return KVMCTL_IOCTL(vcpu, KVM_GET_XSAVE2, xsave); }
int kvmctl_set_xsave(int vcpu, void *xsave) { return KVMCTL_IOCTL(vcpu, KVM_SET_XSAVE, xsave); }
int kvmctl_get_xcrs(int vcpu, void *xcrs) { return KVMCTL_IOCTL(vcpu, KVM_GET_XCRS, xcrs); }
int kvmctl_set_xcrs(int vcpu, void *xcrs) { return KVMCTL_IOCTL(vcpu, KVM_SET_XCRS, xcrs); }
int kvmctl_get_msrs(int vcpu, void *msrs) { return KVMCTL_IOCTL(vcpu, KVM_GET_MSRS, msrs); }
int kvmctl_set_msrs(int vcpu, void *msrs) { return KVMCTL_IOCTL(vcpu, KVM_SET_MSRS, msrs); }
int kvmctl_get_lapic(int vcpu, void *lapic) { return KVMCTL_IOCTL(vcpu, KVM_GET_LAPIC, lapic); }
int kvmctl_set_lapic(int vcpu, void *lapic) { return KVMCTL_IOCTL(vcpu, KVM_SET_LAPIC, lapic); }
int kvmctl_get_mp_state(int vcpu, void *mp_state) { return KVMCTL_IOCTL(vcpu, KVM_GET_MP_STATE, mp_state); }
int kvmctl_set_mp_state(int vcpu, void *mp_state) { return KVMCTL_IOCTL(vcpu, KVM_SET_MP_STATE, mp_state); }
int kvmctl_get_vcpu_events(int vcpu, void *events) { return KVMCTL_IOCTL(vcpu, KVM_GET_VCPU_EVENTS, events); }
int kvmctl_set_vcpu_events(int vcpu, void *events) { return KVMCTL_IOCTL(vcpu, KVM_SET_VCPU_EVENTS, events); }
int kvmctl_get_debugregs(int vcpu, void *debugregs) { return KVMCTL_IOCTL(vcpu, KVM_GET_DEBUGREGS, debugregs); }
int kvmctl_set_debugregs(int vcpu, void *debugregs) { return KVMCTL_IOCTL(vcpu, KVM_SET_DEBUGREGS, debugregs); }
int kvmctl_get_cpuid2(int vcpu, void *cpuid2) { return KVMCTL_IOCTL(vcpu, KVM_GET_CPUID2, cpuid2); }
int kvmctl_set_cpuid2(int vcpu, void *cpuid2) { return KVMCTL_IOCTL(vcpu, KVM_SET_CPUID2, cpuid2); }
int kvmctl_set_guest_debug(int vcpu, void *guest_debug) { return KVMCTL_IOCTL(vcpu, KVM_SET_GUEST_DEBUG, guest_debug); }
int kvmctl_get_tsc_khz(int vcpu) { return KVMCTL_IOCTL(vcpu, KVM_GET_TSC_KHZ, 0); }
int kvmctl_set_tsc_khz(int vcpu, uint32_t khz) { return KVMCTL_IOCTL(vcpu, KVM_SET_TSC_KHZ, (unsigned long)khz); }
int kvmctl_translate(int vcpu, void *translation) { return KVMCTL_IOCTL(vcpu, KVM_TRANSLATE, translation); }
int kvmctl_nmi(int vcpu) { return KVMCTL_IOCTL(vcpu, KVM_NMI, 0); }

int kvmctl_interrupt(int vcpu, uint32_t irq)
{
    struct kvm_interrupt interrupt = { .irq = irq };
    return KVMCTL_IOCTL(vcpu, KVM_INTERRUPT, &interrupt);
}

int kvmctl_kvmclock_ctrl(int vcpu) { return KVMCTL_IOCTL(vcpu, KVM_KVMCLOCK_CTRL, 0); }
int kvmctl_smi(int vcpu) { return KVMCTL_IOCTL(vcpu, KVM_SMI, 0); }
int kvmctl_get_nested_state(int vcpu, void *state) { return KVMCTL_IOCTL(vcpu, KVM_GET_NESTED_STATE, state); }
int kvmctl_set_nested_state(int vcpu, void *state) { return KVMCTL_IOCTL(vcpu, KVM_SET_NESTED_STATE, state); }
/* The kernel advances gpa and shrinks size in the struct as it goes, so Java passes it to see how far. */
int kvmctl_pre_fault_memory(int vcpu, void *range) { return KVMCTL_IOCTL(vcpu, KVM_PRE_FAULT_MEMORY, range); }
