#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Contract: the whole of path into b, at most cap bytes; the size fstat
 * reports is checked against cap first only when size_known (a file that
 * grows meanwhile is still caught while reading). */
static int read_capped(const char *path, size_t cap, bool size_known, struct buf *b)
{
	char chunk[16384];
	struct stat st;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (size_known && (unsigned long long)st.st_size > cap) {
		rc = -EFBIG;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		/* The file may grow between fstat and here. */
		got += (size_t)n;
		if (got > cap) {
			rc = -EFBIG;
			break;
		}
		if (buf_append(b, chunk, (size_t)n)) {
			rc = -ENOMEM;
			break;
		}
	}
out:
	close(fd);
	return rc;
}

int file_read_capped(const char *path, size_t cap, struct buf *b)
{
	return read_capped(path, cap, true, b);
}

int file_read_pseudo(const char *path, size_t cap, struct buf *b)
{
	return read_capped(path, cap, false, b);
}

const char *file_error(int rc, char *eb, size_t eblen)
{
	if (rc == -EINVAL)
		return "not a regular file";
	return strerror_r(-rc, eb, eblen);
}
