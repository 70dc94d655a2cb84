/*
 * Signed manifests (catalog.h).  Since schema 5 the bytes live in a file
 * of their own, DATA/manifests/HEX, and the LMDB record only says that
 * the catalog holds it and how long it is:
 *   record version (1), be64(length)
 * A manifest is megabytes; kept as an LMDB value it cost every commit a
 * copy of it in LMDB's dirty pages, and every reader a map of it that
 * stayed in its resident set for as long as the environment was open.
 * As a file it is written before the transaction that records it (so a
 * pull can free its copy early) and mapped only while a reader needs it.
 *
 * A record from an older schema holds the manifest itself: it starts
 * with the manifest's magic, which a new record (9 bytes, first byte 1)
 * cannot.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "internal.h"

#define MAN_REC_V	1
#define MAN_REC_LEN	(1 + 8)

/* A manifest's file in DATA/manifests. */
struct cat_map {
	void		*addr;
	size_t		 len;
	struct cat_map	*next;
};

static void
man_name(const unsigned char *id, char name[PD_SHA256_HEX])
{
	pd_hex_encode(id, PD_SHA256_LEN, name);
}

struct cat_mwriter {
	struct cat	*cat;
	int		 fd;
	char		 tmp[PD_TMP_NAME_LEN];
	size_t		 len;		/* bytes written */
	void		*map;		/* cat_manifest_written's, or NULL */
	size_t		 maplen;
};

enum pd_err
cat_manifest_begin(struct cat *c, struct cat_mwriter **wp,
    struct pd_error *err)
{
	struct cat_mwriter *w;
	enum pd_err rc;

	*wp = NULL;
	if (c->rdonly || c->manfd < 0)
		return pd_fail(err, PD_ERR_USAGE, "catalog %s opened read-only",
		    c->dir);
	if ((w = pd_calloc(1, sizeof(*w))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "saving a manifest");
	w->cat = c;
	pd_tmp_name(w->tmp);
	if ((w->fd = openat(c->manfd, w->tmp, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644)) < 0 || fchmod(w->fd, 0644) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/manifests/%s",
		    c->dir, w->tmp);
		cat_manifest_drop(w);
		return rc;
	}
	*wp = w;
	return PD_OK;
}

enum pd_err
cat_manifest_write(struct cat_mwriter *w, const void *p, size_t n,
    struct pd_error *err)
{
	if (w->map != NULL)
		return pd_fail(err, PD_ERR_USAGE, "%s/manifests/%s: written "
		    "to after it was mapped", w->cat->dir, w->tmp);
	if (n > PR_MANIFEST_MAX - w->len)
		return pd_fail(err, PD_ERR_LIMIT, "%s/manifests/%s: a manifest "
		    "over %llu bytes", w->cat->dir, w->tmp, PR_MANIFEST_MAX);
	if (pd_write_all(w->fd, p, n) != PD_OK)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s/manifests/%s",
		    w->cat->dir, w->tmp);
	w->len += n;
	return PD_OK;
}

enum pd_err
cat_manifest_written(struct cat_mwriter *w, const void **data, size_t *len,
    struct pd_error *err)
{
	void *addr;

	if (w->map == NULL && w->len > 0) {
		addr = mmap(NULL, w->len, PROT_READ, MAP_PRIVATE, w->fd, 0);
		if (addr == MAP_FAILED)
			return pd_fail_errno(err, PD_ERR_IO, errno, "mapping "
			    "%s/manifests/%s", w->cat->dir, w->tmp);
		w->map = addr;
		w->maplen = w->len;
	}
	*data = w->map != NULL ? w->map : "";
	*len = w->len;
	return PD_OK;
}

enum pd_err
cat_manifest_end(struct cat_mwriter *w, const unsigned char *id,
    struct pd_error *err)
{
	char name[PD_SHA256_HEX];
	enum pd_err rc = PD_OK;

	man_name(id, name);
	/* Replacing a file left by an attempt that never committed is
	 * harmless: the id is the hash of the bytes, which the caller
	 * verified. */
	if (fsync(w->fd) < 0 ||
	    renameat(w->cat->manfd, w->tmp, w->cat->manfd, name) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/manifests/%s",
		    w->cat->dir, name);
	else {
		w->tmp[0] = '\0';
		rc = pd_fsync_dirat(w->cat->manfd, ".", err);
	}
	cat_manifest_drop(w);
	return rc;
}

void
cat_manifest_drop(struct cat_mwriter *w)
{
	if (w == NULL)
		return;
	if (w->map != NULL)
		munmap(w->map, w->maplen);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0] != '\0')
		unlinkat(w->cat->manfd, w->tmp, 0);
	pd_free(w);
}

/* The whole manifest in one piece, through the writer. */
enum pd_err
cat_manifest_save(struct cat *c, const unsigned char *id, const void *data,
    size_t len, struct pd_error *err)
{
	struct cat_mwriter *w;
	enum pd_err rc;

	if ((rc = cat_manifest_begin(c, &w, err)) != PD_OK)
		return rc;
	if ((rc = cat_manifest_write(w, data, len, err)) != PD_OK) {
		cat_manifest_drop(w);
		return rc;
	}
	return cat_manifest_end(w, id, err);
}

enum pd_err
cat_manifest_put(struct cat_txn *t, const unsigned char *id, size_t len,
    struct pd_error *err)
{
	unsigned char rec[MAN_REC_LEN];
	char name[PD_SHA256_HEX];
	MDB_val k = { PD_SHA256_LEN, (void *)id }, v = { sizeof(rec), rec };
	struct stat st;
	int rc;

	man_name(id, name);
	if (fstatat(t->cat->manfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return pd_fail_errno(err, errno == ENOENT ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, errno, "recording manifest %s/manifests/%s",
		    t->cat->dir, name);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len)
		return pd_fail(err, PD_ERR_CORRUPT, "recording manifest "
		    "%s/manifests/%s: not a file of %zu bytes", t->cat->dir,
		    name, len);
	rec[0] = MAN_REC_V;
	cat_be64_put(rec + 1, len);
	if ((rc = mdb_put(t->txn, t->cat->manifests, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing manifest");
	return PD_OK;
}

/* Map the file of manifest id, len bytes long, for t's lifetime. */
static enum pd_err
map_file(struct cat_txn *t, const unsigned char *id, uint64_t len,
    const void **data, struct pd_error *err)
{
	char name[PD_SHA256_HEX];
	struct cat_map *m = NULL;
	struct stat st;
	enum pd_err rc;
	void *addr;
	int fd;

	man_name(id, name);
	if (len == 0 || len > SIZE_MAX)
		return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: manifest %s "
		    "recorded with %llu bytes", t->cat->dir, name,
		    (unsigned long long)len);
	if ((fd = openat(t->cat->manfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return pd_fail_errno(err, errno == ENOENT ? PD_ERR_CORRUPT :
		    PD_ERR_IO, errno, "manifest %s/manifests/%s, which the "
		    "catalog records", t->cat->dir, name);
	if (fstat(fd, &st) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/manifests/%s",
		    t->cat->dir, name);
		goto out;
	}
	if ((uint64_t)st.st_size != len) {
		rc = pd_fail(err, PD_ERR_CORRUPT, "manifest %s/manifests/%s "
		    "has %lld bytes, the catalog records %llu", t->cat->dir,
		    name, (long long)st.st_size, (unsigned long long)len);
		goto out;
	}
	if ((m = pd_calloc(1, sizeof(*m))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "mapping a manifest");
		goto out;
	}
	addr = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (addr == MAP_FAILED) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "mapping "
		    "%s/manifests/%s", t->cat->dir, name);
		pd_free(m);
		goto out;
	}
	m->addr = addr;
	m->len = (size_t)len;
	m->next = t->maps;
	t->maps = m;
	*data = addr;
	rc = PD_OK;
out:
	close(fd);
	return rc;
}

/*
 * The record of manifest id: *held says whether it holds the bytes
 * (schema 4 and before: v is the manifest), else *n is their length.
 */
static enum pd_err
record(struct cat_txn *t, const unsigned char *id, MDB_val *v, bool *held,
    uint64_t *n, struct pd_error *err)
{
	MDB_val k = { PD_SHA256_LEN, (void *)id };
	const unsigned char *p;
	int mrc;

	if ((mrc = mdb_get(t->txn, t->cat->manifests, &k, v)) != 0)
		return cat_dberr(t->cat, mrc, err, "reading manifest");
	p = v->mv_data;
	*held = v->mv_size != MAN_REC_LEN || p[0] != MAN_REC_V;
	if (*held)
		*n = v->mv_size;
	else
		cat_be64_get(p + 1, n);
	return PD_OK;
}

enum pd_err
cat_manifest_len(struct cat_txn *t, const unsigned char *id, size_t *len,
    struct pd_error *err)
{
	MDB_val v;
	uint64_t n;
	bool held;
	enum pd_err rc;

	if ((rc = record(t, id, &v, &held, &n, err)) != PD_OK)
		return rc;
	if (n > SIZE_MAX)
		return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: a manifest "
		    "recorded with %llu bytes", t->cat->dir,
		    (unsigned long long)n);
	*len = (size_t)n;
	return PD_OK;
}

enum pd_err
cat_manifest_get(struct cat_txn *t, const unsigned char *id,
    const void **data, size_t *len, struct pd_error *err)
{
	MDB_val v;
	uint64_t n;
	bool held;
	enum pd_err rc;

	if ((rc = record(t, id, &v, &held, &n, err)) != PD_OK)
		return rc;
	if (held)
		*data = v.mv_data;
	else if ((rc = map_file(t, id, n, data, err)) != PD_OK)
		return rc;
	*len = (size_t)n;
	return PD_OK;
}

enum pd_err
cat_manifest_load(struct cat_txn *t, const unsigned char *id,
    struct pr_manifest **out, unsigned char *digest, struct pd_error *err)
{
	const void *data;
	size_t len;
	enum pd_err rc;

	*out = NULL;
	if ((rc = cat_manifest_get(t, id, &data, &len, err)) != PD_OK)
		return rc;
	/* A file's map, or LMDB's, which is read-only: either can give
	 * its pages back. */
	return pr_manifest_parse_mapped(data, len, out, digest, err);
}

void
cat_manifest_unmap(struct cat_txn *t)
{
	struct cat_map *m;

	while ((m = t->maps) != NULL) {
		t->maps = m->next;
		munmap(m->addr, m->len);
		pd_free(m);
	}
}

/*
 * One name in DATA/manifests: a manifest file no record names, or a
 * temporary file a crash left, last written before `before`?
 */
static bool
unrecorded(struct cat_txn *t, int dfd, const char *name, time_t before,
    int *mrc)
{
	unsigned char id[PD_SHA256_LEN];
	MDB_val k = { PD_SHA256_LEN, id }, v;
	struct stat st;

	*mrc = 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_mtime >= before)
		return false;
	if (strncmp(name, ".pd-tmp.", 8) == 0)
		return true;
	if (strlen(name) != 2 * PD_SHA256_LEN ||
	    !pd_hex_decode(name, PD_SHA256_LEN, id))
		return false;
	if ((*mrc = mdb_get(t->txn, t->cat->manifests, &k, &v)) !=
	    MDB_NOTFOUND)
		return false;
	*mrc = 0;
	return true;
}

enum pd_err
cat_manifest_sweep(struct cat *c, time_t before, uint64_t *removed,
    struct pd_error *err)
{
	struct cat_txn *t;
	struct dirent *de;
	DIR *dir;
	int fd, mrc = 0;
	enum pd_err rc;

	*removed = 0;
	if (c->manfd < 0)
		return PD_OK;
	/* A write transaction, though it writes nothing: a commit that
	 * records a manifest waits for it, or it sees the record. */
	if ((rc = cat_begin(c, true, &t, err)) != PD_OK)
		return rc;
	if ((fd = openat(c->manfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (dir = fdopendir(fd)) == NULL) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/manifests",
		    c->dir);
		if (fd >= 0)
			close(fd);
		cat_abort(t);
		return rc;
	}
	while (mrc == 0 && (de = readdir(dir)) != NULL)
		if (unrecorded(t, dirfd(dir), de->d_name, before, &mrc) &&
		    unlinkat(dirfd(dir), de->d_name, 0) == 0)
			(*removed)++;
	closedir(dir);
	if (mrc != 0)
		rc = cat_dberr(c, mrc, err, "sweeping manifests");
	cat_abort(t);
	return rc;
}
