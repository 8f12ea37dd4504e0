# The guest of CheckpointTest (GUEST there): as --64 CheckpointTest.s -o g.o && objcopy -O binary g.o g.bin
.code64
  mov $0x510, %dx
  in %dx, %eax
  mov %eax, %ebx          # seed
  in %dx, %eax
  mov %eax, %ecx          # k
  xor %esi, %esi          # checksum
  mov $0x300000, %r8d     # run counter
  mov (%r8), %eax
  add %eax, %esi
  inc %eax
  mov %eax, (%r8)
  xor %r9d, %r9d          # i
1:
  cmp %ecx, %r9d
  jae 2f
  imul $7, %r9d, %eax
  add %ebx, %eax
  and $63, %eax
  shl $12, %eax
  add $0x220000, %eax     # page address (zero-extended)
  add (%rax), %esi        # checksum += old word
  rol $5, %esi
  mov %ebx, %edx
  imul %r9d, %edx
  add $0x12345, %edx
  mov %edx, (%rax)        # new word
  xor %edx, %esi
  inc %r9d
  jmp 1b
2:
  mov $0x511, %dx
  mov %esi, %eax
  out %eax, %dx
  mov $0xf4, %dx
  xor %eax, %eax
  out %al, %dx
3:
  jmp 3b
