/*
 * File-system helpers with durable, all-or-nothing semantics.
 *
 * Writes follow one order everywhere: temp file in the target directory,
 * fsync it, rename over (or beside) the final name, fsync the directory.
 * Errors name the path.  Callable from any thread.
 */
#ifndef PD_FSX_H
#define PD_FSX_H

#include <sys/types.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define PD_WRITE_EXCL	0x1	/* fail with PD_ERR_EXISTS if path exists */

/* Write all n bytes to fd; PD_ERR_IO with errno set on failure. */
enum pd_err pd_write_all(int fd, const void *, size_t) PD_WARN_UNUSED;
/* Read up to n bytes, stopping early only at end of file; -1 on error. */
ssize_t	pd_read_full(int fd, void *, size_t);

/*
 * Open a relative path beneath dirfd without following any symbolic link
 * and without leaving dirfd (openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS; on kernels without
 * openat2, a walk of O_NOFOLLOW opens).  Returns a descriptor, or -1
 * with errno set (ELOOP or EXDEV when a link or ".." was in the way).
 */
int	pd_open_beneath(int dirfd, const char *path, int flags, mode_t mode);

/*
 * Give the file open at fd (an unnamed O_TMPFILE one, mostly) the name
 * name beneath dirfd (AT_FDCWD: a path), through /proc/self/fd, which
 * needs no privilege where linkat's AT_EMPTY_PATH does.  0, or -1 with
 * errno set (EEXIST: the name is taken).
 */
int	pd_link_fd(int fd, int dirfd, const char *name);

/* Read a whole file of at most cap bytes into b (appending). */
enum pd_err pd_read_file(const char *path, size_t cap, struct pd_buf *b,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * A name for a temporary file: ".pd-tmp.PID.N", unique in the process.
 * Clean-ups recognise the prefix.
 */
#define PD_TMP_NAME_LEN	64
void	pd_tmp_name(char out[PD_TMP_NAME_LEN]);

/* Create a file durably with the given bytes and mode (see above). */
enum pd_err pd_write_file(const char *path, const void *, size_t,
	    mode_t, int flags, struct pd_error *) PD_WARN_UNUSED;

/* mkdir -p: create path and its missing parents. */
enum pd_err pd_mkdirs(const char *path, mode_t, struct pd_error *)
	    PD_WARN_UNUSED;

/* fsync the directory name relative to dirfd ("." for dirfd itself). */
enum pd_err pd_fsync_dirat(int dirfd, const char *name, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Remove name beneath dirfd and, if it is a directory, everything in it,
 * never following a symbolic link.  A missing name is not an error.
 */
enum pd_err pd_remove_tree_at(int dirfd, const char *name, struct pd_error *)
	    PD_WARN_UNUSED;

#endif
