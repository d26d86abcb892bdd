/*
 * levelgate boot sector for Bochs (which has no -kernel option): loads the flat
 * kernel and the initramfs from this disk into high memory (unreal mode, BIOS EDD
 * reads), hands the BIOS e820 map to the kernel as the PVH memory map, and enters
 * the kernel's PVH entry in flat 32-bit protected mode with %ebx = hvm_start_info.
 * The image build patches the load table (bochs-boot-disk.ts); each guest's boot
 * info (PVH entry, hvm_start_info, command line) is placed at `info` by Bochs itself.
 */
#define BOUNCE_SEG 0x1000        /* 0x10000: 64 KiB bounce buffer for BIOS reads */
#define MAP 0x8000               /* e820 entries, 24 bytes each (PVH memmap layout) */
.code16
.globl _start
_start:
  cli
  cld
  xor %ax, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov $0x7c00, %sp
  mov %dl, drive
  inb $0x92, %al                 /* A20 on (fast gate) */
  or $2, %al
  and $0xfe, %al
  outb %al, $0x92
  lgdtl gdtr                     /* unreal mode: 4 GiB limits in %ds and %es */
  mov %cr0, %eax
  or $1, %al
  mov %eax, %cr0
  jmp 1f
1:
  mov $0x10, %bx
  mov %bx, %ds
  mov %bx, %es
  and $0xfe, %al
  mov %eax, %cr0
  jmp 2f
2:
  xor %ax, %ax
  mov %ax, %ds
  mov %ax, %es
  sti
  mov $table, %bp
next:
  mov 4(%bp), %ecx               /* sectors left in this entry */
  jecxz loaded
chunk:
  mov $127, %eax
  cmp %eax, %ecx
  jae 3f
  mov %ecx, %eax
3:
  mov %ax, dap_count
  mov 0(%bp), %edx
  mov %edx, dap_lba
  mov $0x42, %ah
  mov drive, %dl
  mov $dap, %si
  int $0x13
  jc fail
  movzwl dap_count, %ecx
  add %ecx, 0(%bp)               /* lba += n */
  sub %ecx, 4(%bp)               /* sectors -= n */
  shl $7, %ecx                   /* dwords */
  mov $(BOUNCE_SEG << 4), %esi
  mov 8(%bp), %edi
  addr32 rep movsl
  mov %edi, 8(%bp)               /* dest += n * 512 */
  mov 4(%bp), %ecx
  test %ecx, %ecx
  jnz chunk
  add $12, %bp
  jmp next
loaded:
  mov $MAP, %di                  /* e820 -> PVH memmap */
  xor %ebx, %ebx
  xor %bp, %bp
4:
  mov $0xe820, %eax
  mov $24, %ecx
  mov $0x534d4150, %edx
  int $0x15
  jc 5f
  cmp $0x534d4150, %eax
  jne 5f
  movl $0, 20(%di)
  add $24, %di
  inc %bp
  test %ebx, %ebx
  jnz 4b
5:
  cli
  lgdtl gdtr
  mov %cr0, %eax
  or $1, %al
  mov %eax, %cr0
  ljmpl $0x08, $pm
fail:
  mov $msg, %si
  mov $0x3f8, %dx
6:
  lodsb
  test %al, %al
  jz 7f
  outb %al, %dx
  jmp 6b
7:
  hlt
  jmp 7b
.code32
pm:
  mov $0x10, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov %ax, %fs
  mov %ax, %gs
  mov info, %ebx                 /* boot info: u32 PVH entry, then hvm_start_info at +0x40 */
  mov 0(%ebx), %eax
  add $0x40, %ebx
  movzwl %bp, %ecx
  mov %ecx, 48(%ebx)             /* memmap_entries */
  movl $MAP, 40(%ebx)            /* memmap_paddr */
  jmp *%eax
msg:
  .asciz "levelgate: BOOT FAILED: boot sector cannot read the boot disk\n"
.p2align 2
dap:
  .byte 16, 0
dap_count:
  .word 0
  .word 0, BOUNCE_SEG
dap_lba:
  .long 0, 0
drive:
  .byte 0
.p2align 3
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff
  .quad 0x00cf92000000ffff
gdtr:
  .word gdtr - gdt - 1
  .long gdt
/* Patched by the host: boot info address, then up to 3 {first LBA, sectors, destination}. */
.org 510 - 4 - 4 - 3 * 12 - 4
  .ascii "LGBT"
info:
  .long 0
table:
  .long 0, 0, 0
  .long 0, 0, 0
  .long 0, 0, 0
  .long 0                        /* end: sectors field of a 4th entry */
.org 510
  .byte 0x55, 0xaa
