/*
 * One small GET with libevent's HTTP client, which every pulpdist
 * process has loaded already (curlso.h says why libcurl is not).
 *
 * It serves fetch.c's lone GETs of small bodies from a plain http://
 * upstream, the head a pull asks first above all: a pull that finds
 * its mirror current then never loads libcurl.  It is a fast path, not
 * a second client: one try, no retries, no TLS, no content coding.
 * Whatever is not a whole 200 answer is for the caller to ask again
 * through libcurl, which has the retries, the backoff and the errors
 * (fetch.h).
 */
#ifndef ND_HGET_H
#define ND_HGET_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

/* The longest the one try may take, connecting included. */
#define ND_HGET_TIMEOUT	10	/* seconds */

struct nd_hget_count {
	uint64_t	sent;		/* request line and headers */
	uint64_t	received;	/* status line, headers, body */
	long		status;		/* the answer's; 0: none came */
	char		retry_after[16];	/* its Retry-After, or "" */
};

/*
 * GET base+path, base being "http://HOST[:PORT]"; on a 200 answer
 * whose body is at most cap bytes and not content-coded, the body is
 * appended to out and PD_OK returned.  Anything else returns an error
 * and leaves out as it was (PD_ERR_USAGE: not a plain http:// base).
 * count gets the bytes of the exchange either way, as HTTP/1.1 writes
 * them (a chunked body's framing is not counted), and the status and
 * Retry-After of an answer.
 */
enum pd_err nd_hget(const char *base, const char *path, size_t cap,
	    struct pd_buf *out, struct nd_hget_count *count,
	    struct pd_error *) PD_WARN_UNUSED;

#endif
