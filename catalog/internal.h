/*
 * Shared between the files of catalog/ only.
 */
#ifndef CAT_INTERNAL_H
#define CAT_INTERNAL_H

#include <stdatomic.h>

#include <lmdb.h>

#include "catalog.h"
#include "tasks.h"

struct cat {
	char		*dir;		/* the data directory */
	MDB_env		*env;
	MDB_dbi		 meta;		/* "schema", "next-tree-id",
					 * "next-task-id" */
	MDB_dbi		 trees;		/* name -> tree record */
	MDB_dbi		 versions;	/* name NUL be64(n) -> version record */
	MDB_dbi		 manifests;	/* id -> signed manifest bytes */
	MDB_dbi		 objects;	/* sha256 -> object record */
	MDB_dbi		 statcache;	/* be32(tree) xxh128(path) -> stat */
	MDB_dbi		 deltas;	/* from to -> delta record */
	MDB_dbi		 zobjs;		/* sha256 -> compressed object */
	MDB_dbi		 content;	/* sha256 tree -> where it is held */
	MDB_dbi		 tasks;		/* be64(id) -> task record */
	MDB_dbi		 taskq;		/* be64(id) of queued and running */
	bool		 has_derived;	/* deltas and zobjs exist (schema 2) */
	bool		 has_content;	/* content exists (schema 3) */
	bool		 has_tasks;	/* tasks and taskq exist (schema 4) */
	int		 objfd;		/* DATA/objects */
	int		 lockfd;	/* DATA/locks */
	char		*map;		/* LMDB's map of data.mdb, or NULL
					 * if not found (cat_txn_touch) */
	size_t		 maplen;
	size_t		 psize;		/* LMDB's page size, with map */
	int		 manfd;		/* DATA/manifests, -1 if none
					 * (an old catalog, read-only) */
	bool		 rdonly;
	atomic_bool	 readahead;	/* the map is read ahead (cat.c) */
	atomic_bool	 swept;		/* dead writers' temp files gone
					 * (objstore.c) */
};

struct cat_map;

struct cat_txn {
	struct cat	*cat;
	MDB_txn		*txn;
	bool		 write;
	struct cat_map	*maps;		/* manifests mapped for reads */
	unsigned	 touched;	/* records looked up or written */
};

/*
 * Count a record a long transaction looked up or wrote, and every so
 * many give back the pages of the map it read (cat.c).
 */
void	cat_txn_touch(struct cat_txn *);

/* Let the kernel read the map ahead from now on (cat.c). */
void	cat_readahead(struct cat *);

/* Big-endian packing of records, with a moving pointer. */
static inline unsigned char *
cat_be64_put(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

static inline const unsigned char *
cat_be64_get(const unsigned char *p, uint64_t *v)
{
	int i;

	for (*v = 0, i = 0; i < 8; i++)
		*v = *v << 8 | *p++;
	return p;
}

/*
 * The content index (content.c, content_index.c).  Keys: the SHA-256,
 * then the tree's name, so the records of one content are together and
 * one cursor seek finds them all.  Values: the kind, be64(version),
 * be64(size), then the path's bytes (decoded, as in the manifest; the
 * length is the rest).  Kind CAT_WHERE_AT_V: the content is at that
 * path in that version.  Kind CAT_WHERE_HEAD_V: at that path in the
 * tree's head, whatever version it is (the version field says since
 * when, for whoever reads the database by hand).
 */
#define CAT_WHERE_AT_V		1
#define CAT_WHERE_HEAD_V	2
#define CAT_WHERE_HEAD		(1 + 8 + 8)
#define CAT_WHERE_KEY_MAX	(PD_SHA256_LEN + PR_TREE_NAME_MAX)
size_t	cat_content_key(const unsigned char *sha, const char *tree,
	    size_t tlen, unsigned char *key);

/*
 * content_index.c: _migrate indexes every version of every tree still on
 * disk under DATA/versions (the upgrade of an older catalog to schema
 * 3); _upgrade turns the records naming a tree's head version into head
 * records (schema 6).  Both in the upgrade's transaction.
 */
enum pd_err cat_content_migrate(struct cat_txn *, struct pd_error *)
	    PD_WARN_UNUSED;
enum pd_err cat_content_upgrade(struct cat_txn *, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * tasks.c, for lease.c: _need_write fails unless t is a write
 * transaction of a catalog with a task queue; _load reads task id
 * (PD_ERR_NOTFOUND, PD_ERR_CORRUPT); _store writes it and keeps the
 * active index (taskq) in step with its state; _setstr copies s into a
 * field of cap + 1 bytes, cut at cap.
 */
enum pd_err cat_task_need_write(struct cat_txn *, struct pd_error *,
	    const char *what) PD_WARN_UNUSED;
enum pd_err cat_task_load(struct cat_txn *, uint64_t id, struct cat_task *,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_task_store(struct cat_txn *, const struct cat_task *,
	    struct pd_error *) PD_WARN_UNUSED;
void	cat_task_setstr(char *dst, size_t cap, const char *s);

/* Queued or running: in the active index. */
static inline bool
cat_task_active(enum cat_task_state s)
{
	return s == CAT_TASK_QUEUED || s == CAT_TASK_RUNNING;
}

/* manifests.c: unmap what cat_manifest_get() mapped for t. */
void	cat_manifest_unmap(struct cat_txn *);

/* Fail with an LMDB error code, naming what was being done. */
enum pd_err cat_dberr(struct cat *, int rc, struct pd_error *,
	    const char *what);

#endif
