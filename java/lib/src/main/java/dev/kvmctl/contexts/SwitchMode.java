package dev.kvmctl.contexts;

/**
 * How {@link ContextSwitchHook} switches a machine out and back in.
 *
 * <pre>{@code
 * new Switcher(machines, SwitchMode.COLD, Duration.ofMillis(1));
 * }</pre>
 */
public enum SwitchMode {
    /** Capture the context; keep the VM; restore the context into the same vCPU. */
    WARM,
    /**
     * Capture the context and close the VM; before the machine runs again, build a brand-new KVM
     * VM over the same memory and restore the context into it. The proof that a context is complete.
     */
    COLD
}
