/*
 * levelgate-agent: the guest's command agent. Runs as PID 1 of the guest (after
 * the init script), reads requests from a character device (a virtio-serial port
 * under QEMU, a serial port under other emulators) and runs them, streaming output
 * back. No network, no shell in between: argv arrays are executed as given.
 *
 * Wire format (little-endian). Host to guest: "LGQ" type u32:len payload[len].
 *   'X' exec:  u32 timeout_ms, u32 argc, argc x (u32 len, bytes),
 *              u32 envc, envc x (u32 len, "K=V"), u32 cwdlen, cwd, u32 stdinlen, stdin
 *   'K' kill the running command (SIGKILL to its process group)
 *   'P' power off: kill everything, sync, remount / read-only, power off
 *   'T' thaw (after a snapshot restore): u64 realtime in ns, then bytes of entropy;
 *       the agent sets the clock, stirs the entropy in and answers with /proc/cpuinfo
 * Guest to host: "LGA" type u32:len payload[len].
 *   'R' ready (payload: banner)   'O' stdout chunk   'E' stderr chunk
 *   'D' done: i32 exit code (-1 when killed by a signal), i32 signal,
 *             u32 flags (1 timed out, 2 killed on request, 4 could not start),
 *             u64 duration in nanoseconds
 *   'P' power off acknowledged
 *   'T' thawed: the guest's /proc/cpuinfo (so the host sees it is the pinned CPU)
 * The protocol is mirrored by harness/guest/agent-protocol.ts.
 *
 * `levelgate-agent --shell DEVICE [COMMAND...]` is the other mode: an interactive
 * shell (bash -i by default) on a pseudo-terminal, relayed to DEVICE, for a person
 * attached to the host end (levelgate repro --keep).
 *
 * `levelgate-agent --core PID TID SIGNAL` is the third: the kernel's core_pattern pipe
 * handler (the init script sets it). It runs while the dying process's /proc/PID/exe
 * and maps still exist; for a SIGILL it writes them, with the faulting ip from the
 * core's first NT_PRSTATUS note (the thread that trapped) and the 16 bytes there, to
 * /run/levelgate/sigill/TID, so the forensics find the file by its mapping, not by
 * its name. Other signals' dumps are dropped unread.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/mount.h>
#include <sys/procfs.h>
#include <sys/reg.h>
#include <sys/reboot.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (64u << 20)
#define PORT_NAME "levelgate.agent"
#define DRAIN_AFTER_EXIT_MS 200

static int dev = -1;
static int sigfd = -1;
static unsigned char *rbuf;
static size_t rlen, rcap;

static void die(const char *what) {
  fprintf(stderr, "levelgate-agent: %s: %s\n", what, strerror(errno));
  sleep(1);
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_all(int fd, const void *p, size_t n) {
  const unsigned char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pf = {fd, POLLOUT, 0};
        poll(&pf, 1, -1);
        continue;
      }
      die("write to host");
    }
    c += w;
    n -= (size_t)w;
  }
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void send_frame(char type, const void *payload, uint32_t len) {
  unsigned char h[8] = {'L', 'G', 'A', (unsigned char)type};
  put32(h + 4, len);
  write_all(dev, h, 8);
  if (len) write_all(dev, payload, len);
}

/* Reads what the device has into rbuf; returns 0 at end of file. */
static int fill(void) {
  if (rcap - rlen < 65536) {
    rcap = rcap ? rcap * 2 : 131072;
    rbuf = realloc(rbuf, rcap);
    if (!rbuf) die("realloc");
  }
  ssize_t r = read(dev, rbuf + rlen, rcap - rlen);
  if (r < 0) {
    if (errno == EINTR || errno == EAGAIN) return 1;
    die("read from host");
  }
  rlen += (size_t)r;
  return r > 0;
}

/* Finds one complete frame at the start of rbuf (skipping noise before "LGQ"). */
static int take_frame(char *type, unsigned char **payload, uint32_t *len) {
  size_t i = 0;
  while (i + 3 <= rlen && memcmp(rbuf + i, "LGQ", 3) != 0) i++;
  if (i) {
    memmove(rbuf, rbuf + i, rlen - i);
    rlen -= i;
  }
  if (rlen < 8) return 0;
  uint32_t n = get32(rbuf + 4);
  if (n > MAX_FRAME) {  /* corrupt header: drop the magic and resynchronise */
    memmove(rbuf, rbuf + 3, rlen - 3);
    rlen -= 3;
    return 0;
  }
  if (rlen < 8 + (size_t)n) return 0;
  *type = (char)rbuf[3];
  *len = n;
  *payload = malloc(n ? n : 1);
  if (!*payload) die("malloc");
  memcpy(*payload, rbuf + 8, n);
  memmove(rbuf, rbuf + 8 + n, rlen - 8 - n);
  rlen -= 8 + n;
  return 1;
}

struct reader {
  const unsigned char *p;
  uint32_t left;
  int bad;
};

static uint32_t rd32(struct reader *r) {
  if (r->left < 4) {
    r->bad = 1;
    return 0;
  }
  uint32_t v = get32(r->p);
  r->p += 4;
  r->left -= 4;
  return v;
}

static char *rdstr(struct reader *r, uint32_t *outlen) {
  uint32_t n = rd32(r);
  if (r->bad || r->left < n) {
    r->bad = 1;
    return NULL;
  }
  char *s = malloc((size_t)n + 1);
  if (!s) die("malloc");
  memcpy(s, r->p, n);
  s[n] = 0;
  r->p += n;
  r->left -= n;
  if (outlen) *outlen = n;
  return s;
}

static void reap_orphans(pid_t watched, int *status, int *exited) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) return;
    if (p == watched) {
      *status = st;
      *exited = 1;
    }
  }
}

static void drain_sigfd(void) {
  struct signalfd_siginfo si;
  while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
  }
}

static void send_done(int32_t code, int32_t sig, uint32_t flags, uint64_t dur) {
  unsigned char d[20];
  put32(d, (uint32_t)code);
  put32(d + 4, (uint32_t)sig);
  put32(d + 8, flags);
  put32(d + 12, (uint32_t)dur);
  put32(d + 16, (uint32_t)(dur >> 32));
  send_frame('D', d, sizeof d);
}

static int check_kill_request(void) {
  char type;
  unsigned char *payload;
  uint32_t len;
  int kill_requested = 0;
  while (take_frame(&type, &payload, &len)) {
    if (type == 'K') kill_requested = 1;
    free(payload);  /* anything else during a command is a host bug: dropped */
  }
  return kill_requested;
}

static void run_exec(const unsigned char *payload, uint32_t len) {
  struct reader r = {payload, len, 0};
  uint64_t start = now_ns();
  uint32_t timeout_ms = rd32(&r);
  uint32_t argc = rd32(&r);
  if (r.bad || argc == 0 || argc > 65536) {
    const char *m = "levelgate-agent: malformed exec request\n";
    send_frame('E', m, (uint32_t)strlen(m));
    send_done(127, 0, 4, 0);
    return;
  }
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  for (uint32_t i = 0; i < argc; i++) argv[i] = rdstr(&r, NULL);
  uint32_t envc = rd32(&r);
  char **envv = calloc((size_t)envc + 1, sizeof *envv);
  for (uint32_t i = 0; i < envc && !r.bad; i++) envv[i] = rdstr(&r, NULL);
  char *cwd = rdstr(&r, NULL);
  uint32_t inlen = 0;
  char *in = rdstr(&r, &inlen);
  if (r.bad) {
    const char *m = "levelgate-agent: malformed exec request\n";
    send_frame('E', m, (uint32_t)strlen(m));
    send_done(127, 0, 4, 0);
    return;
  }

  int pin[2], pout[2], perr[2], pexec[2];
  if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC) ||
      pipe2(pexec, O_CLOEXEC))
    die("pipe");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    for (uint32_t i = 0; i < envc; i++) putenv(envv[i]);
    if (cwd[0] && chdir(cwd) != 0) {
      int e = errno;
      dprintf(2, "levelgate-agent: cannot enter %s: %s\n", cwd, strerror(e));
      write_all(pexec[1], &e, sizeof e);
      _exit(127);
    }
    execvp(argv[0], argv);
    int e = errno;
    dprintf(2, "levelgate-agent: cannot run %s: %s\n", argv[0], strerror(e));
    write_all(pexec[1], &e, sizeof e);
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  close(pexec[1]);
  int spawn_errno = 0;
  if (read(pexec[0], &spawn_errno, sizeof spawn_errno) != (ssize_t)sizeof spawn_errno)
    spawn_errno = 0;
  close(pexec[0]);

  fcntl(pin[1], F_SETFL, O_NONBLOCK);
  int fin = pin[1], fout = pout[0], ferr = perr[0];
  uint32_t inoff = 0;
  if (inlen == 0) {
    close(fin);
    fin = -1;
  }
  int status = 0, exited = 0;
  uint32_t flags = spawn_errno ? 4 : 0;
  uint64_t deadline = timeout_ms ? start + (uint64_t)timeout_ms * 1000000ull : 0;
  uint64_t exited_at = 0;
  static char buf[65536];

  while (fout >= 0 || ferr >= 0 || !exited) {
    if (exited && !exited_at) exited_at = now_ns();
    if (exited_at && now_ns() - exited_at > (uint64_t)DRAIN_AFTER_EXIT_MS * 1000000ull)
      break; /* a background process keeps the pipes open: stop waiting for it */
    struct pollfd pf[5];
    int n = 0;
    pf[n++] = (struct pollfd){dev, POLLIN, 0};
    pf[n++] = (struct pollfd){sigfd, POLLIN, 0};
    int iout = -1, ierr = -1, iin = -1;
    if (fout >= 0) { iout = n; pf[n++] = (struct pollfd){fout, POLLIN, 0}; }
    if (ferr >= 0) { ierr = n; pf[n++] = (struct pollfd){ferr, POLLIN, 0}; }
    if (fin >= 0) { iin = n; pf[n++] = (struct pollfd){fin, POLLOUT, 0}; }
    int wait_ms = -1;
    uint64_t t = now_ns();
    if (deadline && !(flags & 1)) wait_ms = t >= deadline ? 0 : (int)((deadline - t) / 1000000ull) + 1;
    if (exited_at) wait_ms = DRAIN_AFTER_EXIT_MS;
    int pr = poll(pf, (nfds_t)n, wait_ms);
    if (pr < 0 && errno != EINTR) die("poll");
    if (deadline && !(flags & 1) && !exited && now_ns() >= deadline) {
      flags |= 1;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
    }
    if (pr <= 0) continue;
    if (pf[0].revents & POLLIN) {
      if (!fill()) die("host closed the channel");
      if (check_kill_request() && !exited) {
        flags |= 2;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
      }
    }
    if (pf[1].revents & POLLIN) {
      drain_sigfd();
      reap_orphans(pid, &status, &exited);
    }
    if (iout >= 0 && pf[iout].revents) {
      ssize_t k = read(fout, buf, sizeof buf);
      if (k > 0) send_frame('O', buf, (uint32_t)k);
      else if (k == 0 || errno != EINTR) { close(fout); fout = -1; }
    }
    if (ierr >= 0 && pf[ierr].revents) {
      ssize_t k = read(ferr, buf, sizeof buf);
      if (k > 0) send_frame('E', buf, (uint32_t)k);
      else if (k == 0 || errno != EINTR) { close(ferr); ferr = -1; }
    }
    if (iin >= 0 && pf[iin].revents) {
      ssize_t w = write(fin, in + inoff, inlen - inoff);
      if (w > 0) inoff += (uint32_t)w;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || inoff >= inlen) {
        close(fin);
        fin = -1;
      }
    }
  }
  if (fout >= 0) close(fout);
  if (ferr >= 0) close(ferr);
  if (fin >= 0) close(fin);
  if (!exited) { /* only reached through the drain bound, never before the exit */
    waitpid(pid, &status, 0);
  }
  int32_t code = -1, sig = 0;
  if (WIFEXITED(status)) code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) sig = WTERMSIG(status);
  send_done(code, sig, flags, now_ns() - start);
  for (uint32_t i = 0; i < argc; i++) free(argv[i]);
  for (uint32_t i = 0; i < envc; i++) free(envv[i]);
  free(argv);
  free(envv);
  free(cwd);
  free(in);
}

/*
 * A restored snapshot wakes up with the clock and the entropy pool of the moment it was
 * saved: every restored guest would share them. The host sends the time and fresh
 * entropy; the answer is /proc/cpuinfo, read without starting a process.
 */
static void thaw(const unsigned char *payload, uint32_t len) {
  if (len >= 8) {
    uint64_t ns = (uint64_t)get32(payload) | (uint64_t)get32(payload + 4) << 32;
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    clock_settime(CLOCK_REALTIME, &ts);
  }
  if (len > 8) {
    int r = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (r >= 0) {
      struct {
        struct rand_pool_info info;
        unsigned char bytes[256];
      } pool;
      uint32_t n = len - 8 > sizeof pool.bytes ? (uint32_t)sizeof pool.bytes : len - 8;
      pool.info.entropy_count = (int)n * 8;
      pool.info.buf_size = (int)n;
      memcpy(pool.bytes, payload + 8, n);
      if (ioctl(r, RNDADDENTROPY, &pool) != 0) {
        ssize_t ignored = write(r, payload + 8, n); /* at least stir it in */
        (void)ignored;
      }
      /* Entropy added to a ready pool waits for the next scheduled reseed (up to a
       * minute); every restored guest would draw the same bytes until then. */
      (void)ioctl(r, RNDRESEEDCRNG);
      close(r);
    }
  }
  static char info[1 << 16];
  size_t used = 0;
  int f = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
  if (f >= 0) {
    ssize_t k;
    while (used < sizeof info && (k = read(f, info + used, sizeof info - used)) > 0) used += (size_t)k;
    close(f);
  }
  send_frame('T', info, (uint32_t)used);
}

static void power_off(void) {
  send_frame('P', NULL, 0);
  kill(-1, SIGTERM);
  usleep(100000);
  kill(-1, SIGKILL);
  sync();
  mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
  sync();
  reboot(RB_POWER_OFF);
  die("reboot");
}

/* Finds /dev/vportNpM whose virtio-serial name is PORT_NAME (no udev in the guest). */
static char *find_port(void) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return NULL;
  struct dirent *e;
  static char path[300];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char namefile[300], name[128] = {0};
    snprintf(namefile, sizeof namefile, "/sys/class/virtio-ports/%s/name", e->d_name);
    int f = open(namefile, O_RDONLY);
    if (f < 0) continue;
    ssize_t k = read(f, name, sizeof name - 1);
    close(f);
    if (k > 0 && strncmp(name, PORT_NAME, strlen(PORT_NAME)) == 0) {
      snprintf(path, sizeof path, "/dev/%s", e->d_name);
      closedir(d);
      return path;
    }
  }
  closedir(d);
  return NULL;
}

/* Relays DEVICE <-> a pty running COMMAND until the command exits. */
static int shell_main(const char *device, char **command) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) || unlockpt(master)) die("posix_openpt");
  const char *slave = ptsname(master);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    setsid();
    int s = open(slave, O_RDWR);
    if (s < 0) die(slave);
    ioctl(s, TIOCSCTTY, 0);
    dup2(s, 0);
    dup2(s, 1);
    dup2(s, 2);
    if (s > 2) close(s);
    close(master);
    setenv("TERM", "xterm", 1);
    if (command[0]) execvp(command[0], command);
    execl("/bin/bash", "bash", "-i", (char *)NULL);
    execl("/bin/sh", "sh", "-i", (char *)NULL);
    _exit(127);
  }
  int port = open(device, O_RDWR | O_NOCTTY);
  if (port < 0) die(device);
  if (isatty(port)) { /* a serial port (Bochs): bytes through, no echo or line editing */
    struct termios t;
    if (tcgetattr(port, &t) == 0) {
      cfmakeraw(&t);
      cfsetspeed(&t, B115200);
      tcsetattr(port, TCSANOW, &t);
    }
  }
  static char buf[4096];
  for (;;) {
    struct pollfd pf[2] = {{port, POLLIN, 0}, {master, POLLIN, 0}};
    if (poll(pf, 2, 1000) < 0 && errno != EINTR) die("poll");
    if (waitpid(pid, NULL, WNOHANG) == pid) return 0;
    if (pf[0].revents & POLLIN) {
      ssize_t k = read(port, buf, sizeof buf);
      if (k > 0) write_all(master, buf, (size_t)k);
      else usleep(50000); /* host end not attached */
    }
    if (pf[1].revents & (POLLIN | POLLHUP)) {
      ssize_t k = read(master, buf, sizeof buf);
      if (k <= 0) return 0;
      write_all(port, buf, (size_t)k);
    }
  }
}


#define SIGILL_DIR "/run/levelgate/sigill"

/* Reads exactly n bytes of stdin (the core); 0 at a short read. */
static int read_core(void *p, size_t n) {
  unsigned char *c = p;
  while (n > 0) {
    ssize_t r = read(0, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    c += r;
    n -= (size_t)r;
  }
  return 1;
}

/* The ip of the thread that trapped: the core's program headers, then its PT_NOTE (the
 * first segment) up to the first NT_PRSTATUS. 0 when the core cannot be read. */
static unsigned long long core_ip(void) {
  Elf64_Ehdr eh;
  if (!read_core(&eh, sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return 0;
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff < sizeof eh || eh.e_phnum == 0) return 0;
  static unsigned char skip[4096];
  size_t at = sizeof eh;
  if (eh.e_phoff - at > sizeof skip || !read_core(skip, eh.e_phoff - at)) return 0;
  at = eh.e_phoff;
  Elf64_Phdr note = {0};
  for (unsigned i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    if (!read_core(&ph, sizeof ph)) return 0;
    at += sizeof ph;
    if (ph.p_type == PT_NOTE && note.p_type != PT_NOTE) note = ph;
  }
  if (note.p_type != PT_NOTE || note.p_offset < at || note.p_filesz > (16u << 20)) return 0;
  while (at < note.p_offset) {
    size_t n = note.p_offset - at < sizeof skip ? note.p_offset - at : sizeof skip;
    if (!read_core(skip, n)) return 0;
    at += n;
  }
  unsigned char *notes = malloc(note.p_filesz);
  if (!notes || !read_core(notes, note.p_filesz)) return 0;
  for (size_t o = 0; o + sizeof(Elf64_Nhdr) <= note.p_filesz;) {
    Elf64_Nhdr nh;
    memcpy(&nh, notes + o, sizeof nh);
    size_t desc = o + sizeof nh + ((nh.n_namesz + 3) & ~3u);
    if (desc + nh.n_descsz > note.p_filesz) break;
    if (nh.n_type == NT_PRSTATUS && nh.n_descsz >= sizeof(struct elf_prstatus)) {
      struct elf_prstatus st;
      memcpy(&st, notes + desc, sizeof st);
      return st.pr_reg[RIP];
    }
    o = desc + ((nh.n_descsz + 3) & ~3u);
  }
  return 0;
}

static void copy_file(FILE *out, const char *path) {
  FILE *in = fopen(path, "r");
  if (!in) return;
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
  fclose(in);
}

static int core_main(const char *pid, const char *tid, const char *sig) {
  if (strcmp(sig, "4") != 0 || strspn(pid, "0123456789") != strlen(pid) || strspn(tid, "0123456789") != strlen(tid)) return 0;
  /* The mappings first: they are what the process leaves behind when the pipe closes. */
  char proc[64], exe[4096], tmp[128], final[128];
  snprintf(proc, sizeof proc, "/proc/%s/exe", pid);
  ssize_t n = readlink(proc, exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  mkdir("/run/levelgate", 0755);
  mkdir(SIGILL_DIR, 0755);
  snprintf(tmp, sizeof tmp, SIGILL_DIR "/.%s", tid);
  snprintf(final, sizeof final, SIGILL_DIR "/%s", tid);
  FILE *out = fopen(tmp, "w");
  if (!out) return 1;
  fprintf(out, "pid %s\ntid %s\nsignal %s\nexe %s\n", pid, tid, sig, exe);
  snprintf(proc, sizeof proc, "/proc/%s/maps", pid);
  char *maps = NULL;
  size_t mapslen = 0;
  FILE *m = open_memstream(&maps, &mapslen);
  if (m) {
    copy_file(m, proc);
    fclose(m);
  }
  /* The bytes that trapped, from the process's memory: also for code in no file (JIT). */
  unsigned long long ip = core_ip();
  unsigned char code[16];
  ssize_t got = 0;
  snprintf(proc, sizeof proc, "/proc/%s/mem", pid);
  int mem = ip ? open(proc, O_RDONLY) : -1;
  if (mem >= 0) {
    got = pread(mem, code, sizeof code, (off_t)ip);
    close(mem);
  }
  fprintf(out, "ip %llx\nbytes ", ip);
  for (ssize_t i = 0; i < got; i++) fprintf(out, "%02x", code[i]);
  fprintf(out, "\nmaps\n%s", maps ? maps : "");
  if (fclose(out) != 0) return 1;
  return rename(tmp, final) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc > 4 && strcmp(argv[1], "--core") == 0) return core_main(argv[2], argv[3], argv[4]);
  if (argc > 2 && strcmp(argv[1], "--shell") == 0) return shell_main(argv[2], argv + 3);
  const char *path = argc > 1 ? argv[1] : find_port();
  if (!path) {
    errno = ENOENT;
    die("no virtio-serial port named " PORT_NAME);
  }
  dev = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (dev < 0) die(path);
  if (isatty(dev)) {
    struct termios t;
    if (tcgetattr(dev, &t) == 0) {
      cfmakeraw(&t);
      cfsetspeed(&t, B115200);
      tcsetattr(dev, TCSANOW, &t);
    }
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) die("signalfd");

  struct utsname u;
  uname(&u);
  char banner[256];
  int blen = snprintf(banner, sizeof banner, "levelgate-agent 1 %s", u.release);
  send_frame('R', banner, (uint32_t)blen);

  for (;;) {
    char type;
    unsigned char *payload;
    uint32_t len;
    while (!take_frame(&type, &payload, &len)) {
      struct pollfd pf[2] = {{dev, POLLIN, 0}, {sigfd, POLLIN, 0}};
      if (poll(pf, 2, -1) < 0 && errno != EINTR) die("poll");
      if (pf[1].revents & POLLIN) {
        int st, ex = 0;
        drain_sigfd();
        reap_orphans(-1, &st, &ex);
      }
      if ((pf[0].revents & (POLLIN | POLLHUP)) && !fill()) {
        /* virtio-serial reports EOF while the host is disconnected: wait for it */
        usleep(20000);
      }
    }
    if (type == 'X') run_exec(payload, len);
    else if (type == 'T') thaw(payload, len);
    else if (type == 'P') power_off();
    /* 'K' with nothing running: nothing to do */
    free(payload);
  }
}
