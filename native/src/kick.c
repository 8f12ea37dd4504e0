/*
 * Leaving KVM_RUN from another thread. Java sets kvm_run.immediate_exit and
 * then signals the vCPU's thread: the flag covers a thread that has not yet
 * entered KVM_RUN, the signal one that is inside it. A signal handler cannot
 * be Java code, so its empty body lives here.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "shim.h"

static void kvmctl_kick_handler(int signo)
{
    (void)signo;
}

int kvmctl_kick_install(int signo)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = kvmctl_kick_handler;
    sigemptyset(&action.sa_mask);
    /* No SA_RESTART: KVM_RUN must come back with EINTR. */
    action.sa_flags = 0;
    return kvmctl_result(sigaction(signo, &action, NULL));
}

/* SIGRTMIN is a libc call, not a constant, so it cannot sit in the layout table. */
int kvmctl_sigrtmin(void)
{
    return SIGRTMIN;
}

int64_t kvmctl_thread_self(void)
{
    return (int64_t)pthread_self();
}

int kvmctl_thread_kick(int64_t thread, int signo)
{
    /* pthread_kill reports its error as a return value, not through errno. */
    return -pthread_kill((pthread_t)thread, signo);
}
