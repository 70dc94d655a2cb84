/*
 * SHA-256 through OpenSSL's EVP interface (which uses the CPU's SHA
 * instructions when it has them).  A context belongs to one thread at a
 * time; reuse it with pd_sha256_init to avoid an allocation per file.
 */
#ifndef PD_SHA256_H
#define PD_SHA256_H

#include <stddef.h>

#include "err.h"

#define PD_SHA256_LEN	32
#define PD_SHA256_HEX	(2 * PD_SHA256_LEN + 1)

struct pd_sha256;

/* NULL when OpenSSL cannot allocate or has no SHA-256. */
struct pd_sha256 *pd_sha256_new(void);
void	pd_sha256_free(struct pd_sha256 *);
enum pd_err pd_sha256_init(struct pd_sha256 *) PD_WARN_UNUSED;
enum pd_err pd_sha256_update(struct pd_sha256 *, const void *, size_t)
	    PD_WARN_UNUSED;
enum pd_err pd_sha256_final(struct pd_sha256 *, unsigned char *)
	    PD_WARN_UNUSED;
/* One-shot hash of a buffer. */
enum pd_err pd_sha256(const void *, size_t, unsigned char *) PD_WARN_UNUSED;

#endif
