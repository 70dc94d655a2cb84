/*
 * Opening the catalog, its schema record, transactions and tree locks.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/mem.h"
#include "../protocol/manifest.h"
#include "internal.h"
#include "objstore.h"

/*
 * Address space reserved for the map.  LMDB grows the file only as data
 * is written; 64 GiB holds the indexes of many large trees.  A build
 * for valgrind, whose address space is smaller, may set its own.
 */
#ifndef CAT_MAPSIZE
#define CAT_MAPSIZE	(64ULL << 30)
#endif

enum pd_err
cat_dberr(struct cat *c, int rc, struct pd_error *err, const char *what)
{
	return pd_fail(err, rc == MDB_NOTFOUND ? PD_ERR_NOTFOUND : PD_ERR_DB,
	    "catalog %s/catalog: %s: %s", c->dir, what, mdb_strerror(rc));
}

/*
 * The schema number of the catalog in *schema, 0 for a new one (no
 * record yet).  A newer schema than this build knows is refused before
 * anything is written: its records may mean something else.
 */
static enum pd_err
read_schema(struct cat *c, MDB_txn *txn, unsigned long *schema,
    struct pd_error *err)
{
	MDB_val k = { 6, "schema" }, v;
	char buf[16], *end;
	int rc;

	*schema = 0;
	rc = mdb_get(txn, c->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		if (c->rdonly)
			return pd_fail(err, PD_ERR_DB, "catalog %s: no schema "
			    "record", c->dir);
		return PD_OK;
	}
	if (rc != 0)
		return cat_dberr(c, rc, err, "reading schema");
	if (v.mv_size == 0 || v.mv_size >= sizeof(buf))
		return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: bad schema "
		    "record", c->dir);
	memcpy(buf, v.mv_data, v.mv_size);
	buf[v.mv_size] = '\0';
	*schema = strtoul(buf, &end, 10);
	if (*end != '\0' || *schema == 0)
		return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: bad schema "
		    "record \"%s\"", c->dir, buf);
	if (*schema > CAT_SCHEMA)
		return pd_fail(err, PD_ERR_DB, "catalog %s has schema %lu, "
		    "newer than this pulpdist reads (schema %d): use a newer "
		    "pulpdist", c->dir, *schema, CAT_SCHEMA);
	return PD_OK;
}

static enum pd_err
write_schema(struct cat *c, MDB_txn *txn, struct pd_error *err)
{
	MDB_val k = { 6, "schema" }, v;
	char buf[16];
	int rc;

	snprintf(buf, sizeof(buf), "%d", CAT_SCHEMA);
	v.mv_data = buf;
	v.mv_size = strlen(buf);
	if ((rc = mdb_put(txn, c->meta, &k, &v, 0)) != 0)
		return cat_dberr(c, rc, err, "writing schema");
	return PD_OK;
}

/*
 * Open every database the schema has, in one transaction with the schema
 * check.  Upgrading an older catalog happens here, in that transaction,
 * so it is all or nothing: schemas 2, 3 and 4 added databases, which
 * opening them with MDB_CREATE makes, and 3 fills its content index from
 * the versions on disk.  Read-only, an older catalog is read as it is
 * and the later databases are missing (c->has_derived, c->has_content,
 * c->has_tasks false).
 */
static enum pd_err
open_dbs(struct cat *c, struct pd_error *err)
{
	static const struct {
		const char	*name;
		size_t		 off;
		unsigned long	 since;		/* first schema with it */
	} dbs[] = {
		{ "trees", offsetof(struct cat, trees), 1 },
		{ "versions", offsetof(struct cat, versions), 1 },
		{ "manifests", offsetof(struct cat, manifests), 1 },
		{ "objects", offsetof(struct cat, objects), 1 },
		{ "statcache", offsetof(struct cat, statcache), 1 },
		{ "deltas", offsetof(struct cat, deltas), 2 },
		{ "zobjects", offsetof(struct cat, zobjs), 2 },
		{ "content", offsetof(struct cat, content), 3 },
		{ "tasks", offsetof(struct cat, tasks), 4 },
		{ "taskq", offsetof(struct cat, taskq), 4 },
	};
	struct cat_txn ct = { 0 };
	unsigned flags = c->rdonly ? 0 : MDB_CREATE;
	unsigned long schema;
	MDB_txn *txn;
	enum pd_err e;
	size_t i;
	int rc;

	rc = mdb_txn_begin(c->env, NULL, c->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0)
		return cat_dberr(c, rc, err, "begin");
	if ((rc = mdb_dbi_open(txn, "meta", flags, &c->meta)) != 0) {
		e = cat_dberr(c, rc, err, "meta");
		goto fail;
	}
	if ((e = read_schema(c, txn, &schema, err)) != PD_OK)
		goto fail;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if (c->rdonly && dbs[i].since > schema)
			continue;
		rc = mdb_dbi_open(txn, dbs[i].name, flags,
		    (MDB_dbi *)(void *)((char *)c + dbs[i].off));
		if (rc != 0) {
			e = cat_dberr(c, rc, err, dbs[i].name);
			goto fail;
		}
	}
	c->has_derived = !c->rdonly || schema >= 2;
	c->has_content = !c->rdonly || schema >= 3;
	c->has_tasks = !c->rdonly || schema >= 4;
	ct.cat = c;
	ct.txn = txn;
	ct.write = !c->rdonly;
	if (!c->rdonly && schema > 0 && schema < 6)
		cat_readahead(c);
	if (!c->rdonly && schema > 0 && schema < 3 &&
	    (e = cat_content_migrate(&ct, err)) != PD_OK)
		goto fail;
	if (!c->rdonly && schema > 0 && schema < 6 &&
	    (e = cat_content_upgrade(&ct, err)) != PD_OK)
		goto fail;
	if (!c->rdonly && schema < CAT_SCHEMA &&
	    (e = write_schema(c, txn, err)) != PD_OK)
		goto fail;
	rc = mdb_txn_commit(txn);
	cat_manifest_unmap(&ct);
	if (rc != 0)
		return cat_dberr(c, rc, err, "commit");
	return PD_OK;
fail:
	mdb_txn_abort(txn);
	cat_manifest_unmap(&ct);
	return e;
}

static enum pd_err
open_dir(struct cat *c, const char *name, int *fd, struct pd_error *err)
{
	if (!c->rdonly && mkdirat(AT_FDCWD, name, 0755) < 0 &&
	    errno != EEXIST)
		return pd_fail_errno(err, PD_ERR_IO, errno, "mkdir %s", name);
	*fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", name);
	return PD_OK;
}

/*
 * Where LMDB mapped data.mdb, which its API does not say (me_mapaddr is
 * only set with MDB_FIXEDMAP): the mapping of the file's inode in
 * /proc/self/maps.  Not found, cat_txn_touch and cat_readahead do
 * nothing.
 */
static void
find_map(struct cat *c)
{
	unsigned long lo, hi, ino;
	char line[512];
	struct stat st;
	MDB_stat ms;
	FILE *f;
	int fd;

	if (mdb_env_get_fd(c->env, &fd) != 0 || fstat(fd, &st) < 0 ||
	    mdb_env_stat(c->env, &ms) != 0 ||
	    (f = fopen("/proc/self/maps", "re")) == NULL)
		return;
	c->psize = ms.ms_psize;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi,
		    &ino) == 3 && ino == (unsigned long)st.st_ino &&
		    strstr(line, "data.mdb") != NULL && hi > lo) {
			c->map = (char *)(uintptr_t)lo;
			c->maplen = hi - lo;
			break;
		}
	fclose(f);
	if (c->map != NULL)
		(void)madvise(c->map, c->maplen, MADV_RANDOM);
}

/*
 * The kernel reads ahead around a page fault of a map as far as the
 * disk's read_ahead_kb says: 8 MB on some virtual disks, the whole of
 * data.mdb for the first record a command looks up.  A lookup (a no-op
 * pull, a request served) touches a few pages at random, so the map is
 * opened without; a write transaction (a commit of 80,000 records, an
 * upgrade) touches most of them, and is better served by one read.
 */
void
cat_readahead(struct cat *c)
{
	if (c->map != NULL && !atomic_exchange(&c->readahead, true))
		(void)madvise(c->map, c->maplen, MADV_NORMAL);
}

enum pd_err
cat_open(const char *dir, unsigned flags, struct cat **out,
    struct pd_error *err)
{
	struct cat *c;
	struct stat st;
	char *path = NULL;
	size_t plen;
	enum pd_err rc;
	int mrc;

	*out = NULL;
	if ((c = pd_calloc(1, sizeof(*c))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "catalog %s", dir);
	c->objfd = c->lockfd = c->manfd = -1;
	c->rdonly = (flags & CAT_RDONLY) != 0;
	plen = strlen(dir) + 32;
	if ((c->dir = pd_strdup(dir)) == NULL ||
	    (path = pd_malloc(plen)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "catalog %s", dir);
		goto fail;
	}
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || !(flags & CAT_CREATE) || c->rdonly) {
			rc = pd_fail_errno(err, errno == ENOENT ?
			    PD_ERR_NOTFOUND : PD_ERR_IO, errno,
			    "data directory %s", dir);
			goto fail;
		}
		if ((rc = pd_mkdirs(dir, 0755, err)) != PD_OK)
			goto fail;
	} else if (!S_ISDIR(st.st_mode)) {
		rc = pd_fail(err, PD_ERR_IO, "data directory %s: not a "
		    "directory", dir);
		goto fail;
	}
	snprintf(path, plen, "%s/catalog", dir);
	if (!c->rdonly && mkdir(path, 0700) < 0 && errno != EEXIST) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "mkdir %s", path);
		goto fail;
	}
	if (c->rdonly && access(path, F_OK) < 0) {
		rc = pd_fail(err, PD_ERR_NOTFOUND, "%s: no catalog (nothing "
		    "imported or pulled here yet)", dir);
		goto fail;
	}
	if ((mrc = mdb_env_create(&c->env)) != 0 ||
	    (mrc = mdb_env_set_maxdbs(c->env, 16)) != 0 ||
	    (mrc = mdb_env_set_mapsize(c->env, CAT_MAPSIZE)) != 0 ||
	    (mrc = mdb_env_open(c->env, path, MDB_NOTLS |
	    (c->rdonly ? MDB_RDONLY : 0), 0600)) != 0) {
		rc = cat_dberr(c, mrc, err, "open");
		goto fail;
	}
	/* Read-only, a catalog from before schema 5 has no manifest files:
	 * its records hold the manifests.  Before the databases: an upgrade
	 * reads manifests. */
	snprintf(path, plen, "%s/manifests", dir);
	if ((!c->rdonly || access(path, F_OK) == 0) &&
	    (rc = open_dir(c, path, &c->manfd, err)) != PD_OK)
		goto fail;
	find_map(c);
	if ((rc = open_dbs(c, err)) != PD_OK)
		goto fail;
	snprintf(path, plen, "%s/objects", dir);
	if ((rc = open_dir(c, path, &c->objfd, err)) != PD_OK)
		goto fail;
	snprintf(path, plen, "%s/locks", dir);
	if ((rc = open_dir(c, path, &c->lockfd, err)) != PD_OK)
		goto fail;
	if (!c->rdonly && (rc = cat_obj_init(c, err)) != PD_OK)
		goto fail;
	pd_free(path);
	*out = c;
	return PD_OK;
fail:
	pd_free(path);
	cat_close(c);
	return rc;
}

void
cat_close(struct cat *c)
{
	if (c == NULL)
		return;
	if (c->env)
		mdb_env_close(c->env);
	if (c->objfd >= 0)
		close(c->objfd);
	if (c->lockfd >= 0)
		close(c->lockfd);
	if (c->manfd >= 0)
		close(c->manfd);
	pd_free(c->dir);
	pd_free(c);
}

const char *
cat_dir(const struct cat *c)
{
	return c->dir;
}

int
cat_objects_fd(const struct cat *c)
{
	return c->objfd;
}

enum pd_err
cat_begin(struct cat *c, bool write, struct cat_txn **out,
    struct pd_error *err)
{
	struct cat_txn *t;
	int rc;

	*out = NULL;
	if (write && c->rdonly)
		return pd_fail(err, PD_ERR_USAGE, "catalog %s opened read-only",
		    c->dir);
	if ((t = pd_calloc(1, sizeof(*t))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "catalog transaction");
	t->cat = c;
	t->write = write;
	if (write)
		cat_readahead(c);
	if ((rc = mdb_txn_begin(c->env, NULL, write ? 0 : MDB_RDONLY,
	    &t->txn)) != 0) {
		pd_free(t);
		return cat_dberr(c, rc, err, "begin");
	}
	*out = t;
	return PD_OK;
}

/* Records between two trims of the map: see cat_txn_touch. */
#define TRIM_EVERY	64

/*
 * A write that looks up records at random (the content index of an
 * update: 2,000 of 80,000) reads a page of the map for each, and the
 * kernel maps 64 KB around every page it faults in: by the commit all
 * 8 MB of the environment were resident.  The map is read-only (no
 * MDB_WRITEMAP: dirty pages are the transaction's own memory) and its
 * pages are the file's, which a transaction never overwrites while
 * they can be read: dropping them only costs reading them again from
 * the page cache.
 */
void
cat_txn_touch(struct cat_txn *t)
{
	MDB_envinfo info;
	size_t len;

	if (++t->touched % TRIM_EVERY != 0 || t->cat->map == NULL ||
	    mdb_env_info(t->cat->env, &info) != 0)
		return;
	len = (info.me_last_pgno + 1) * t->cat->psize;
	if (len > t->cat->maplen)
		len = t->cat->maplen;
	(void)madvise(t->cat->map, len, MADV_DONTNEED);
}

enum pd_err
cat_commit(struct cat_txn *t, struct pd_error *err)
{
	struct cat *c = t->cat;
	int rc = mdb_txn_commit(t->txn);

	cat_manifest_unmap(t);
	pd_free(t);
	if (rc != 0)
		return cat_dberr(c, rc, err, "commit");
	return PD_OK;
}

void
cat_abort(struct cat_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	cat_manifest_unmap(t);
	pd_free(t);
}

enum pd_err
cat_lock_tree(struct cat *c, const char *tree, int *fd, struct pd_error *err)
{
	char name[PR_TREE_NAME_MAX + 8];
	int f;

	/* The name becomes a file name: it must be a valid tree name. */
	if (pr_tree_name_check(tree) != NULL)
		return pd_fail(err, PD_ERR_USAGE, "bad tree name \"%s\": %s",
		    tree, pr_tree_name_check(tree));
	snprintf(name, sizeof(name), "%s.lock", tree);
	f = openat(c->lockfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s/locks/%s",
		    c->dir, name);
	if (flock(f, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(f);
		if (e == EWOULDBLOCK)
			return pd_fail(err, PD_ERR_CONFLICT, "tree %s is being "
			    "changed by another process", tree);
		return pd_fail_errno(err, PD_ERR_IO, e, "locking tree %s",
		    tree);
	}
	*fd = f;
	return PD_OK;
}

void
cat_unlock_tree(int fd)
{
	if (fd >= 0)
		close(fd);
}
