/*
 * Shared between the files of catalog/ only.
 */
#ifndef CAT_INTERNAL_H
#define CAT_INTERNAL_H

#include <lmdb.h>

#include "catalog.h"

struct cat {
	char		*dir;		/* the data directory */
	MDB_env		*env;
	MDB_dbi		 meta;		/* "schema", "next-tree-id" */
	MDB_dbi		 trees;		/* name -> tree record */
	MDB_dbi		 versions;	/* name NUL be64(n) -> version record */
	MDB_dbi		 manifests;	/* id -> signed manifest bytes */
	MDB_dbi		 objects;	/* sha256 -> object record */
	MDB_dbi		 statcache;	/* be32(tree) xxh128(path) -> stat */
	MDB_dbi		 deltas;	/* from to -> delta record */
	MDB_dbi		 zobjs;		/* sha256 -> compressed object */
	bool		 has_derived;	/* deltas and zobjs exist (schema 2) */
	int		 objfd;		/* DATA/objects */
	int		 lockfd;	/* DATA/locks */
	bool		 rdonly;
};

struct cat_txn {
	struct cat	*cat;
	MDB_txn		*txn;
	bool		 write;
};

/* Fail with an LMDB error code, naming what was being done. */
enum pd_err cat_dberr(struct cat *, int rc, struct pd_error *,
	    const char *what);

#endif
