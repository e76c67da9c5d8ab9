#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_capped(const char *path, size_t cap, struct buf *b)
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
	if ((unsigned long long)st.st_size > cap) {
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

const char *file_error(int rc, char *eb, size_t eblen)
{
	if (rc == -EINVAL)
		return "not a regular file";
	return strerror_r(-rc, eb, eblen);
}
