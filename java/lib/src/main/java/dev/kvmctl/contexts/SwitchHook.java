package dev.kvmctl.contexts;

/**
 * Code the {@link Switcher} runs at every switch: before a machine is switched out (its vCPU
 * stopped, its I/O completed) and after one is switched in (before it runs). The built-in
 * {@link ContextSwitchHook} captures and restores contexts; add your own for tracing, checks or
 * snapshots on switch.
 *
 * <pre>{@code
 * Switcher switcher = new Switcher(List.of(machine), Duration.ofMillis(1));
 * switcher.addHook(new SwitchHook() {
 *     public void afterSwitchIn(SwitchEvent e) {
 *         System.err.println("running " + e.guest().name() + " after switch " + e.number());
 *     }
 * });
 * }</pre>
 *
 * <p>Hooks run on the switcher's thread. One that throws ends the machine it was called for as
 * {@link dev.kvmctl.guests.Outcome#FAILED} (its context could not be kept or loaded); the others
 * run on.
 */
public interface SwitchHook {
    /**
     * The machine stopped running; its vCPU is idle. Hooks run in the order they were added.
     * Does nothing unless overridden.
     *
     * @param event the machine switched out, and why its slice ended
     */
    default void beforeSwitchOut(SwitchEvent event) {}

    /**
     * The machine is about to run. Hooks run in the order they were added. Does nothing unless
     * overridden.
     *
     * @param event the machine switched in, and why the previous slice ended ({@code START} the
     *     first time)
     */
    default void afterSwitchIn(SwitchEvent event) {}
}
