/**
 * Memory shared between VMs: a {@link dev.kvmctl.guests.shm.SharedRegion} (one memfd mapped into
 * several VMs at the same guest-physical address, with a block allocator) and the
 * {@link dev.kvmctl.guests.shm.SharedMemoryHub} that serves the ABI of
 * {@code docs/shared-memory-abi.md}: guests allocate, send and free blocks through mailbox calls,
 * within per-VM {@link dev.kvmctl.guests.shm.Quotas}, and ring each other's doorbells without an
 * exit to user space. {@link dev.kvmctl.guests.shm.ShmAbi} holds the ABI's numbers. Messages can
 * also go without any exit, through single-producer/single-consumer rings of block handles in the
 * region; {@link dev.kvmctl.guests.shm.ShmEndpoint} lets Java take part in them as a peer.
 *
 * <p>Every call a guest makes is validated; a bad one gets a status code and changes nothing, so a
 * hostile guest can hurt only itself.
 */
package dev.kvmctl.guests.shm;
