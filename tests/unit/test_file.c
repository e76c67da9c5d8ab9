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

/* A FIFO with no writer would block open() and read() forever; one left
 * under a (test's) proc root must not block the collector either. */
DEF_TEST(fifo_and_others_refused_at_once)
{
	char path[256], eb[64];
	struct buf b;
	double t0 = now_s();

	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK_EQ_INT(0, mkfifo(path, 0600));
	buf_init(&b);
	CHECK_EQ_INT(-EINVAL, file_read_capped(path, 1024, &b));
	CHECK_EQ_INT(-EINVAL, file_read_pseudo(path, 1024, &b));
	CHECK(now_s() - t0 < 1.0);
	CHECK_EQ_STR("not a regular file", file_error(-EINVAL, eb, sizeof(eb)));
	CHECK_EQ_INT(-EINVAL, file_read_capped(dir, 1024, &b));
	CHECK_EQ_INT(-EINVAL, file_read_capped("/dev/zero", 1024, &b));
	CHECK_EQ_INT(-EINVAL, file_read_pseudo("/dev/zero", 1024, &b));
	CHECK_EQ_UINT(0, b.len);
	buf_free(&b);
	unlink(path);
	return 0;
}

/* procfs says 0 bytes and sysfs 4096 whatever the content: the pseudo
 * reader goes by the bytes read alone, the config reader by the size. */
DEF_TEST(pseudo_files_by_bytes_read)
{
	const char *sysfs = "/sys/devices/system/cpu/online";
	char want[32], path[256];
	struct stat st;
	struct buf b;
	FILE *f;

	buf_init(&b);
	CHECK_EQ_INT(0, stat("/proc/self/stat", &st));
	CHECK_EQ_UINT(0, (unsigned)st.st_size);
	CHECK_EQ_INT(0, file_read_pseudo("/proc/self/stat", 4096, &b));
	snprintf(want, sizeof(want), "%d (", (int)getpid());
	CHECK(b.len > strlen(want));
	CHECK_EQ_INT(0, strncmp(b.data, want, strlen(want)));
	CHECK_EQ_UINT(strlen(b.data), b.len);
	buf_reset(&b);
	/* Past the cap while reading: /proc/self/maps is far above 16. */
	CHECK_EQ_INT(-EFBIG, file_read_pseudo("/proc/self/maps", 16, &b));
	buf_reset(&b);
	CHECK_EQ_INT(0, stat(sysfs, &st));
	CHECK(st.st_size > 64);
	CHECK_EQ_INT(-EFBIG, file_read_capped(sysfs, 64, &b));
	buf_reset(&b);
	CHECK_EQ_INT(0, file_read_pseudo(sysfs, 64, &b));
	CHECK(b.len > 0 && b.len <= 64);
	CHECK(b.data[0] >= '0' && b.data[0] <= '9');
	buf_reset(&b);
	/* A regular file is capped while reading too, and an empty one is
	 * no error. */
	snprintf(path, sizeof(path), "%s/p", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("hello\n", f);
	fclose(f);
	CHECK_EQ_INT(-EFBIG, file_read_pseudo(path, 5, &b));
	buf_reset(&b);
	CHECK_EQ_INT(0, file_read_pseudo(path, 6, &b));
	CHECK_EQ_STR("hello\n", b.data);
	buf_reset(&b);
	CHECK_EQ_INT(-ENOENT, file_read_pseudo("/proc/self/nonexistent", 16, &b));
	CHECK_EQ_INT(0, truncate(path, 0));
	CHECK_EQ_INT(0, file_read_pseudo(path, 16, &b));
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
	RUN_TEST(pseudo_files_by_bytes_read);
	rmdir(dir);
	END_TEST;
}
