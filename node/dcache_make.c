/*
 * The derived-content cache's side on disk (dcache_int.h): its
 * directories and temp files, and the computations a flight's leader
 * runs.  Each computation streams from file to file, writes
 * tmp/PID.SEQ, fsyncs it, renames it over its name, fsyncs the directory
 * and only then commits its catalog record.
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

#include "../catalog/objstore.h"
#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../delta/delta.h"
#include "../delta/zstd.h"
#include "dcache_int.h"

#define TMP_LEN		64

static atomic_ulong seq;

void
nd_dc_zobj_name(const unsigned char *sha, char out[ND_DC_NAME_LEN])
{
	char hex[PD_SHA256_HEX];

	pd_hex_encode(sha, PD_SHA256_LEN, hex);
	snprintf(out, ND_DC_NAME_LEN, "%.2s/%s.zst", hex, hex);
}

void
nd_dc_delta_name(const unsigned char *from, const unsigned char *to,
    char out[ND_DC_NAME_LEN])
{
	char f[PD_SHA256_HEX], t[PD_SHA256_HEX];

	pd_hex_encode(from, PD_SHA256_LEN, f);
	pd_hex_encode(to, PD_SHA256_LEN, t);
	snprintf(out, ND_DC_NAME_LEN, "%.2s/%s%s.zst", f, f, t);
}

/* "from -> to" in hex, for messages. */
static void
pair_show(const unsigned char *from, const unsigned char *to, char *out,
    size_t outsz)
{
	char f[PD_SHA256_HEX], t[PD_SHA256_HEX];

	pd_hex_encode(from, PD_SHA256_LEN, f);
	pd_hex_encode(to, PD_SHA256_LEN, t);
	snprintf(out, outsz, "%s -> %s", f, t);
}

/*
 * Create the area's directories and drop the temp files of processes
 * that no longer exist (a crash mid-write), never a live writer's.
 */
enum pd_err
nd_dc_area_open(struct nd_dcache *d, struct nd_dc_area *a,
    const char *name, struct pd_error *err)
{
	const char *dir = cat_dir(d->cat);
	char path[4096], sub[4];
	struct dirent *de;
	DIR *dp;
	long pid;
	int i, fd;

	a->name = name;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return pd_fail_errno(err, PD_ERR_IO, errno, "mkdir %s", path);
	if ((a->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", path);
	for (i = 0; i < 256; i++) {
		snprintf(sub, sizeof(sub), "%02x", i);
		if (mkdirat(a->fd, sub, 0755) < 0 && errno != EEXIST)
			return pd_fail_errno(err, PD_ERR_IO, errno,
			    "mkdir %s/%s", path, sub);
	}
	if (mkdirat(a->fd, "tmp", 0700) < 0 && errno != EEXIST)
		return pd_fail_errno(err, PD_ERR_IO, errno, "mkdir %s/tmp",
		    path);
	if ((fd = openat(a->fd, "tmp", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (dp = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s/tmp", path);
	}
	while ((de = readdir(dp)) != NULL) {
		pid = strtol(de->d_name, NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			unlinkat(dirfd(dp), de->d_name, 0);
	}
	closedir(dp);
	return PD_OK;
}

static enum pd_err
tmp_open(struct nd_dcache *d, struct nd_dc_area *a, char tmp[TMP_LEN],
    int *fd, struct pd_error *err)
{
	snprintf(tmp, TMP_LEN, "tmp/%ld.%lu", (long)getpid(),
	    (unsigned long)atomic_fetch_add(&seq, 1));
	*fd = openat(a->fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (*fd < 0) {
		pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s/%s",
		    cat_dir(d->cat), a->name, tmp);
		tmp[0] = '\0';
		return PD_ERR_IO;
	}
	return PD_OK;
}

/* Throw a temp file away, if there is one. */
static void
tmp_drop(struct nd_dc_area *a, char tmp[TMP_LEN], int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	if (tmp[0] != '\0')
		unlinkat(a->fd, tmp, 0);
	tmp[0] = '\0';
}

/*
 * Make the temp file durable under its name.  Replacing is right: only
 * the key's flight leader gets here, and what it replaces has no valid
 * record (else it would have been a hit).
 */
static enum pd_err
publish(struct nd_dcache *d, struct nd_dc_area *a, char tmp[TMP_LEN],
    int fd, const char *name, struct pd_error *err)
{
	char sub[3];

	if (fsync(fd) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "fsync %s/%s/%s",
		    cat_dir(d->cat), a->name, tmp);
	if (renameat(a->fd, tmp, a->fd, name) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "storing %s/%s/%s",
		    cat_dir(d->cat), a->name, name);
	tmp[0] = '\0';
	memcpy(sub, name, 2);
	sub[2] = '\0';
	if (pd_fsync_dirat(a->fd, sub, err) != PD_OK)
		return pd_prefix(err, "%s/%s", cat_dir(d->cat), a->name);
	return PD_OK;
}

static enum pd_err
store_zobj(struct nd_dcache *d, const unsigned char *sha,
    const struct cat_zobj *z, struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(d->cat, true, &t, err)) != PD_OK)
		return rc;
	if ((rc = cat_zobj_put(t, sha, z, err)) != PD_OK) {
		cat_abort(t);
		return rc;
	}
	return cat_commit(t, err);
}

static enum pd_err
store_delta(struct nd_dcache *d, const unsigned char *from,
    const unsigned char *to, const struct cat_delta *rec,
    struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(d->cat, true, &t, err)) != PD_OK)
		return rc;
	if ((rc = cat_delta_put(t, from, to, rec, err)) != PD_OK) {
		cat_abort(t);
		return rc;
	}
	return cat_commit(t, err);
}

/*
 * Objects must be indexed (durable) to count as held.  What is made of
 * them is kept, so a published file a mirror serves from is hashed
 * first: a damaged one is not held, rather than the source of a cache
 * that is wrong for good.
 */
static enum pd_err
open_object(struct nd_dcache *d, const unsigned char *sha, int *fd,
    struct pd_error *err)
{
	uint64_t size;

	return cat_content_open(d->cat, sha, CAT_VERIFY, fd, &size, err);
}

enum pd_err
nd_dc_make_zobj(struct nd_dcache *d, struct nd_dc_req *q,
    struct pd_error *err)
{
	char name[ND_DC_NAME_LEN], tmp[TMP_LEN] = "", hex[PD_SHA256_HEX];
	struct cat_zobj z;
	enum pd_err rc;
	int ofd = -1, zfd = -1;

	pd_hex_encode(q->to, PD_SHA256_LEN, hex);
	nd_dc_zobj_name(q->to, name);
	if ((rc = open_object(d, q->to, &ofd, err)) != PD_OK ||
	    (rc = tmp_open(d, &d->z, tmp, &zfd, err)) != PD_OK)
		goto out;
	if ((rc = dl_zcompress_fd(ofd, zfd, DL_ZLEVEL_KEPT, &z.size,
	    &z.zsize, err)) != PD_OK) {
		pd_prefix(err, "compressing object %s", hex);
		goto out;
	}
	/* Content zstd does not shrink is always sent plain: keep only the
	 * record of that (zsize >= size), not a second copy on disk. */
	if (z.zsize >= z.size && ftruncate(zfd, 0) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "compressing object "
		    "%s", hex);
		goto out;
	}
	if ((rc = publish(d, &d->z, tmp, zfd, name, err)) != PD_OK ||
	    (rc = store_zobj(d, q->to, &z, err)) != PD_OK)
		goto out;
	if (lseek(zfd, 0, SEEK_SET) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s/%s",
		    cat_dir(d->cat), d->z.name, name);
		goto out;
	}
	nd_dc_count(d, &d->st.zobj_made);
	q->zobj->fd = zfd;
	q->zobj->zsize = z.zsize;
	q->zobj->size = z.size;
	zfd = -1;
out:
	tmp_drop(&d->z, tmp, &zfd);
	if (ofd >= 0)
		close(ofd);
	return rc;
}

enum pd_err
nd_dc_make_delta(struct nd_dcache *d, struct nd_dc_req *q,
    struct pd_error *err)
{
	char name[ND_DC_NAME_LEN], tmp[TMP_LEN] = "", ptmp[TMP_LEN] = "";
	char what[4 * PD_SHA256_LEN + 8];
	struct cat_delta rec;
	struct nd_zobj zto = { .fd = -1 };
	enum pd_err rc;
	int ffd = -1, tfd = -1, pfd = -1, zfd = -1;

	pair_show(q->from, q->to, what, sizeof(what));
	nd_dc_delta_name(q->from, q->to, name);
	if ((rc = open_object(d, q->from, &ffd, err)) != PD_OK ||
	    (rc = open_object(d, q->to, &tfd, err)) != PD_OK)
		goto out;
	/* "Worth it" is measured against what sending the object costs. */
	if ((rc = nd_dc_get_zobj(d, q->to, &zto, err)) != PD_OK)
		goto out;
	close(zto.fd);
	/* The plain delta is only an intermediate: no name needed. */
	if ((rc = tmp_open(d, &d->d, ptmp, &pfd, err)) != PD_OK)
		goto out;
	unlinkat(d->d.fd, ptmp, 0);
	ptmp[0] = '\0';
	if ((rc = dl_delta(ffd, tfd, pfd, &rec.size, err)) != PD_OK) {
		pd_prefix(err, "delta %s", what);
		goto out;
	}
	if (lseek(pfd, 0, SEEK_SET) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "delta %s", what);
		goto out;
	}
	if ((rc = tmp_open(d, &d->d, tmp, &zfd, err)) != PD_OK)
		goto out;
	if ((rc = dl_zcompress_fd(pfd, zfd, DL_ZLEVEL_KEPT, &rec.size,
	    &rec.zsize, err)) != PD_OK) {
		pd_prefix(err, "compressing delta %s", what);
		goto out;
	}
	rec.kind = rec.zsize * 100 > zto.zsize * ND_DELTA_WORTH_PCT ?
	    CAT_DELTA_WHOLE : CAT_DELTA_DELTA;
	if (rec.kind == CAT_DELTA_DELTA &&
	    (rc = publish(d, &d->d, tmp, zfd, name, err)) != PD_OK)
		goto out;
	if ((rc = store_delta(d, q->from, q->to, &rec, err)) != PD_OK)
		goto out;
	if (rec.kind == CAT_DELTA_WHOLE) {
		nd_dc_count(d, &d->st.wholes);
		q->delta->kind = ND_DELTA_WHOLE;
		q->delta->fd = -1;
		q->delta->zsize = q->delta->size = 0;
		goto out;
	}
	if (lseek(zfd, 0, SEEK_SET) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s/%s",
		    cat_dir(d->cat), d->d.name, name);
		goto out;
	}
	nd_dc_count(d, &d->st.deltas_made);
	q->delta->kind = ND_DELTA_DELTA;
	q->delta->fd = zfd;
	q->delta->zsize = rec.zsize;
	q->delta->size = rec.size;
	zfd = -1;
out:
	tmp_drop(&d->d, tmp, &zfd);
	tmp_drop(&d->d, ptmp, &pfd);
	if (ffd >= 0)
		close(ffd);
	if (tfd >= 0)
		close(tfd);
	return rc;
}

enum pd_err
nd_dc_keep_delta(struct nd_dcache *d, struct nd_dc_req *q,
    struct pd_error *err)
{
	char name[ND_DC_NAME_LEN], tmp[TMP_LEN] = "";
	char what[4 * PD_SHA256_LEN + 8];
	struct cat_delta rec = { .kind = CAT_DELTA_DELTA };
	enum pd_err rc;
	int zfd = -1;

	pair_show(q->from, q->to, what, sizeof(what));
	nd_dc_delta_name(q->from, q->to, name);
	if ((rc = tmp_open(d, &d->d, tmp, &zfd, err)) != PD_OK)
		goto out;
	if ((rc = dl_zcompress_fd(q->plain_fd, zfd, DL_ZLEVEL_KEPT,
	    &rec.size, &rec.zsize, err)) != PD_OK) {
		pd_prefix(err, "keeping delta %s", what);
		goto out;
	}
	if ((rc = publish(d, &d->d, tmp, zfd, name, err)) == PD_OK)
		rc = store_delta(d, q->from, q->to, &rec, err);
out:
	tmp_drop(&d->d, tmp, &zfd);
	return rc;
}
