package dev.kvmctl.contexts;

/**
 * Code the {@link Switcher} runs at every switch: before a machine is switched out (its vCPU
 * stopped, its I/O completed) and after one is switched in (before it runs). The built-in
 * {@link ContextSwitchHook} captures and restores contexts; add your own for tracing, checks or
 * snapshots on switch.
 *
 * <pre>{@code
 * switcher.addHook(new SwitchHook() {
 *     public void afterSwitchIn(SwitchEvent e) {
 *         System.err.println("running " + e.machine().name() + " after switch " + e.number());
 *     }
 * });
 * }</pre>
 */
public interface SwitchHook {
    /** The machine stopped running; its vCPU is idle. Hooks run in the order they were added. */
    default void beforeSwitchOut(SwitchEvent event) {}

    /** The machine is about to run. Hooks run in the order they were added. */
    default void afterSwitchIn(SwitchEvent event) {}
}
