/*
 * Durable file-system helpers.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <sys/syscall.h>

#include "fsx.h"
#include "mem.h"

enum pd_err
pd_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, c, n)) < 0) {
			if (errno == EINTR)
				continue;
			return PD_ERR_IO;
		}
		c += w;
		n -= (size_t)w;
	}
	return PD_OK;
}

ssize_t
pd_read_full(int fd, void *p, size_t n)
{
	unsigned char *c = p;
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = read(fd, c + got, n - got)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The same walk by hand, one O_NOFOLLOW component at a time. */
static int
walk_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *slash;
	struct stat st;
	size_t n;
	int fd = dirfd, next, e;

	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > NAME_MAX || (n == 2 && p[0] == '.' &&
		    p[1] == '.')) {
			errno = n > NAME_MAX ? ENAMETOOLONG : EXDEV;
			next = -1;
		} else {
			memcpy(comp, p, n);
			comp[n] = '\0';
			next = slash ? openat(fd, comp, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC) : openat(fd, comp,
			    flags | O_NOFOLLOW | O_CLOEXEC, mode);
			/* O_DIRECTORY on a link says ENOTDIR: say ELOOP. */
			if (next < 0 && errno == ENOTDIR && slash &&
			    fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				errno = ELOOP;
		}
		e = errno;
		if (fd != dirfd)
			close(fd);
		errno = e;
		if (next < 0 || slash == NULL)
			return next;
		fd = next;
		p = slash + 1;
	}
}

int
pd_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	static atomic_int no_openat2;
	struct open_how how;
	long fd;

	if (!atomic_load(&no_openat2)) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_CLOEXEC);
		how.mode = (flags & O_CREAT) ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		atomic_store(&no_openat2, 1);
	}
	return walk_beneath(dirfd, path, flags, mode);
}

enum pd_err
pd_read_file(const char *path, size_t cap, struct pd_buf *b,
    struct pd_error *err)
{
	unsigned char chunk[65536];
	enum pd_err rc = PD_OK;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pd_fail_errno(err, errno == ENOENT ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, errno, "%s", path);
	for (;;) {
		if ((r = pd_read_full(fd, chunk, sizeof(chunk))) < 0) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", path);
			break;
		}
		if (r == 0)
			break;
		if (b->len + (size_t)r > cap) {
			rc = pd_fail(err, PD_ERR_LIMIT,
			    "%s: larger than %zu bytes", path, cap);
			break;
		}
		if ((rc = pd_buf_add(b, chunk, (size_t)r)) != PD_OK) {
			pd_fail(err, rc, "%s: reading", path);
			break;
		}
	}
	close(fd);
	return rc;
}

static atomic_ulong tmpseq;

/* Split path into a directory (heap) and the last component (in path). */
static enum pd_err
split(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		*dir = pd_strdup(".");
		*base = path;
	} else {
		*dir = slash == path ? pd_strdup("/") :
		    pd_memdup0(path, (size_t)(slash - path));
		*base = slash + 1;
	}
	return *dir ? PD_OK : PD_ERR_NOMEM;
}

void
pd_tmp_name(char out[PD_TMP_NAME_LEN])
{
	snprintf(out, PD_TMP_NAME_LEN, ".pd-tmp.%ld.%lu", (long)getpid(),
	    (unsigned long)atomic_fetch_add(&tmpseq, 1));
}

enum pd_err
pd_write_file(const char *path, const void *p, size_t n, mode_t mode,
    int flags, struct pd_error *err)
{
	char tmp[PD_TMP_NAME_LEN];
	char *dir = NULL;
	const char *base;
	enum pd_err rc;
	int dfd = -1, fd = -1;
	unsigned int rflags;

	if ((rc = split(path, &dir, &base)) != PD_OK)
		return pd_fail(err, rc, "%s", path);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", dir);
		goto out;
	}
	pd_tmp_name(tmp);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s", dir, tmp);
		goto out;
	}
	/* The umask must not widen or narrow what the caller asked for. */
	if (fchmod(fd, mode) < 0 || pd_write_all(fd, p, n) != PD_OK ||
	    fsync(fd) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", path);
		goto out;
	}
	rflags = (flags & PD_WRITE_EXCL) ? RENAME_NOREPLACE : 0;
	if (renameat2(dfd, tmp, dfd, base, rflags) < 0) {
		rc = pd_fail_errno(err, errno == EEXIST ? PD_ERR_EXISTS :
		    PD_ERR_IO, errno, "%s", path);
		goto out;
	}
	tmp[0] = '\0';
	rc = pd_fsync_dirat(dfd, ".", err);
out:
	if (fd >= 0) {
		close(fd);
		if (tmp[0] != '\0')
			unlinkat(dfd, tmp, 0);
	}
	if (dfd >= 0)
		close(dfd);
	pd_free(dir);
	return rc;
}

enum pd_err
pd_mkdirs(const char *path, mode_t mode, struct pd_error *err)
{
	char *p, *s;
	enum pd_err rc = PD_OK;

	if ((p = pd_strdup(path)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", path);
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno, "mkdir %s",
			    p);
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	pd_free(p);
	return rc;
}

enum pd_err
pd_fsync_dirat(int dirfd, const char *name, struct pd_error *err)
{
	int fd, e;

	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "open %s", name);
	if (fsync(fd) < 0) {
		e = errno;
		close(fd);
		return pd_fail_errno(err, PD_ERR_IO, e, "fsync %s", name);
	}
	close(fd);
	return PD_OK;
}

/*
 * Open a directory that its mode (0000, say, from a manifest) keeps even
 * its owner out of: give it 0700 first, through an O_PATH descriptor so
 * that a symbolic link put in its place is never followed.
 */
static int
open_unreadable_dir(int dfd, const char *name)
{
	char proc[64];
	int pfd, fd;

	pfd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (chmod(proc, 0700) < 0) {
		close(pfd);
		errno = EACCES;
		return -1;
	}
	close(pfd);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	return fd;
}

int
pd_link_fd(int fd, int dirfd, const char *name)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
}

enum pd_err
pd_remove_tree_at(int dfd, const char *name, struct pd_error *err)
{
	struct dirent *de;
	enum pd_err rc = PD_OK;
	DIR *d;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return PD_OK;
	if (errno != EISDIR && errno != EPERM)
		return pd_fail_errno(err, PD_ERR_IO, errno, "unlink %s", name);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 && errno == EACCES)
		fd = open_unreadable_dir(dfd, name);
	if (fd < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "open %s", name);
	/* A read-only directory from a manifest must still be removable. */
	(void)fchmod(fd, 0700);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return pd_fail_errno(err, PD_ERR_IO, errno, "open %s", name);
	}
	while (rc == PD_OK && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		rc = pd_remove_tree_at(dirfd(d), de->d_name, err);
	}
	if (rc == PD_OK && errno != 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "read %s", name);
	closedir(d);
	if (rc == PD_OK && unlinkat(dfd, name, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "rmdir %s", name);
	return rc;
}
