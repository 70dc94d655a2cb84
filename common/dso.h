/*
 * A shared library opened with dlopen, its functions looked up by name
 * into a caller's table of function pointers.
 *
 * pulpdist links only what every command needs; libraries that only
 * transfers (libcurl), deltas (librsync), hashes and signatures
 * (libcrypto) or an HTTPS server (libssl) use are opened the first time
 * they are, so a start does not pay ld.so for them (node/curlso.c,
 * delta/rs.c, common/crypto.c, node/sslso.c).
 */
#ifndef PD_DSO_H
#define PD_DSO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* One function: its symbol, and where its pointer goes in the table. */
struct pd_dso_sym {
	const char	*name;
	size_t		 off;		/* offsetof in the table */
};

/*
 * The entry of function fn, whose pointer goes in field of table (an
 * object of type T).  The assignment, an operand of sizeof and never
 * evaluated, has the compiler check fn's prototype against the field's
 * type without referring to fn at link time.
 */
#define PD_DSO_SYM(T, table, field, fn) \
	{ #fn, offsetof(T, field) + 0 * sizeof((table).field = (fn)) }

/* A library and what of it is looked up. */
struct pd_dso {
	const char		*name;		/* "libcurl" */
	const char		*soname;	/* "libcurl.so.4" */
	const char		*pkg;		/* Debian's package */
	const char		*need;		/* "libcurl 7.66 or later" */
	const struct pd_dso_sym	*syms;
	size_t			 nsyms;
};

/*
 * Open the library and fill table from its syms.  Errors (PD_ERR_IO)
 * name the library and its package, or the missing symbol and what is
 * needed.  The library stays open for the life of the process: the
 * table points into it.
 */
enum pd_err pd_dso_load(const struct pd_dso *, void *table,
	    struct pd_error *) PD_WARN_UNUSED;

/* A library's table, filled once per process (pd_dso_once). */
struct pd_dso_once {
	pthread_mutex_t	 mu;
	bool		 tried;
	struct pd_error	 err;		/* PD_OK: the table is whole */
};
#define PD_DSO_ONCE_INIT	{ PTHREAD_MUTEX_INITIALIZER, false, { 0 } }

/*
 * pd_dso_load into table, then init(table) when init is not NULL, the
 * first time in the process, whichever thread asks; the same answer
 * every time after, table or error, without trying again.  init's
 * failure is the load's.
 */
enum pd_err pd_dso_once(struct pd_dso_once *, const struct pd_dso *,
	    void *table, enum pd_err (*init)(void *table, struct pd_error *),
	    struct pd_error *) PD_WARN_UNUSED;

#endif
