/*
 * Streaming hash of an open file, optionally copying it into the object
 * store in the same pass, so that the bytes stored are exactly the bytes
 * hashed.  Memory is the caller's buffer, whatever the file size.
 */
#ifndef ND_HASHFILE_H
#define ND_HASHFILE_H

#include <stdint.h>

#include "../catalog/objstore.h"
#include "../common/sha256.h"

#define ND_HASH_BUF	(256 * 1024)	/* read size per call */

/*
 * Read fd from its current offset to the end into h (re-initialised),
 * writing every byte to w as well when w is not NULL.  *nread gets the
 * byte count, sha the digest.  what names the file in errors.
 */
enum pd_err nd_hash_fd(int fd, struct pd_sha256 *h, unsigned char *buf,
	    struct cat_objw *w, uint64_t *nread, unsigned char *sha,
	    const char *what, struct pd_error *) PD_WARN_UNUSED;

#endif
