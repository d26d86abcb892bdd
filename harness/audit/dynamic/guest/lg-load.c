/*
 * lg-load: loads shared libraries as a program would, for `levelgate audit --run bisect`.
 * Each LIBRARY is dlopen()ed with RTLD_NOW (every relocation done, IFUNC resolvers of
 * its relocations run, its constructors run), then every symbol it exports is resolved
 * with dlsym() (an IFUNC symbol's resolver runs). Nothing it exports is called.
 * Built on the host with gcc for x86-64 (v1): the loader itself runs on any level.
 * Exit: 0 every library loaded; 2 one could not be loaded (dlerror on stderr).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A dynamic-section address: glibc relocates most of them in place on x86-64; not all loaders do. */
static const void *at(const struct link_map *lm, ElfW(Addr) p) {
  return (const void *)(p < lm->l_addr ? p + lm->l_addr : p);
}

/* How many entries the dynamic symbol table has, from DT_HASH or DT_GNU_HASH. */
static size_t symbol_count(const struct link_map *lm) {
  const uint32_t *hash = NULL, *gnu = NULL;
  for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
    if (d->d_tag == DT_HASH) hash = at(lm, d->d_un.d_ptr);
    if (d->d_tag == DT_GNU_HASH) gnu = at(lm, d->d_un.d_ptr);
  }
  if (hash) return hash[1];
  if (!gnu) return 0;
  uint32_t nbuckets = gnu[0], symoffset = gnu[1], bloom = gnu[2];
  const uint32_t *buckets = gnu + 4 + bloom * (sizeof(ElfW(Addr)) / 4);
  const uint32_t *chain = buckets + nbuckets;
  uint32_t last = 0;
  for (uint32_t b = 0; b < nbuckets; b++)
    if (buckets[b] > last) last = buckets[b];
  if (last < symoffset) return symoffset;
  while (!(chain[last - symoffset] & 1)) last++;
  return (size_t)last + 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: lg-load LIBRARY...\n");
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    void *h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "lg-load: %s\n", dlerror());
      return 2;
    }
    struct link_map *lm = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
      fprintf(stderr, "lg-load: %s: %s\n", argv[i], dlerror());
      return 2;
    }
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
      if (d->d_tag == DT_SYMTAB) symtab = at(lm, d->d_un.d_ptr);
      if (d->d_tag == DT_STRTAB) strtab = at(lm, d->d_un.d_ptr);
    }
    size_t n = symtab && strtab ? symbol_count(lm) : 0, exported = 0, resolved = 0;
    for (size_t s = 1; s < n; s++) {
      const ElfW(Sym) *sym = &symtab[s];
      int type = ELF64_ST_TYPE(sym->st_info), bind = ELF64_ST_BIND(sym->st_info);
      if (sym->st_shndx == SHN_UNDEF || bind == STB_LOCAL) continue;
      if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT) continue;
      exported++;
      if (dlsym(h, strtab + sym->st_name)) resolved++;
    }
    printf("lg-load: %s: loaded, %zu of %zu exported symbols resolved\n", argv[i], resolved, exported);
  }
  return 0;
}
