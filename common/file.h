/* file: read a whole configuration-type or kernel file, safely, to a cap.
 *
 * Regular files only: a FIFO, device or socket named as a config or key
 * file would block the reader (--config.check hanging, a reload stopping
 * collection) or never end. The file is opened O_NONBLOCK, so even the
 * open() of a FIFO returns at once, then checked with fstat(), and read up
 * to a cap. */
#ifndef HALFOPEN_FILE_H
#define HALFOPEN_FILE_H

#include <stddef.h>

#include "common/buf.h"

/* Contract: append the whole of path (at most cap bytes) to b. 0, or
 * -errno of open/read, -EINVAL when path is not a regular file (see
 * file_error()), -EFBIG past cap, -ENOMEM. */
int file_read_capped(const char *path, size_t cap, struct buf *b);

/* Contract: the same for a procfs or sysfs file (/proc/PID/cgroup,
 * /proc/self/stat), whose size says nothing: procfs reports 0 and every
 * sysfs attribute 4096, so only the bytes read count against cap (-EFBIG
 * past it). Still regular files only, opened O_NONBLOCK: a FIFO left
 * under a test's proc root is refused at once. */
int file_read_pseudo(const char *path, size_t cap, struct buf *b);

/* What a file_read_capped() error means, for messages: "not a regular
 * file" for -EINVAL, else strerror's text. Thread-safe (static strings or
 * strerror_r into eb). */
const char *file_error(int rc, char *eb, size_t eblen);

#endif
