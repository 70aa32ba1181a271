/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.h - what every libFuzzer target of tests/fuzz shares (fuzz.c).
 *
 * Each target defines LLVMFuzzerTestOneInput and fuzz_write_seeds(); fuzz.c
 * defines LLVMFuzzerInitialize, which
 *  - with "-write_seeds=DIR" as an argument, calls fuzz_write_seeds() with
 *    DIR as the seed directory and exits (tests/fuzz/run.sh makes each
 *    target's seed corpus that way: seeds are code, never fetched bytes);
 *  - otherwise adds -print_funcs=0 (see fuzz_open_fds) and routes the
 *    agent's log (common/log.c, at debug level, so its formatting of
 *    hostile strings is fuzzed too) into a writer that checks every line
 *    is one JSON object on one line, and drops it. FUZZ_LOG=1 in the
 *    environment writes the lines to stderr instead (debugging).
 *
 * Helpers for the targets: a byte reader over the input (struct fuzz_in),
 * a count of open fds (the targets that pass fds check none leaks), a
 * sealed or plain memfd holding bytes.
 */
#ifndef KATA_FUZZ_H
#define KATA_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <protobuf-c/protobuf-c.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Defined by each target: write its seeds with fuzz_seed*(). */
void fuzz_write_seeds(void);
/* One seed file named name in the seed directory. */
void fuzz_seed(const char *name, const void *data, size_t len);
/* Text seeds: one file per {name, text}. */
struct fuzz_text_seed {
	const char *name, *text;
};
void fuzz_seed_texts(const struct fuzz_text_seed *s, size_t n);
/* A seed holding the packed message m, after prefix bytes (a selector the
 * target reads first; NULL/0 for none). */
void fuzz_seed_message(const char *name, const void *prefix, size_t prefix_len,
		       const ProtobufCMessage *m);
/* Pack the message described by json (proto3 JSON mapping, common/pbjson.c)
 * of type d; aborts on a bad seed (a bug in the seed writer). Free with
 * free(). */
uint8_t *fuzz_pack_json(const ProtobufCMessageDescriptor *d, const char *json, size_t *len);

/* Stop, with a message, when an invariant of the code under test breaks:
 * libFuzzer records the input as a crash. */
#define FUZZ_ASSERT(cond, ...)                                             \
	do {                                                               \
		if (!(cond))                                               \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* How long a target's event loop may wait for what an input must bring
 * about (an answer, a close) before that counts as a hang: far above a
 * normal input's milliseconds even on a loaded machine, below libFuzzer's
 * -timeout (run.sh: 25 s) so the hang is reported by what was awaited. */
#define FUZZ_WATCHDOG_NS (8ull * 1000 * 1000 * 1000)

/* Sequential reader over the fuzz input; reads past the end give zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};
uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
/* Up to max bytes (a length read from the input, clipped to what is left). */
const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t max, size_t *len);

/* Open fds of this process (/proc/self/fd). LLVMFuzzerInitialize turns
 * libFuzzer's -print_funcs off, whose symbolizer would open some. */
unsigned fuzz_open_fds(void);
/* A growing buffer of bytes read from a socket. */
struct fuzz_buf {
	uint8_t *p;
	size_t len, cap;
};
/* Read what a non-blocking socket has into b; false once the peer closed
 * (or the socket failed), true when it is drained for now. */
bool fuzz_read_avail(int fd, struct fuzz_buf *b);
/* A listening unix stream socket (non-blocking) at an abstract address
 * "<name>-<pid>", and that address for connect(). */
int fuzz_listen(const char *name, struct sockaddr_un *sa, socklen_t *sl);

/* "fd=target ..." of every open fd, for a failure message (static buffer). */
const char *fuzz_fd_list(void);
/* A memfd holding data; sealed (all four seals) when seal is set. */
int fuzz_memfd(const void *data, size_t len, bool seal);

#endif
