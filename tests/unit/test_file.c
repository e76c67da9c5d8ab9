#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "testing.h"

static char dir[] = "/tmp/ho-test-file-XXXXXX";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

DEF_TEST(regular_file)
{
	char path[256];
	struct buf b;
	FILE *f;

	snprintf(path, sizeof(path), "%s/a", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("hello\n", f);
	fclose(f);
	buf_init(&b);
	CHECK_EQ_INT(0, file_read_capped(path, 6, &b));
	CHECK_EQ_STR("hello\n", b.data);
	buf_reset(&b);
	CHECK_EQ_INT(-EFBIG, file_read_capped(path, 5, &b));
	CHECK_EQ_INT(-ENOENT, file_read_capped("/nonexistent/x", 5, &b));
	buf_free(&b);
	unlink(path);
	return 0;
}

/* A FIFO with no writer would block open() and read() forever. */
DEF_TEST(fifo_and_others_refused_at_once)
{
	char path[256], eb[64];
	struct buf b;
	double t0 = now_s();

	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK_EQ_INT(0, mkfifo(path, 0600));
	buf_init(&b);
	CHECK_EQ_INT(-EINVAL, file_read_capped(path, 1024, &b));
	CHECK(now_s() - t0 < 1.0);
	CHECK_EQ_STR("not a regular file", file_error(-EINVAL, eb, sizeof(eb)));
	CHECK_EQ_INT(-EINVAL, file_read_capped(dir, 1024, &b));
	CHECK_EQ_INT(-EINVAL, file_read_capped("/dev/zero", 1024, &b));
	CHECK_EQ_UINT(0, b.len);
	buf_free(&b);
	unlink(path);
	return 0;
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("mkdtemp failed\n");
		return 1;
	}
	RUN_TEST(regular_file);
	RUN_TEST(fifo_and_others_refused_at_once);
	rmdir(dir);
	END_TEST;
}
