/*
 * Read, hash and (optionally) store a file in one streaming pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "hashfile.h"

enum pd_err
nd_hash_fd(int fd, struct pd_sha256 *h, unsigned char *buf,
    struct cat_objw *w, uint64_t *nread, unsigned char *sha, const char *what,
    struct pd_error *err)
{
	enum pd_err rc;
	ssize_t r;

	*nread = 0;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (pd_sha256_init(h) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "%s: hashing", what);
	for (;;) {
		if ((r = pd_read_full(fd, buf, ND_HASH_BUF)) < 0)
			return pd_fail_errno(err, PD_ERR_IO, errno, "%s", what);
		if (r == 0)
			break;
		if (pd_sha256_update(h, buf, (size_t)r) != PD_OK)
			return pd_fail(err, PD_ERR_CRYPTO, "%s: hashing", what);
		if (w != NULL &&
		    (rc = cat_objw_write(w, buf, (size_t)r, err)) != PD_OK)
			return rc;
		*nread += (uint64_t)r;
		if ((size_t)r < ND_HASH_BUF)
			break;
	}
	if (pd_sha256_final(h, sha) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "%s: hashing", what);
	return PD_OK;
}
