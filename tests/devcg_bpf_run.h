/* SPDX-License-Identifier: Apache-2.0 */
/*
 * devcg_bpf_run.h - for tests: an interpreter of the subset of eBPF that
 * cg_dev_bpf_build (agentd/executor/cgroups/cgroups_devices.c) emits, run on one
 * device access (struct bpf_cgroup_dev_ctx), so that what the kernel would
 * decide can be checked without loading the program (tests/unit
 * test_cgroup_devices, tests/fuzz fuzz_spec).
 */
#ifndef KATA_TESTS_DEVCG_BPF_RUN_H
#define KATA_TESTS_DEVCG_BPF_RUN_H

#include <linux/bpf.h>
#include <stdint.h>

/* The verdict (0 deny, 1 allow); -1 on an instruction outside the subset,
 * a load outside the context, or a program that does not end. */
static inline int devcg_bpf_run(const struct bpf_insn *p, int n, unsigned type, unsigned access,
				unsigned major, unsigned minor)
{
	uint32_t ctx[3] = { (access << 16) | type, major, minor };
	uint64_t r[11] = { 0 };
	for (int pc = 0, steps = 0; pc >= 0 && pc < n && steps < 100000; pc++, steps++) {
		const struct bpf_insn *i = &p[pc];
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			if (i->src_reg != 1 || i->off % 4 || i->off < 0 || i->off > 8)
				return -1;
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_X:
			r[i->dst_reg] = r[i->src_reg];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = (uint64_t)(int64_t)i->imm;
			break;
		case BPF_ALU64 | BPF_AND | BPF_K:
			r[i->dst_reg] &= (uint64_t)(int64_t)i->imm;
			break;
		case BPF_ALU64 | BPF_RSH | BPF_K:
			r[i->dst_reg] >>= i->imm;
			break;
		case BPF_JMP | BPF_JA:
			pc += i->off;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			if (r[i->dst_reg] & (uint64_t)(int64_t)i->imm)
				pc += i->off;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm)
				pc += i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[0];
		default:
			return -1;
		}
	}
	return -1;
}

#endif
