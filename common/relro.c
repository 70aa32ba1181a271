/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relro.c - PT_GNU_RELRO made read-only (relro.h). libc only: linked into
 * the musl static PIEs as into the glibc builds of the same binaries.
 */
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "relro.h"

/* The ELF header of this binary (GNU ld defines the symbol). */
extern const ElfW(Ehdr) __ehdr_start;

int relro_seal(void)
{
	uintptr_t base = (uintptr_t)&__ehdr_start;
	const ElfW(Phdr) *ph = (const void *)(base + __ehdr_start.e_phoff);
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (unsigned i = 0; i < __ehdr_start.e_phnum; i++) {
		if (ph[i].p_type != PT_GNU_RELRO)
			continue;
		uintptr_t start = (base + ph[i].p_vaddr) & ~(page - 1);
		uintptr_t end = (base + ph[i].p_vaddr + ph[i].p_memsz) & ~(page - 1);
		if (end > start && mprotect((void *)start, end - start, PROT_READ) < 0)
			return -1;
	}
	return 0;
}
