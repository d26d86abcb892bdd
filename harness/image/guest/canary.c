/*
 * levelgate-canary: executes one instruction from each x86-64 level and checks its
 * result, each in a child process of its own, so that a trap kills only that child.
 * Built for the baseline (-march=x86-64): the parent itself runs at every level.
 * Prints one line per canary: "canary NAME LEVEL RESULT DETAIL" where RESULT is
 * ok (right value), sigill (the CPU refused it), wrong (it ran and computed something
 * else: LZCNT runs as BSR on a CPU without it) or signal-N / exit-N.
 * The table of canaries is mirrored by harness/levels/canaries.ts.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*check_fn)(char *detail, size_t n);

/* ---- v1: the x86-64 baseline (every x86-64 CPU runs these; they prove the emulator runs them right) ---- */

static int cmov(char *d, size_t n) {
  uint64_t a = 1, b = 2, r = a;
  __asm__ volatile("cmp %2, %1\n\tcmovb %2, %0" : "+r"(r) : "r"(a), "r"(b) : "cc");
  snprintf(d, n, "cmovb=%llu", (unsigned long long)r);
  return r == 2;
}

static int cx8(char *d, size_t n) {
  uint64_t mem = 5;
  uint32_t lo = 5, hi = 0, nlo = 9, nhi = 0;
  __asm__ volatile("lock cmpxchg8b %0" : "+m"(mem), "+a"(lo), "+d"(hi) : "b"(nlo), "c"(nhi) : "cc");
  snprintf(d, n, "cmpxchg8b=%llu", (unsigned long long)mem);
  return mem == 9;
}

static int fpu(char *d, size_t n) {
  double a = 1.5, b = 2.25, r;
  __asm__ volatile("fldl %1\n\tfaddl %2\n\tfstpl %0" : "=m"(r) : "m"(a), "m"(b));
  snprintf(d, n, "fadd=%g", r);
  return r == 3.75;
}

static int fxsr(char *d, size_t n) {
  static unsigned char area[512] __attribute__((aligned(16)));
  memset(area, 0xAA, sizeof area);
  __asm__ volatile("fxsave %0" : "=m"(area));
  /* Bytes 24-27 hold MXCSR, whose default is 0x1F80. */
  uint32_t mxcsr;
  memcpy(&mxcsr, area + 24, 4);
  snprintf(d, n, "fxsave.mxcsr=%#x", mxcsr);
  return (mxcsr & 0xFFBF) == 0x1F80;
}

static int mmx(char *d, size_t n) {
  uint64_t a = 0x0102030405060708ull, b = 0x0101010101010101ull, r;
  __asm__ volatile("movq %1, %%mm0\n\tmovq %2, %%mm1\n\tpaddb %%mm1, %%mm0\n\tmovq %%mm0, %0\n\temms" : "=m"(r) : "m"(a), "m"(b) : "mm0", "mm1");
  snprintf(d, n, "paddb=%#llx", (unsigned long long)r);
  return r == 0x0203040506070809ull;
}

static int sce(char *d, size_t n) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(39L) : "rcx", "r11", "memory"); /* getpid */
  snprintf(d, n, "syscall.getpid=%ld", r);
  return r == (long)getpid();
}

static int sse(char *d, size_t n) {
  float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40}, o[4];
  __asm__ volatile("movups %1, %%xmm0\n\tmovups %2, %%xmm1\n\taddps %%xmm1, %%xmm0\n\tmovups %%xmm0, %0" : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "addps[3]=%g", o[3]);
  return o[0] == 11 && o[3] == 44;
}

static int sse2(char *d, size_t n) {
  uint64_t a[2] = {1, 2}, b[2] = {10, 20}, o[2];
  __asm__ volatile("movdqu %1, %%xmm0\n\tmovdqu %2, %%xmm1\n\tpaddq %%xmm1, %%xmm0\n\tmovdqu %%xmm0, %0" : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "paddq[1]=%llu", (unsigned long long)o[1]);
  return o[0] == 11 && o[1] == 22;
}

/* ---- v2 ---- */

static int cx16(char *d, size_t n) {
  static uint64_t mem[2] __attribute__((aligned(16))) = {5, 6};
  uint64_t lo = 5, hi = 6, nlo = 7, nhi = 8;
  __asm__ volatile("lock cmpxchg16b %0" : "+m"(mem), "+a"(lo), "+d"(hi) : "b"(nlo), "c"(nhi) : "cc");
  snprintf(d, n, "cmpxchg16b=%llu,%llu", (unsigned long long)mem[0], (unsigned long long)mem[1]);
  return mem[0] == 7 && mem[1] == 8;
}

static int lahf(char *d, size_t n) {
  uint64_t r = 0;
  /* stc sets CF: LAHF copies it to AH bit 0 (in 64-bit mode only with LAHF-LM). */
  __asm__ volatile("xor %%eax, %%eax\n\tstc\n\tlahf\n\tmov %%rax, %0" : "=r"(r) : : "rax", "cc");
  snprintf(d, n, "lahf.ah=%#llx", (unsigned long long)((r >> 8) & 0xFF));
  return ((r >> 8) & 1) == 1;
}

static int popcnt(char *d, size_t n) {
  uint64_t x = 0xF0F0F0F0F0F0F0F0ull, r;
  __asm__ volatile("popcnt %1, %0" : "=r"(r) : "r"(x));
  snprintf(d, n, "popcnt=%llu", (unsigned long long)r);
  return r == 32;
}

static int sse3(char *d, size_t n) {
  double a[2] = {1, 2}, b[2] = {30, 40}, o[2];
  __asm__ volatile("movupd %1, %%xmm0\n\tmovupd %2, %%xmm1\n\thaddpd %%xmm1, %%xmm0\n\tmovupd %%xmm0, %0" : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "haddpd=%g,%g", o[0], o[1]);
  return o[0] == 3 && o[1] == 70;
}

static int sse41(char *d, size_t n) {
  int32_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, o[4];
  __asm__ volatile("movdqu %1, %%xmm0\n\tmovdqu %2, %%xmm1\n\tpmulld %%xmm1, %%xmm0\n\tmovdqu %%xmm0, %0" : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "pmulld[3]=%d", o[3]);
  return o[0] == 5 && o[3] == 32;
}

static uint32_t crc32c_soft(uint32_t crc, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    crc ^= (uint8_t)(v >> (8 * i));
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return crc;
}

static int sse42_crc32(char *d, size_t n) {
  uint64_t c = 0, v = 0x0123456789ABCDEFull;
  __asm__ volatile("crc32q %1, %0" : "+r"(c) : "r"(v));
  snprintf(d, n, "crc32c=%08llx", (unsigned long long)c);
  return (uint32_t)c == crc32c_soft(0, v);
}

static int ssse3_pshufb(char *d, size_t n) {
  unsigned char a[16], m[16], o[16];
  for (int i = 0; i < 16; i++) { a[i] = (unsigned char)i; m[i] = (unsigned char)(15 - i); }
  __asm__ volatile("movdqu %1, %%xmm0\n\tmovdqu %2, %%xmm1\n\tpshufb %%xmm1, %%xmm0\n\tmovdqu %%xmm0, %0"
                   : "=m"(o) : "m"(a), "m"(m) : "xmm0", "xmm1");
  snprintf(d, n, "pshufb[0]=%u", o[0]);
  for (int i = 0; i < 16; i++) if (o[i] != 15 - i) return 0;
  return 1;
}

/* ---- v3 ---- */

static int avx_vaddps(char *d, size_t n) {
  float a[8], b[8], o[8];
  for (int i = 0; i < 8; i++) { a[i] = (float)i; b[i] = 0.5f; }
  __asm__ volatile("vmovups %1, %%ymm0\n\tvmovups %2, %%ymm1\n\tvaddps %%ymm1, %%ymm0, %%ymm0\n\tvmovups %%ymm0, %0\n\tvzeroupper"
                   : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "vaddps[7]=%g", o[7]);
  for (int i = 0; i < 8; i++) if (o[i] != (float)i + 0.5f) return 0;
  return 1;
}

static int avx2_vpaddd(char *d, size_t n) {
  int a[8], b[8], o[8];
  for (int i = 0; i < 8; i++) { a[i] = i; b[i] = 100 * i; }
  __asm__ volatile("vmovdqu %1, %%ymm0\n\tvmovdqu %2, %%ymm1\n\tvpaddd %%ymm1, %%ymm0, %%ymm0\n\t"
                   "vmovdqu %%ymm0, %0\n\tvzeroupper"
                   : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "vpaddd[7]=%d", o[7]);
  for (int i = 0; i < 8; i++) if (o[i] != 101 * i) return 0;
  return 1;
}

static int bmi1_andn(char *d, size_t n) {
  uint64_t a = 0xF0, b = 0xFF, r;
  __asm__ volatile("andn %2, %1, %0" : "=r"(r) : "r"(a), "r"(b) : "cc");
  snprintf(d, n, "andn=%#llx", (unsigned long long)r);
  return r == 0x0F;
}

static int bmi2_pdep(char *d, size_t n) {
  uint64_t src = 0x5, mask = 0xF0, r;
  __asm__ volatile("pdep %2, %1, %0" : "=r"(r) : "r"(src), "r"(mask));
  snprintf(d, n, "pdep=%#llx", (unsigned long long)r);
  return r == 0x50;
}

static int f16c(char *d, size_t n) {
  uint16_t h[4] = {0x3C00, 0x4000, 0x4200, 0xC000}; /* 1, 2, 3, -2 */
  float o[4];
  __asm__ volatile("vcvtph2ps %1, %%xmm0\n\tvmovups %%xmm0, %0" : "=m"(o) : "m"(h) : "xmm0");
  snprintf(d, n, "vcvtph2ps=%g,%g,%g,%g", o[0], o[1], o[2], o[3]);
  return o[0] == 1 && o[1] == 2 && o[2] == 3 && o[3] == -2;
}

static int fma_vfmadd(char *d, size_t n) {
  double acc = 1.0, a = 2.0, b = 3.0;
  __asm__ volatile("vfmadd231sd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
  snprintf(d, n, "fma=%g", acc);
  return acc == 7.0;
}

static int lzcnt(char *d, size_t n) {
  uint64_t x = 1, r;
  __asm__ volatile("lzcnt %1, %0" : "=r"(r) : "r"(x));
  snprintf(d, n, "lzcnt(1)=%llu%s", (unsigned long long)r, r == 0 ? "(executed-as-bsr)" : "");
  return r == 63;
}

static int movbe(char *d, size_t n) {
  uint32_t x = 0x11223344u, r;
  __asm__ volatile("movbe %1, %0" : "=r"(r) : "m"(x));
  snprintf(d, n, "movbe=%#x", r);
  return r == 0x44332211u;
}

static int osxsave_xgetbv(char *d, size_t n) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  snprintf(d, n, "xcr0=%#x", lo);
  return (lo & 0x7) == 0x7; /* x87, SSE and AVX state enabled by the OS */
}

/* ---- v4 ---- */

static int avx512f_vpaddd(char *d, size_t n) {
  int a[16], b[16], o[16];
  for (int i = 0; i < 16; i++) { a[i] = i; b[i] = 1000 * i; }
  __asm__ volatile("vmovdqu32 %1, %%zmm0\n\tvmovdqu32 %2, %%zmm1\n\tvpaddd %%zmm1, %%zmm0, %%zmm0\n\t"
                   "vmovdqu32 %%zmm0, %0\n\tvzeroupper"
                   : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "vpaddd.zmm[15]=%d", o[15]);
  for (int i = 0; i < 16; i++) if (o[i] != 1001 * i) return 0;
  return 1;
}

static int avx512bw_vpaddb(char *d, size_t n) {
  unsigned char a[64], b[64], o[64];
  for (int i = 0; i < 64; i++) { a[i] = (unsigned char)i; b[i] = 1; }
  __asm__ volatile("vmovdqu8 %1, %%zmm0\n\tvmovdqu8 %2, %%zmm1\n\tvpaddb %%zmm1, %%zmm0, %%zmm0\n\t"
                   "vmovdqu8 %%zmm0, %0\n\tvzeroupper"
                   : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "vpaddb.zmm[63]=%u", o[63]);
  for (int i = 0; i < 64; i++) if (o[i] != (unsigned char)(i + 1)) return 0;
  return 1;
}

static int avx512cd_vplzcntd(char *d, size_t n) {
  uint32_t a[16], o[16];
  for (int i = 0; i < 16; i++) a[i] = 1u << i;
  __asm__ volatile("vmovdqu32 %1, %%zmm0\n\tvplzcntd %%zmm0, %%zmm1\n\tvmovdqu32 %%zmm1, %0\n\tvzeroupper" : "=m"(o) : "m"(a) : "xmm0", "xmm1");
  snprintf(d, n, "vplzcntd[15]=%u", o[15]);
  for (int i = 0; i < 16; i++) if (o[i] != (uint32_t)(31 - i)) return 0;
  return 1;
}

static int avx512dq_vpmullq(char *d, size_t n) {
  int64_t a[8], b[8], o[8];
  for (int i = 0; i < 8; i++) { a[i] = i + 1; b[i] = 1000000007LL; }
  __asm__ volatile("vmovdqu64 %1, %%zmm0\n\tvmovdqu64 %2, %%zmm1\n\tvpmullq %%zmm1, %%zmm0, %%zmm0\n\tvmovdqu64 %%zmm0, %0\n\tvzeroupper"
                   : "=m"(o) : "m"(a), "m"(b) : "xmm0", "xmm1");
  snprintf(d, n, "vpmullq[7]=%lld", (long long)o[7]);
  for (int i = 0; i < 8; i++) if (o[i] != (int64_t)(i + 1) * 1000000007LL) return 0;
  return 1;
}

static int avx512vl_vpabsq(char *d, size_t n) {
  long long a[4] = {-1, -2, 3, -4}, o[4];
  __asm__ volatile("vmovdqu %1, %%ymm1\n\tvpabsq %%ymm1, %%ymm0\n\tvmovdqu %%ymm0, %0\n\tvzeroupper"
                   : "=m"(o) : "m"(a) : "xmm0", "xmm1");
  snprintf(d, n, "vpabsq.ymm[3]=%lld", o[3]);
  return o[0] == 1 && o[1] == 2 && o[2] == 3 && o[3] == 4;
}

/* One canary per psABI feature that has an instruction of its own (OSFXSR and LM are
 * the mode the program runs in). Mirrored by harness/levels/canaries.ts. */
static const struct {
  const char *name;
  const char *level;
  check_fn fn;
} canaries[] = {
    {"cmov", "v1", cmov},
    {"cx8-cmpxchg8b", "v1", cx8},
    {"fpu-fadd", "v1", fpu},
    {"fxsr-fxsave", "v1", fxsr},
    {"mmx-paddb", "v1", mmx},
    {"sce-syscall", "v1", sce},
    {"sse-addps", "v1", sse},
    {"sse2-paddq", "v1", sse2},
    {"cx16-cmpxchg16b", "v2", cx16},
    {"lahf-lm", "v2", lahf},
    {"popcnt", "v2", popcnt},
    {"sse3-haddpd", "v2", sse3},
    {"sse4.1-pmulld", "v2", sse41},
    {"sse4.2-crc32", "v2", sse42_crc32},
    {"ssse3-pshufb", "v2", ssse3_pshufb},
    {"avx-vaddps", "v3", avx_vaddps},
    {"avx2-vpaddd", "v3", avx2_vpaddd},
    {"bmi1-andn", "v3", bmi1_andn},
    {"bmi2-pdep", "v3", bmi2_pdep},
    {"f16c-vcvtph2ps", "v3", f16c},
    {"fma-vfmadd", "v3", fma_vfmadd},
    {"lzcnt", "v3", lzcnt},
    {"movbe", "v3", movbe},
    {"osxsave-xgetbv", "v3", osxsave_xgetbv},
    {"avx512f-vpaddd", "v4", avx512f_vpaddd},
    {"avx512bw-vpaddb", "v4", avx512bw_vpaddb},
    {"avx512cd-vplzcntd", "v4", avx512cd_vplzcntd},
    {"avx512dq-vpmullq", "v4", avx512dq_vpmullq},
    {"avx512vl-vpabsq", "v4", avx512vl_vpabsq},
};

int main(int argc, char **argv) {
  size_t count = sizeof canaries / sizeof canaries[0];
  for (size_t i = 0; i < count; i++) {
    if (argc > 1 && strcmp(argv[1], canaries[i].name) != 0) continue;
    int fds[2];
    if (pipe(fds) != 0) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      char detail[128] = "";
      int ok = canaries[i].fn(detail, sizeof detail);
      write(fds[1], detail, strlen(detail));
      _exit(ok ? 0 : 3);
    }
    close(fds[1]);
    char detail[128] = "-";
    ssize_t k = read(fds[0], detail, sizeof detail - 1);
    detail[k > 0 ? k : 1] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    const char *result;
    char buf[32];
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGILL) result = "sigill";
    else if (WIFSIGNALED(st)) { snprintf(buf, sizeof buf, "signal-%d", WTERMSIG(st)); result = buf; }
    else if (WEXITSTATUS(st) == 0) result = "ok";
    else if (WEXITSTATUS(st) == 3) result = "wrong";
    else { snprintf(buf, sizeof buf, "exit-%d", WEXITSTATUS(st)); result = buf; }
    printf("canary %s %s %s %s\n", canaries[i].name, canaries[i].level, result, detail);
  }
  return 0;
}
