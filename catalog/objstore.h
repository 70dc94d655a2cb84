/*
 * The object store: file content on disk, addressed by SHA-256, under
 * DATA/objects/ab/cdef... (first byte of the hash as a directory).
 *
 * An object is written to DATA/objects/tmp, then renamed to its name.
 * A name that exists and is in the catalog's object index is durable and
 * is kept; one that is not indexed may be a torn leftover of a crash and
 * is replaced.  Renamed objects become durable with cat_obj_sync(), which
 * must run before the catalog transaction that indexes them commits.
 *
 * Writers (struct cat_objw) are independent: several threads may each
 * write their own.
 */
#ifndef CAT_OBJSTORE_H
#define CAT_OBJSTORE_H

#include <stdint.h>

#include "catalog.h"

/* "ab/cdef...": the object's path relative to DATA/objects. */
#define CAT_OBJ_PATH_LEN	(2 * PD_SHA256_LEN + 2)
void	cat_obj_path(const unsigned char *sha, char out[CAT_OBJ_PATH_LEN]);

struct cat_objw;

/* Start writing a new object. */
enum pd_err cat_objw_new(struct cat *, struct cat_objw **, struct pd_error *)
	    PD_WARN_UNUSED;
enum pd_err cat_objw_write(struct cat_objw *, const void *, size_t,
	    struct pd_error *) PD_WARN_UNUSED;
/*
 * Give the written bytes their name.  sha must be their SHA-256 (the
 * caller hashed them while writing).  The writer is freed.
 */
enum pd_err cat_objw_finish(struct cat_objw *, const unsigned char *sha,
	    struct pd_error *) PD_WARN_UNUSED;
/* Throw the bytes away and free the writer; NULL is a no-op. */
void	cat_objw_abort(struct cat_objw *);

/* Open an object for reading; PD_ERR_NOTFOUND if absent. */
enum pd_err cat_obj_open(struct cat *, const unsigned char *sha, int *fd,
	    struct pd_error *) PD_WARN_UNUSED;

/* Make every object renamed so far durable (one syncfs). */
enum pd_err cat_obj_sync(struct cat *, struct pd_error *) PD_WARN_UNUSED;

/* Create the store's directories (cat_open).  The first writer of a
 * process drops the temp files of dead ones. */
enum pd_err cat_obj_init(struct cat *, struct pd_error *) PD_WARN_UNUSED;

#endif
