/**
 * A best-fit allocator of the blocks of one region, by offset:
 * {@link dev.kvmctl.memory.BlockAllocator}. It knows no KVM (plain arithmetic on offsets and
 * owner ids), so it is tested and benchmarked without {@code /dev/kvm} and could manage any
 * region; {@link dev.kvmctl.guests.shm.SharedRegion} pairs it with guest memory.
 *
 * <p>Expected failures (a full region, a wrong owner, a double free) are values,
 * {@link dev.kvmctl.memory.AllocationResult} and {@link dev.kvmctl.memory.BlockResult}, never
 * exceptions, and a refusal never changes the allocator. {@code docs/allocator.md} describes the
 * design and its costs.
 */
package dev.kvmctl.memory;
