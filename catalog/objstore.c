/*
 * Content-addressed object store on disk.
 *
 * Temp files are named tmp/PID.SEQ.  The first writer of a process
 * removes those of processes that no longer exist, so a crash leaves
 * nothing behind for long and a running writer's files are never
 * touched.  Not at every open: reading the directory cold was an eighth
 * of a no-op pull, which writes nothing.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "internal.h"
#include "objstore.h"

struct cat_objw {
	struct cat	*cat;
	int		 fd;
	char		 tmp[64];	/* relative to DATA/objects */
};

static atomic_ulong seq;

void
cat_obj_path(const unsigned char *sha, char out[CAT_OBJ_PATH_LEN])
{
	char hex[PD_SHA256_HEX];

	pd_hex_encode(sha, PD_SHA256_LEN, hex);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex + 2, 2 * PD_SHA256_LEN - 2);
	out[CAT_OBJ_PATH_LEN - 1] = '\0';
}

enum pd_err
cat_obj_init(struct cat *c, struct pd_error *err)
{
	char name[3];
	int i;

	/* Made in order, "ff" last: once it is there, so are the others,
	 * and opening a store (a no-op pull, every command) costs one
	 * lookup instead of 257 mkdirs. */
	for (i = faccessat(c->objfd, "ff", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ?
	    256 : 0; i < 256; i++) {
		snprintf(name, sizeof(name), "%02x", i);
		if (mkdirat(c->objfd, name, 0755) < 0 && errno != EEXIST)
			return pd_fail_errno(err, PD_ERR_IO, errno,
			    "mkdir %s/objects/%s", c->dir, name);
	}
	if (mkdirat(c->objfd, "tmp", 0700) < 0 && errno != EEXIST)
		return pd_fail_errno(err, PD_ERR_IO, errno,
		    "mkdir %s/objects/tmp", c->dir);
	return PD_OK;
}

/* Others writing at the same time go on: only the dead's files go. */
static enum pd_err
sweep(struct cat *c, struct pd_error *err)
{
	struct dirent *de;
	DIR *d;
	long pid;
	int fd;

	if (atomic_exchange(&c->swept, true))
		return PD_OK;
	if ((fd = openat(c->objfd, "tmp", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return pd_fail_errno(err, PD_ERR_IO, errno,
		    "%s/objects/tmp", c->dir);
	}
	while ((de = readdir(d)) != NULL) {
		pid = strtol(de->d_name, NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return PD_OK;
}

enum pd_err
cat_objw_new(struct cat *c, struct cat_objw **out, struct pd_error *err)
{
	struct cat_objw *w;
	enum pd_err rc;

	if ((rc = sweep(c, err)) != PD_OK)
		return rc;
	if ((w = pd_calloc(1, sizeof(*w))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "object writer");
	w->cat = c;
	snprintf(w->tmp, sizeof(w->tmp), "tmp/%ld.%lu", (long)getpid(),
	    (unsigned long)atomic_fetch_add(&seq, 1));
	w->fd = openat(c->objfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0644);
	if (w->fd < 0) {
		pd_fail_errno(err, PD_ERR_IO, errno, "%s/objects/%s", c->dir,
		    w->tmp);
		pd_free(w);
		return PD_ERR_IO;
	}
	*out = w;
	return PD_OK;
}

enum pd_err
cat_objw_write(struct cat_objw *w, const void *p, size_t n,
    struct pd_error *err)
{
	if (pd_write_all(w->fd, p, n) != PD_OK)
		return pd_fail_errno(err, PD_ERR_IO, errno,
		    "writing %s/objects/%s", w->cat->dir, w->tmp);
	return PD_OK;
}

enum pd_err
cat_objw_finish(struct cat_objw *w, const unsigned char *sha,
    struct pd_error *err)
{
	char path[CAT_OBJ_PATH_LEN];
	struct cat *c = w->cat;
	enum pd_err rc = PD_OK;

	cat_obj_path(sha, path);
	if (close(w->fd) < 0) {
		w->fd = -1;
		rc = pd_fail_errno(err, PD_ERR_IO, errno,
		    "writing %s/objects/%s", c->dir, w->tmp);
		goto out;
	}
	w->fd = -1;
	if (renameat2(c->objfd, w->tmp, c->objfd, path, RENAME_NOREPLACE) ==
	    0) {
		w->tmp[0] = '\0';
		goto out;
	}
	if (errno != EEXIST) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno,
		    "storing %s/objects/%s", c->dir, path);
		goto out;
	}
	/* Indexed means durable: keep it.  Otherwise trust only ours. */
	if (cat_object_known(c, sha))
		goto out;
	if (renameat(c->objfd, w->tmp, c->objfd, path) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno,
		    "storing %s/objects/%s", c->dir, path);
	else
		w->tmp[0] = '\0';
out:
	cat_objw_abort(w);
	return rc;
}

void
cat_objw_abort(struct cat_objw *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0] != '\0')
		unlinkat(w->cat->objfd, w->tmp, 0);
	pd_free(w);
}

enum pd_err
cat_obj_open(struct cat *c, const unsigned char *sha, int *fd,
    struct pd_error *err)
{
	char path[CAT_OBJ_PATH_LEN];

	struct stat st;

	cat_obj_path(sha, path);
	/* O_NONBLOCK: a fifo planted in the store must not hang us. */
	if ((*fd = openat(c->objfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) < 0)
		return pd_fail_errno(err, errno == ENOENT ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, errno, "object %s/objects/%s", c->dir, path);
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return pd_fail(err, PD_ERR_CORRUPT, "object %s/objects/%s: not "
		    "a regular file", c->dir, path);
	}
	return PD_OK;
}

enum pd_err
cat_obj_sync(struct cat *c, struct pd_error *err)
{
	if (syncfs(c->objfd) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno,
		    "syncing %s/objects", c->dir);
	return PD_OK;
}
