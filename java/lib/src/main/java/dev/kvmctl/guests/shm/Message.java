package dev.kvmctl.guests.shm;

/** A block handed from one VM to another and waiting in the receiver's inbox. */
record Message(long offset, long length, int sender) {}
