/*
 * One error type for all of pulpdist.
 *
 * Every fallible function returns an enum pd_err (PD_OK is 0) and, when
 * given one, fills a struct pd_error with a sentence naming the thing that
 * failed (path, tree, version, peer).  The first failure wins: later calls
 * on the same struct do not overwrite it, so the text a user sees is the
 * root cause, not the last layer that noticed it (as curl's failf does).
 *
 * Library code never prints; the caller decides where the text goes.
 */
#ifndef PD_ERR_H
#define PD_ERR_H

#include <stddef.h>

#define PD_WARN_UNUSED __attribute__((warn_unused_result))
#define PD_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum pd_err {
	PD_OK = 0,
	PD_ERR_NOMEM,		/* an allocation failed */
	PD_ERR_IO,		/* a system call failed */
	PD_ERR_USAGE,		/* bad arguments from the local user */
	PD_ERR_PARSE,		/* malformed input */
	PD_ERR_LIMIT,		/* a size or count cap was exceeded */
	PD_ERR_NOTFOUND,	/* no such tree, version, object, file */
	PD_ERR_EXISTS,		/* refusing to overwrite */
	PD_ERR_SIGNATURE,	/* signature missing, wrong or untrusted */
	PD_ERR_CORRUPT,		/* stored bytes do not match their hash */
	PD_ERR_DB,		/* the LMDB catalog failed */
	PD_ERR_CHANGED,		/* a source file kept changing while read */
	PD_ERR_CRYPTO,		/* OpenSSL failed */
	PD_ERR_CONFLICT,	/* someone else changed the same tree */
	PD_ERR_UNSAFE,		/* a path would leave its tree */
};

#define PD_ERRMSG_MAX 1024

struct pd_error {
	enum pd_err	 code;			/* PD_OK until set */
	char		 msg[PD_ERRMSG_MAX];	/* the first failure */
};

/* Short name of an error code, e.g. "parse error".  Never NULL. */
const char	*pd_strerror(enum pd_err);

/*
 * Record a failure in err (if err is not NULL and holds none yet) and
 * return code, so that callers can write "return pd_fail(err, ...)".
 */
enum pd_err	 pd_fail(struct pd_error *err, enum pd_err code,
		    const char *fmt, ...) PD_PRINTF(3, 4);

/* Like pd_fail, appending ": " and strerror(errnum). */
enum pd_err	 pd_fail_errno(struct pd_error *err, enum pd_err code,
		    int errnum, const char *fmt, ...) PD_PRINTF(4, 5);

/*
 * Put "context: " in front of the failure already recorded in err, for a
 * caller that knows what the callee did not (which tree, which peer).
 * Returns err->code (PD_OK and no change if nothing was recorded).
 */
enum pd_err	 pd_prefix(struct pd_error *err, const char *fmt, ...)
		    PD_PRINTF(2, 3);

/* Reset err to "no error". */
void		 pd_error_clear(struct pd_error *err);

#endif
