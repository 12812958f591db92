/* Record files (see file.h). A record is the audit of a stop: it must never replace or
 * follow its way into another file, and what was written with a sync must be on the disk.
 * A file read back (a record, a list of ids) must be a regular file of bounded size: a
 * FIFO or a device named by mistake must neither block the reader nor feed it forever. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Syncs the directory that holds path, so that an entry just made in it is durable. The
 * name is resolved again, which is fine: the file was created through the same name an
 * instant before, and a directory swapped in between would be the swapper's to sync. */
static int sync_parent(const char *path) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash) {
    strcpy(dir, ".");
  } else {
    size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/name": the root */
    if (n >= sizeof dir) return ENAMETOOLONG;
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errno;
  int err = 0;
  /* Some file systems cannot sync a directory (EINVAL), a read-only one need not (EROFS). */
  if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS) err = errno;
  close(dfd);
  return err;
}

int file_create(const char *path, int *fd) {
  *fd = -1;
  /* O_EXCL makes the existence check and the creation one atomic step, and with O_CREAT
   * it refuses any symlink, dangling or not (EEXIST); O_NOFOLLOW says so once more. */
  int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (f < 0) return errno;
  int err = sync_parent(path);
  if (err) {
    close(f);
    return err;
  }
  *fd = f;
  return 0;
}

int file_write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t r = write(fd, p, n > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return EIO; /* no progress and no reason: never loop on it */
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

int file_sync(int fd) {
  /* Not retried on EINTR or anything else: after a failed sync the kernel may have dropped
   * the dirty pages, and a second sync would report success for data that is gone. */
#ifdef __linux__
  if (fdatasync(fd) != 0) return errno;
#else
  if (fsync(fd) != 0) return errno;
#endif
  return 0;
}

int file_close(int *fd) {
  if (*fd < 0) return 0;
  int f = *fd;
  *fd = -1; /* closed whatever close says: Linux frees the descriptor even on EINTR */
  if (close(f) != 0 && errno != EINTR) return errno;
  return 0;
}

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "of another kind";
}

/* Reads fd (a regular file of `size` bytes by fstat) into out, at most max + 1 bytes. */
static int read_bounded(int fd, size_t size, size_t max, cbuf *out) {
  for (;;) {
    /* The size fstat gave, and one byte more to see the end (or growth) in the same read;
     * past that (a growing file, or /proc's size 0), in chunks. Never past max + 1. */
    size_t chunk = out->len <= size ? size - out->len + 1 : 65536;
    size_t room = max + 1 - out->len; /* > 0: len <= max here */
    if (chunk > room) chunk = room;
    if (!cbuf_reserve(out, chunk)) return ENOMEM;
    ssize_t r = read(fd, out->data + out->len, chunk);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return 0;
    out->len += (size_t)r;
    if (out->len > max) return FILE_TOO_LARGE;
  }
}

int file_read(const char *path, size_t max, cbuf *out, const char **kind) {
  *kind = NULL;
  /* O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one;
   * the type is checked on the descriptor before a single byte is read. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    err = errno;
  } else if (!S_ISREG(st.st_mode)) {
    *kind = kind_of(st.st_mode);
    err = FILE_NOT_REGULAR;
  } else if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
    err = FILE_TOO_LARGE;
  } else {
    /* A regular file: reads may block as usual (some file systems, FUSE, would otherwise
     * pass the flag on and answer EAGAIN). */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
      err = errno;
    else
      err = read_bounded(fd, (size_t)st.st_size, max, out);
  }
  close(fd); /* read-only: nothing to lose */
  if (err) cbuf_free(out);
  return err;
}

int file_lock(const char *path, const char *note, size_t note_len, int *fd, int *held) {
  *fd = -1;
  *held = 0;
  /* O_NONBLOCK: a FIFO planted at the path must not block the open; the descriptor's type
   * is checked before anything else. */
  int f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (f < 0) return errno;
  int err = 0;
  struct stat st;
  if (fstat(f, &st) != 0) {
    err = errno;
  } else if (!S_ISREG(st.st_mode)) {
    err = FILE_NOT_REGULAR;
  } else if (flock(f, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      *held = 1;
    else
      err = errno;
  } else if (note && (ftruncate(f, 0) != 0 || (err = file_write_all(f, note, note_len)) != 0)) {
    if (!err) err = errno;
  }
  if (err || *held) {
    close(f); /* drops the lock too, when it was taken */
    return err;
  }
  *fd = f;
  return 0;
}

int file_make_dir(const char *path) {
  if (mkdir(path, 0700) != 0) {
    int err = errno;
    struct stat st;
    if (err != EEXIST) return err;
    /* lstat: a symlink to a directory is refused, not followed. */
    if (lstat(path, &st) != 0) return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  }
  return sync_parent(path);
}

int file_replace(const char *from, const char *to) {
  if (rename(from, to) != 0) return errno;
  return sync_parent(to);
}
