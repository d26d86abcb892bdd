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

static int popcnt(char *d, size_t n) {
  uint64_t x = 0xF0F0F0F0F0F0F0F0ull, r;
  __asm__ volatile("popcnt %1, %0" : "=r"(r) : "r"(x));
  snprintf(d, n, "popcnt=%llu", (unsigned long long)r);
  return r == 32;
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

static int bmi2_pdep(char *d, size_t n) {
  uint64_t src = 0x5, mask = 0xF0, r;
  __asm__ volatile("pdep %2, %1, %0" : "=r"(r) : "r"(src), "r"(mask));
  snprintf(d, n, "pdep=%#llx", (unsigned long long)r);
  return r == 0x50;
}

static int movbe(char *d, size_t n) {
  uint32_t x = 0x11223344u, r;
  __asm__ volatile("movbe %1, %0" : "=r"(r) : "m"(x));
  snprintf(d, n, "movbe=%#x", r);
  return r == 0x44332211u;
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

static int avx512vl_vpabsq(char *d, size_t n) {
  long long a[4] = {-1, -2, 3, -4}, o[4];
  __asm__ volatile("vmovdqu %1, %%ymm1\n\tvpabsq %%ymm1, %%ymm0\n\tvmovdqu %%ymm0, %0\n\tvzeroupper"
                   : "=m"(o) : "m"(a) : "xmm0", "xmm1");
  snprintf(d, n, "vpabsq.ymm[3]=%lld", o[3]);
  return o[0] == 1 && o[1] == 2 && o[2] == 3 && o[3] == 4;
}

static const struct {
  const char *name;
  const char *level;
  check_fn fn;
} canaries[] = {
    {"popcnt", "v2", popcnt},        {"sse4.2-crc32", "v2", sse42_crc32},
    {"ssse3-pshufb", "v2", ssse3_pshufb}, {"avx2-vpaddd", "v3", avx2_vpaddd},
    {"bmi2-pdep", "v3", bmi2_pdep},  {"movbe", "v3", movbe},
    {"fma-vfmadd", "v3", fma_vfmadd}, {"lzcnt", "v3", lzcnt},
    {"avx512f-vpaddd", "v4", avx512f_vpaddd}, {"avx512bw-vpaddb", "v4", avx512bw_vpaddb},
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
