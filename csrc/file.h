/* Record files: created exclusively and made durable, and files read with a bound. Plain C
 * over file descriptors, no lua_State (file_lua.c is the binding). Every function returns 0
 * or an errno value; none leaves a descriptor open on failure but the one it was given. */
#ifndef CLOUD_FILE_H
#define CLOUD_FILE_H

#include <stddef.h>
#include "buf.h"

/* Creates path, which must not exist (not even as a dangling symlink), mode 0600 less the
 * umask, and syncs its directory so that the file's existence survives a crash. *fd gets
 * the descriptor (write-only, close-on-exec); it stays -1 on failure. When only the
 * directory sync fails, the empty file stays (it is not ours to remove by name). */
int file_create(const char *path, int *fd);

/* Writes all n bytes (partial writes and EINTR are retried); on failure some may have been
 * written. */
int file_write_all(int fd, const char *p, size_t n);

/* Flushes the file's data (and what is needed to read it back) to the device. */
int file_sync(int fd);

/* Closes *fd, if open, and sets it to -1 whatever close says: a descriptor is never closed
 * twice. Returns close's error (EIO, ENOSPC: delayed write failures), EINTR excepted. */
int file_close(int *fd);

/* file_read's refusals that are no errno (errno values are positive). */
#define FILE_NOT_REGULAR (-1) /* *kind says what it is instead */
#define FILE_TOO_LARGE (-2)   /* more than max bytes */

/* Reads the regular file at path (a symlink to one is followed) into out (empty on entry),
 * at most max bytes (max < SIZE_MAX). The open never blocks (a FIFO is refused, not waited
 * on); what the opened descriptor is, not the name, is checked, so a swap between check and
 * read cannot happen. A file that grows past max while read is refused too. */
int file_read(const char *path, size_t max, cbuf *out, const char **kind);

/* Takes an exclusive lock on path without waiting (flock, LOCK_NB), creating the file (mode
 * 0600 less the umask) when absent, never through a symlink, and refusing anything but a
 * regular file. The lock belongs to the open file: the kernel drops it when *fd is closed
 * or the process dies, however it dies. Then, when note is not NULL, the file's content is
 * replaced by note (who holds it). On success *fd is the locked descriptor; when another
 * open file holds the lock, *held is 1 and *fd stays -1 (no error). FILE_NOT_REGULAR when
 * the path is no regular file. */
int file_lock(const char *path, const char *note, size_t note_len, int *fd, int *held);

/* Makes the directory path (mode 0700 less the umask) and syncs its parent; 0 when a
 * directory is there already. Anything else at path (a file, a symlink, even to a
 * directory) is ENOTDIR: state and records are never written through a link. */
int file_make_dir(const char *path);

/* Renames from over to (both in one directory: rename(2) is atomic there) and syncs that
 * directory, so that after a crash to is either the old file or the new one, whole. */
int file_replace(const char *from, const char *to);

#endif
