/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap.h - minimal TAP producer for the C test programs. meson runs them with
 * protocol 'tap', so every ok/not ok line counts as one test in the summary
 * that ./scripts/test reports.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_STR(a, "b"); }
 *   int main(void) { return tap_run(); }   // runs every TEST in file order
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

#define TEST(name)                                                                  \
	static void test_##name(int *tap_failed);                                   \
	__attribute__((constructor)) static void tap_register_##name(void)          \
	{                                                                           \
		static struct tap_test t = { #name, test_##name, NULL };            \
		*tap_tail = &t;                                                     \
		tap_tail = &t.next;                                                 \
	}                                                                           \
	static void test_##name(int *tap_failed)

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,   \
			       #cond);                                              \
			*tap_failed = 1;                                            \
		}                                                                   \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                          \
	do {                                                                        \
		long long _a = (long long)(a), _b = (long long)(b);                 \
		if (_a != _b) {                                                     \
			printf("# %s:%d: %s == %lld, expected %s == %lld\n",        \
			       __FILE__, __LINE__, #a, _a, #b, _b);                 \
			*tap_failed = 1;                                            \
		}                                                                   \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                          \
	do {                                                                        \
		const char *_a = (a), *_b = (b);                                    \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                            \
			printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,\
			       __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");\
			*tap_failed = 1;                                            \
		}                                                                   \
	} while (0)

/* Stop the current test (after a failed precondition). */
#define REQUIRE(cond)                                                               \
	do {                                                                        \
		CHECK(cond);                                                        \
		if (*tap_failed)                                                    \
			return;                                                     \
	} while (0)

/* Skip the current test with a reason (reported as "ok N - name # SKIP"). */
static const char *tap_skip_reason;
#define SKIP(reason)                                                                \
	do {                                                                        \
		tap_skip_reason = (reason);                                         \
		return;                                                             \
	} while (0)

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
		t->fn(&failed);
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
