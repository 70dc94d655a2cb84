/*
 * The catalog: one LMDB environment per node data directory, holding
 * trees, versions, signed manifests, the object index, the import stat
 * cache, the index of derived content (compressed objects, deltas) and
 * that of the content of a mirror's published versions.
 * See DESIGN.md, "Storage on a node".
 *
 * Transactions are LMDB's: one writer at a time (others wait), any number
 * of readers that see a consistent snapshot.  A struct cat_txn belongs to
 * the thread that began it.  Pointers returned by a read (cat_manifest_get)
 * belong to the database and die with the transaction.  The commit of a
 * write transaction is the durability point: everything a record names
 * (objects on disk) must be durable before it.
 */
#ifndef CAT_CATALOG_H
#define CAT_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"
#include "../common/sha256.h"
#include "../protocol/limits.h"
#include "../protocol/manifest.h"
#include "../protocol/sign.h"

/*
 * Layout of the records below.  1: trees, versions, manifests, objects,
 * stat cache.  2: adds deltas and zobjects.  3: adds the content index
 * (what a mirror holds in the files of its published versions).  4:
 * adds the task queue (tasks.h).  5: new manifests are files in
 * DATA/manifests, recorded by length (older records, which hold the
 * manifest, are still read).  6: the content index names a tree's head
 * without its version, so that a new version rewrites only what
 * changed.  An older catalog opened for writing is upgraded in place,
 * in one transaction (to 3: every version still on disk under
 * DATA/versions is indexed; to 4: empty task databases; to 5: nothing
 * moves; to 6: the records naming a head version name the head); one
 * opened read-only reads as one without the later records.  A newer
 * schema than this is refused.
 */
#define CAT_SCHEMA	6

#define CAT_CREATE	0x1	/* create the data directory if missing */
#define CAT_RDONLY	0x2	/* open for reading only */

struct cat;
struct cat_txn;

struct cat_tree {
	char		 name[PR_TREE_NAME_MAX + 1];
	uint32_t	 id;		/* internal number, 0 until stored */
	uint64_t	 head;		/* newest version, 0 for none */
	bool		 has_key;
	unsigned char	 pubkey[PR_PUBKEY_LEN];	/* the tree's trust root */
	int64_t		 created;	/* seconds since the epoch */
};

/* Changes between a version and the one before it. */
struct cat_changes {
	uint64_t	 added;
	uint64_t	 removed;
	uint64_t	 changed;	/* content or type */
	uint64_t	 renamed;	/* same content, new path */
	uint64_t	 meta;		/* mode or mtime only */
};

struct cat_version {
	uint64_t	 number;
	unsigned char	 manifest_id[PD_SHA256_LEN];
	/* SHA-256 of the manifest from its "root" line on: equal digests
	 * mean equal content, whatever the version numbers and dates. */
	unsigned char	 content_digest[PD_SHA256_LEN];
	int64_t		 created;	/* from the manifest */
	int64_t		 committed;	/* when this node recorded it */
	uint64_t	 entries;
	uint64_t	 files;
	uint64_t	 dirs;
	uint64_t	 links;
	uint64_t	 bytes;		/* content bytes, hardlinks once */
	uint64_t	 hashed_bytes;	/* bytes read to make this version */
	uint64_t	 duration_ms;	/* how long making it took */
	struct cat_changes changes;	/* against number - 1 */
};

/* What a stat of a source file looked like when its hash was taken. */
struct cat_stat {
	uint64_t	 dev;
	uint64_t	 ino;
	uint64_t	 size;
	int64_t		 mtime_sec;
	uint32_t	 mtime_nsec;
	int64_t		 ctime_sec;
	uint32_t	 ctime_nsec;
	unsigned char	 sha[PD_SHA256_LEN];
};

/* How the change from one object to another is sent (node/dcache.h). */
enum cat_delta_kind {
	CAT_DELTA_DELTA = 1,	/* a compressed librsync delta is kept */
	CAT_DELTA_WHOLE = 2,	/* a delta is not worth it: send the object */
};

/* A record of derived content: the file on disk must match it. */
struct cat_delta {
	enum cat_delta_kind kind;
	uint64_t	 size;		/* plain librsync delta bytes */
	uint64_t	 zsize;		/* bytes of its zstd form (the file) */
};

struct cat_zobj {
	uint64_t	 size;		/* plain object bytes */
	uint64_t	 zsize;		/* bytes of its zstd form (the file) */
};

/* Open (or with CAT_CREATE create) the data directory dir. */
enum pd_err cat_open(const char *dir, unsigned flags, struct cat **,
	    struct pd_error *) PD_WARN_UNUSED;
void	cat_close(struct cat *);
const char *cat_dir(const struct cat *);
/* Directory descriptor of DATA/objects, for the object store. */
int	cat_objects_fd(const struct cat *);

enum pd_err cat_begin(struct cat *, bool write, struct cat_txn **,
	    struct pd_error *) PD_WARN_UNUSED;
/* Commit and free the transaction, whatever the outcome. */
enum pd_err cat_commit(struct cat_txn *, struct pd_error *) PD_WARN_UNUSED;
/* Abandon and free the transaction; NULL is a no-op. */
void	cat_abort(struct cat_txn *);

/*
 * Take the per-tree lock that serialises writers of one tree across
 * processes.  PD_ERR_CONFLICT if another process holds it.  Release with
 * cat_unlock_tree(fd).
 */
enum pd_err cat_lock_tree(struct cat *, const char *tree, int *fd,
	    struct pd_error *) PD_WARN_UNUSED;
void	cat_unlock_tree(int fd);

/* Trees.  cat_tree_get gives PD_ERR_NOTFOUND for an unknown tree. */
enum pd_err cat_tree_get(struct cat_txn *, const char *name,
	    struct cat_tree *, struct pd_error *) PD_WARN_UNUSED;
/* Store t; a tree with id 0 is new and gets the next free id. */
enum pd_err cat_tree_put(struct cat_txn *, struct cat_tree *t,
	    struct pd_error *) PD_WARN_UNUSED;
/* All trees in name order, in a new array (free with pd_free). */
enum pd_err cat_tree_list(struct cat_txn *, struct cat_tree **, size_t *,
	    struct pd_error *) PD_WARN_UNUSED;

/* Versions of a tree.  PD_ERR_NOTFOUND for an unknown version. */
enum pd_err cat_version_get(struct cat_txn *, const char *tree, uint64_t n,
	    struct cat_version *, struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_version_put(struct cat_txn *, const char *tree,
	    const struct cat_version *, struct pd_error *) PD_WARN_UNUSED;
/* All versions of a tree, oldest first, in a new array (pd_free). */
enum pd_err cat_version_list(struct cat_txn *, const char *tree,
	    struct cat_version **, size_t *, struct pd_error *) PD_WARN_UNUSED;

/*
 * Signed manifests by id, each in a file of its own (DATA/manifests):
 * _save writes it durably, outside any transaction, and the caller may
 * free its copy then; _put records it (len bytes, saved before) in t.
 * *data from _get maps the file and lives until the transaction ends.
 * A file nothing records (a pull that failed after saving) is only disk
 * used, and replaced by the next attempt's.
 */
enum pd_err cat_manifest_save(struct cat *, const unsigned char *id,
	    const void *data, size_t len, struct pd_error *) PD_WARN_UNUSED;
/*
 * A manifest saved as it is made, never whole in memory: _begin starts
 * a temporary file in DATA/manifests, _write appends, _end makes it
 * durable under its id (verified by the caller, as for _save) and
 * frees the writer; _drop removes the file and frees the writer.
 */
struct cat_mwriter;
enum pd_err cat_manifest_begin(struct cat *, struct cat_mwriter **,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_manifest_write(struct cat_mwriter *, const void *, size_t,
	    struct pd_error *) PD_WARN_UNUSED;
/*
 * What was written so far, mapped read-only until _end or _drop (for
 * pr_manifest_parse_mapped); nothing may be written after.
 */
enum pd_err cat_manifest_written(struct cat_mwriter *, const void **data,
	    size_t *len, struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_manifest_end(struct cat_mwriter *, const unsigned char *id,
	    struct pd_error *) PD_WARN_UNUSED;
void	cat_manifest_drop(struct cat_mwriter *);
enum pd_err cat_manifest_put(struct cat_txn *, const unsigned char *id,
	    size_t len, struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_manifest_get(struct cat_txn *, const unsigned char *id,
	    const void **data, size_t *len, struct pd_error *) PD_WARN_UNUSED;
/*
 * _get, then pr_manifest_parse_mapped (digest may be NULL): the map's
 * pages go back as they are parsed.  Not verified.
 */
enum pd_err cat_manifest_load(struct cat_txn *, const unsigned char *id,
	    struct pr_manifest **, unsigned char *digest, struct pd_error *)
	    PD_WARN_UNUSED;
/* Only whether the catalog holds manifest id, and its length: no map. */
enum pd_err cat_manifest_len(struct cat_txn *, const unsigned char *id,
	    size_t *len, struct pd_error *) PD_WARN_UNUSED;
/*
 * Remove the manifest files no record names (and temporary files of a
 * save a crash cut short) last written before `before`; *removed counts
 * them.  A commit that records one of them waits, or fails cleanly.
 */
enum pd_err cat_manifest_sweep(struct cat *, time_t before,
	    uint64_t *removed, struct pd_error *) PD_WARN_UNUSED;

/* The object index: content known to be durable in the object store. */
bool	cat_object_has(struct cat_txn *, const unsigned char *sha);
enum pd_err cat_object_put(struct cat_txn *, const unsigned char *sha,
	    uint64_t size, struct pd_error *) PD_WARN_UNUSED;
/* Thread-safe check outside any transaction (a short read of its own). */
bool	cat_object_known(struct cat *, const unsigned char *sha);

/*
 * Derived content, keyed by object SHA-256s: the delta record of the pair
 * (from, to) and the compressed-object record of sha.  The records say
 * what the files under DATA/deltas and DATA/zobjects must be; writing the
 * files (durably, before the record commits) is node/dcache.c's job.
 * _get and _lookup give PD_ERR_NOTFOUND when there is no record,
 * PD_ERR_CORRUPT for a damaged one.  _lookup is a thread-safe read
 * outside any transaction, like cat_object_known.
 */
enum pd_err cat_delta_get(struct cat_txn *, const unsigned char *from,
	    const unsigned char *to, struct cat_delta *, struct pd_error *)
	    PD_WARN_UNUSED;
enum pd_err cat_delta_put(struct cat_txn *, const unsigned char *from,
	    const unsigned char *to, const struct cat_delta *,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_delta_lookup(struct cat *, const unsigned char *from,
	    const unsigned char *to, struct cat_delta *, struct pd_error *)
	    PD_WARN_UNUSED;
enum pd_err cat_zobj_get(struct cat_txn *, const unsigned char *sha,
	    struct cat_zobj *, struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_zobj_put(struct cat_txn *, const unsigned char *sha,
	    const struct cat_zobj *, struct pd_error *) PD_WARN_UNUSED;
enum pd_err cat_zobj_lookup(struct cat *, const unsigned char *sha,
	    struct cat_zobj *, struct pd_error *) PD_WARN_UNUSED;

/*
 * The content index: content a node holds in no object store but in the
 * files of the versions it published (a mirror, and so a relay: it
 * serves that content onwards), DATA/versions/TREE/N/PATH.  One record
 * per content and tree names the newest version of the tree that has
 * it, at one of its paths, with its size.  cat_content_index, called in
 * the transaction that records version N (after the tree's head is set
 * to N), records N's step from the head before it; cat_content_forget,
 * in the transaction that retires versions, drops the records naming
 * them.  So a record always names a version that is held, and whose
 * files nobody changes (DATA/versions is the node's own; a local user
 * may still damage it, hence the checks of cat_content_open).
 */
struct cat_where {
	char		 tree[PR_TREE_NAME_MAX + 1];
	uint64_t	 version;
	uint64_t	 size;		/* bytes, from the manifest */
	uint32_t	 path_len;
	char		 path[PR_PATH_MAX + 1];	/* decoded, NUL-terminated */
};

/*
 * Record every regular file of m as held at DATA/versions/tree/version,
 * the tree's head.  step, planned from the head before it (prev) and m
 * by cat_content_plan, says where m differs from prev: only those
 * records are rewritten, so that a version costs what it changed.  A
 * NULL step (no head before) records all of m.  The manifests must have
 * passed pr_manifest_check (their paths are safe); the plan copies what
 * it needs of prev, which may be freed then.  Errors: PD_ERR_DB,
 * PD_ERR_NOMEM, PD_ERR_USAGE (a bad tree name or version, a read-only
 * catalog).
 */
struct cat_cstep;
enum pd_err cat_content_plan(const struct pr_manifest *prev,
	    const struct pr_manifest *m, struct cat_cstep **,
	    struct pd_error *) PD_WARN_UNUSED;
void	cat_content_plan_free(struct cat_cstep *);
enum pd_err cat_content_index(struct cat_txn *, const char *tree,
	    uint64_t version, const struct cat_cstep *step,
	    const struct pr_manifest *m, struct pd_error *) PD_WARN_UNUSED;
/*
 * For a first version, instead of cat_content_index: record every
 * regular file of m as held at the head of tree, before the version is
 * recorded, in transactions of a few thousand records.  In one they
 * dirtied 8 MB of pages for 80,000 files, the peak of a first pull.  A
 * head record names the tree's head, which the tree does not have until
 * the transaction that records the version sets it: until then (or for
 * ever, after a crash) the records resolve to nothing, and the next
 * prefill of the tree drops them.  PD_ERR_CONFLICT if tree has a head.
 */
enum pd_err cat_content_prefill(struct cat *, const char *tree,
	    uint64_t version, const struct pr_manifest *, struct pd_error *)
	    PD_WARN_UNUSED;
/* Drop every record of tree naming a version at or below through. */
enum pd_err cat_content_forget(struct cat_txn *, const char *tree,
	    uint64_t through, struct pd_error *) PD_WARN_UNUSED;
/* The record of sha in tree: PD_ERR_NOTFOUND, PD_ERR_CORRUPT. */
enum pd_err cat_content_get(struct cat_txn *, const unsigned char *sha,
	    const char *tree, struct cat_where *, struct pd_error *)
	    PD_WARN_UNUSED;
/* Whether sha is held: in the object store, or indexed. */
bool	cat_content_has(struct cat_txn *, const unsigned char *sha);
/* The same, thread-safe outside any transaction (cat_object_known). */
bool	cat_content_known(struct cat *, const unsigned char *sha);

#define CAT_VERIFY	0x1	/* hash a published file before using it */

/*
 * Open content sha for reading, at offset 0, and its size: the object
 * store's file if it has one, else a published file the index names,
 * opened beneath its version's directory without following any
 * symbolic link, and used only if it is a regular file of the size the
 * manifest gave (with CAT_VERIFY, and of the SHA-256 too: for whoever
 * keeps what it makes of it).  *fd is the caller's.  PD_ERR_NOTFOUND
 * when no intact copy is held (the text names a damaged file, if that
 * is why), PD_ERR_IO, PD_ERR_NOMEM.  Thread-safe; it blocks on disk.
 */
enum pd_err cat_content_open(struct cat *, const unsigned char *sha,
	    unsigned flags, int *fd, uint64_t *size, struct pd_error *)
	    PD_WARN_UNUSED;

/* Stat cache of a tree's source, keyed by path. */
bool	cat_stat_get(struct cat_txn *, uint32_t tree_id, const char *path,
	    size_t len, struct cat_stat *);
enum pd_err cat_stat_put(struct cat_txn *, uint32_t tree_id,
	    const char *path, size_t len, const struct cat_stat *,
	    struct pd_error *) PD_WARN_UNUSED;
/* Forget every stat cache entry of a tree. */
enum pd_err cat_stat_clear(struct cat_txn *, uint32_t tree_id,
	    struct pd_error *) PD_WARN_UNUSED;

#endif
