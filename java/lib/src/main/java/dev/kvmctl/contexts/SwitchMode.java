package dev.kvmctl.contexts;

/**
 * How {@link ContextSwitchHook} switches a machine out and back in.
 *
 * <pre>{@code
 * Switcher switcher = new Switcher(List.of(machine), Duration.ofMillis(1))
 *         .addHook(new ContextSwitchHook(SwitchMode.COLD));   // a brand-new KVM VM at every switch
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
