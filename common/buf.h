/*
 * A growable byte buffer with a hard cap, for encoders and for bodies read
 * from files or peers.  The cap is set at init and every append past it
 * fails with PD_ERR_LIMIT, so no input can make a buffer grow without
 * bound.  The buffer owns its memory until pd_buf_take() hands it over.
 */
#ifndef PD_BUF_H
#define PD_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct pd_buf {
	unsigned char	*data;	/* NUL-terminated past len when not NULL */
	size_t		 len;	/* bytes used */
	size_t		 size;	/* bytes allocated */
	size_t		 cap;	/* most bytes len may ever reach */
};

void	pd_buf_init(struct pd_buf *, size_t cap);
void	pd_buf_free(struct pd_buf *);
void	pd_buf_reset(struct pd_buf *);	/* len = 0, memory kept */
enum pd_err pd_buf_add(struct pd_buf *, const void *, size_t) PD_WARN_UNUSED;
enum pd_err pd_buf_addc(struct pd_buf *, unsigned char) PD_WARN_UNUSED;
enum pd_err pd_buf_adds(struct pd_buf *, const char *) PD_WARN_UNUSED;
enum pd_err pd_buf_printf(struct pd_buf *, const char *, ...)
	    PD_PRINTF(2, 3) PD_WARN_UNUSED;
/* Make room for n more bytes without changing len. */
enum pd_err pd_buf_reserve(struct pd_buf *, size_t n) PD_WARN_UNUSED;
/* Hand the memory to the caller (free with pd_free); buffer becomes empty. */
unsigned char *pd_buf_take(struct pd_buf *, size_t *lenp);

#endif
