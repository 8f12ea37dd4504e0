/*
 * The C baseline of scripts/bench-startup.sh: the smallest VMM that runs a built-in long-mode
 * guest image the way `kvmctl launch --image NAME` does, so the two whole-process start-up times
 * can be compared.
 *
 *   launch-vmm IMAGE.elf
 *
 * 16 MiB of memfd RAM in one slot (launch's default), the ELF's PT_LOAD segments copied in,
 * the ring-3 boot layout of bench-common.h (BootSetup's), the boot info at 0x1000 (magic,
 * version, RAM size), RSP at the top of RAM, XCR0 as BootSetup sets it; then KVM_RUN until the
 * guest writes its status to port 0xf4 (the process exits with it) or halts (0). Bytes written
 * to ports 0x3f8 and 0xe9 go to stdout; any other exit is a failure (status 125).
 */
#include "bench-common.h"

#include <elf.h>
#include <sys/stat.h>

#define VMM_RAM (16u << 20)

static uint64_t load_elf(const char *path, uint8_t *mem)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        die(path);
    uint8_t *file = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED)
        die("mmap image");
    close(fd);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)file;
    if ((size_t)st.st_size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) {
        fprintf(stderr, "launch-vmm: %s is not an ELF64 image\n", path);
        exit(2);
    }
    for (int i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(file + eh->e_phoff + (size_t)i * eh->e_phentsize);
        if (ph->p_type != PT_LOAD)
            continue;
        if (ph->p_paddr + ph->p_memsz > VMM_RAM || ph->p_offset + ph->p_filesz > (uint64_t)st.st_size) {
            fprintf(stderr, "launch-vmm: a segment of %s does not fit\n", path);
            exit(2);
        }
        memcpy(mem + ph->p_paddr, file + ph->p_offset, ph->p_filesz);
        memset(mem + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
    }
    uint64_t entry = eh->e_entry;
    munmap(file, st.st_size);
    return entry;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: launch-vmm IMAGE.elf\n");
        return 2;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");
    int memfd = memfd_create("launch-vmm-ram", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, VMM_RAM) < 0)
        die("memfd_create");
    uint8_t *mem = mmap(NULL, VMM_RAM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (mem == MAP_FAILED)
        die("mmap RAM");
    uint64_t entry = load_elf(argv[1], mem);
    struct kvm_userspace_memory_region region = { .slot = 0, .memory_size = VMM_RAM, .userspace_addr = (uint64_t)mem };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");

    uint32_t *info = (uint32_t *)(mem + 0x1000);
    info[0] = 0x4b564d43; /* "KVMC" */
    info[1] = 2;          /* version 2: cpu_index and cpu_count at 72 and 76 */
    *(uint64_t *)(mem + 0x1008) = VMM_RAM;
    info[18] = 0;         /* cpu_index */
    info[19] = 1;         /* cpu_count */
    setup_long_mode(kvm, vcpu, mem);
    struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = 0x7 } };
    if (ioctl(vcpu, KVM_SET_XCRS, &xcrs) < 0) { /* a CPU without AVX: x87 and SSE */
        xcrs.xcrs[0].value = 0x3;
        if (ioctl(vcpu, KVM_SET_XCRS, &xcrs) < 0)
            die("KVM_SET_XCRS");
    }
    struct kvm_regs r = { .rip = entry, .rsp = VMM_RAM, .rdi = 0x1000, .rflags = 0x3002 };
    if (ioctl(vcpu, KVM_SET_REGS, &r) < 0)
        die("KVM_SET_REGS");

    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            die("KVM_RUN");
        }
        if (run->exit_reason == KVM_EXIT_HLT)
            return 0;
        if (run->exit_reason != KVM_EXIT_IO) {
            fprintf(stderr, "launch-vmm: guest stopped with exit reason %u\n", run->exit_reason);
            return 125;
        }
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0xf4) {
            fflush(stdout);
            return (int)*(uint32_t *)data;
        }
        if (run->io.direction == KVM_EXIT_IO_OUT && (run->io.port == 0x3f8 || run->io.port == 0xe9))
            fwrite(data, run->io.size, run->io.count, stdout);
        else if (run->io.direction == KVM_EXIT_IO_IN)
            memset(data, 0, (size_t)run->io.size * run->io.count);
    }
}
