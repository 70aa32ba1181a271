/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap.h - minimal TAP producer for the C test programs. meson runs them with
 * protocol 'tap', so every ok/not ok line counts as one test in the summary
 * that ./scripts/test reports (doc/testing.md has the rules).
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_STR(a, "b"); }
 *   int main(void) { return tap_run(); }   // runs every TEST in file order
 *
 * The plan (one point per TEST) is printed before the first test runs. A
 * TEST that returns without evaluating a single CHECK and without SKIP is
 * reported "not ok": a check cannot vanish behind an early return.
 * SKIP(reason) is for what the environment lacks (root, a tool): a failure
 * in CI (scripts/tap-summary); SKIP_KERNEL(reason) for an optional kernel
 * feature this machine lacks, a skip everywhere.
 */
#ifndef KATA_TESTS_TAP_H
#define KATA_TESTS_TAP_H

#include <stdio.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(int *failed);
	struct tap_test *next;
};

static struct tap_test *tap_head, **tap_tail = &tap_head;
/* Checks evaluated by the current test (0 at the end: it checked nothing). */
static unsigned tap_checks;

#define TEST(name)                                                         \
	static void test_##name(int *tap_failed);                          \
	__attribute__((constructor)) static void tap_register_##name(void) \
	{                                                                  \
		static struct tap_test t = { #name, test_##name, NULL };   \
		*tap_tail = &t;                                            \
		tap_tail = &t.next;                                        \
	}                                                                  \
	static void test_##name(int *tap_failed)

#define CHECK(cond)                                                                       \
	do {                                                                              \
		tap_checks++;                                                             \
		if (!(cond)) {                                                            \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			*tap_failed = 1;                                                  \
		}                                                                         \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                       \
	do {                                                                                     \
		long long _a = (long long)(a), _b = (long long)(b);                              \
		tap_checks++;                                                                    \
		if (_a != _b) {                                                                  \
			printf("# %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
			       #a, _a, #b, _b);                                                  \
			*tap_failed = 1;                                                         \
		}                                                                                \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		tap_checks++;                                                                      \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
			       _a ? _a : "(null)", _b ? _b : "(null)");                            \
			*tap_failed = 1;                                                           \
		}                                                                                  \
	} while (0)

/* Stop the current test (after a failed precondition). */
#define REQUIRE(cond)            \
	do {                     \
		CHECK(cond);     \
		if (*tap_failed) \
			return;  \
	} while (0)

/* Skip the current test with a reason (reported as "ok N - name # SKIP").
 * SKIP: the environment lacks something the test needs (root, a tool); CI
 * counts it as a failure, since ./scripts/test installs everything.
 * SKIP_KERNEL: an optional kernel feature this machine lacks (the reason
 * gets the "kernel:" tag that scripts/tap-summary accepts in CI). */
static const char *tap_skip_reason;
#define SKIP(reason)                        \
	do {                                \
		tap_skip_reason = (reason); \
		return;                     \
	} while (0)
#define SKIP_KERNEL(reason) SKIP("kernel: " reason)

/* Print TEXT (any number of lines: a container's output, a log) as TAP
 * comments, so nothing a test shows is mistaken for a test point. */
static inline void tap_diag(const char *label, const char *text)
{
	if (!text)
		return;
	while (*text) {
		size_t n = strcspn(text, "\n");
		printf("# %s%.*s\n", label ? label : "", (int)n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

static inline int tap_run(void)
{
	int n = 0, bad = 0;
	for (struct tap_test *t = tap_head; t; t = t->next)
		n++;
	printf("1..%d\n", n);
	fflush(stdout);
	int i = 0;
	for (struct tap_test *t = tap_head; t; t = t->next) {
		int failed = 0;
		tap_skip_reason = NULL;
		tap_checks = 0;
		t->fn(&failed);
		if (!tap_skip_reason && !failed && tap_checks == 0) {
			printf("# %s returned without checking anything (an early return "
			       "that should be a SKIP or a failure?)\n",
			       t->name);
			failed = 1;
		}
		if (tap_skip_reason && !failed)
			printf("ok %d - %s # SKIP %s\n", ++i, t->name, tap_skip_reason);
		else
			printf("%s %d - %s\n", failed ? "not ok" : "ok", ++i, t->name);
		fflush(stdout);
		bad += failed;
	}
	return bad ? 1 : 0;
}

#endif
