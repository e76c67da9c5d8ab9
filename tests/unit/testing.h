/* testing.h: a tiny unit-test harness in the spirit of collectd's
 * src/testing.h. Each test file defines DEF_TEST(name) functions and a
 * main() that RUN_TEST()s them and END_TEST's. A failed CHECK reports
 * file:line and the expression and fails the current test, not the run.
 * A test that cannot set up its environment SKIP_TEST()s: the run then
 * exits 77 (meson's SKIP) unless another test failed, never 0; and under
 * CI=true it exits 1, since there a skip is a failure (the one skip policy
 * of every suite, as tests/scenario/testlib.py's skip()). A whole program
 * that cannot run here returns SKIP_MAIN(why). */
#ifndef HALFOPEN_TESTING_H
#define HALFOPEN_TESTING_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_count__ __attribute__((unused));
static int pass_count__ __attribute__((unused));
static int check_count__ __attribute__((unused));
static int skip_count__ __attribute__((unused));

#define TEST_SKIPPED 77

/* What a run that skipped exits with: 77, or 1 under CI=true. */
static inline int test_skip_status(void)
{
	const char *ci = getenv("CI");

	if (ci && strcmp(ci, "true") == 0) {
		printf("CI=true: a skip is a failure\n");
		return 1;
	}
	return TEST_SKIPPED;
}

/* main() cannot run here: say why, return test_skip_status(). */
#define SKIP_MAIN(...)                                                                             \
	do {                                                                                       \
		printf("SKIP: " __VA_ARGS__);                                                      \
		printf("\n");                                                                      \
		return test_skip_status();                                                         \
	} while (0)

#define DEF_TEST(func) static int test_##func(void)

#define RUN_TEST(func)                                                                             \
	do {                                                                                       \
		int status__;                                                                      \
		printf("Testing %s ...\n", #func);                                                 \
		status__ = test_##func();                                                          \
		printf("%s.\n", status__ == 0		   ? "Success"                             \
				: status__ == TEST_SKIPPED ? "SKIPPED"                             \
							   : "FAILURE");                           \
		if (status__ == TEST_SKIPPED)                                                      \
			skip_count__++;                                                            \
		else if (status__)                                                                 \
			fail_count__++;                                                            \
		else                                                                               \
			pass_count__++;                                                            \
	} while (0)

#define END_TEST                                                                                   \
	do {                                                                                       \
		printf("%d passed, %d failed, %d skipped\n", pass_count__, fail_count__,           \
		       skip_count__);                                                              \
		return fail_count__ ? 1 : skip_count__ ? test_skip_status() : 0;                   \
	} while (0)

/* The current test cannot run here (why: a printf format and arguments). */
#define SKIP_TEST(...)                                                                             \
	do {                                                                                       \
		printf("SKIP: " __VA_ARGS__);                                                      \
		printf("\n");                                                                      \
		return TEST_SKIPPED;                                                               \
	} while (0)

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		check_count__++;                                                                   \
		if (!(expr)) {                                                                     \
			printf("%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #expr);            \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

/* expect == actual, both converted to type and printed with fmt on
 * failure; what is the expression as the caller wrote it. */
#define CHECK_EQ_AS(type, fmt, expect, actual, what)                                               \
	do {                                                                                       \
		type e__ = (type)(expect), a__ = (type)(actual);                                   \
		check_count__++;                                                                   \
		if (e__ != a__) {                                                                  \
			printf("%s:%d: %s: expected " fmt ", got " fmt "\n", __FILE__, __LINE__,   \
			       what, e__, a__);                                                    \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(expect, actual) CHECK_EQ_AS(long long, "%lld", expect, actual, #actual)
#define CHECK_EQ_UINT(expect, actual)                                                              \
	CHECK_EQ_AS(unsigned long long, "%llu", expect, actual, #actual)

#define CHECK_EQ_STR(expect, actual)                                                               \
	do {                                                                                       \
		const char *e__ = (expect), *a__ = (actual);                                       \
		check_count__++;                                                                   \
		if (!a__ || strcmp(e__, a__) != 0) {                                               \
			printf("%s:%d: %s: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__,     \
			       #actual, e__, a__ ? a__ : "(null)");                                \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(needle, haystack)                                                           \
	do {                                                                                       \
		const char *n__ = (needle), *h__ = (haystack);                                     \
		check_count__++;                                                                   \
		if (!h__ || !strstr(h__, n__)) {                                                   \
			printf("%s:%d: %s: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,  \
			       #haystack, h__ ? h__ : "(null)", n__);                              \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

#endif
