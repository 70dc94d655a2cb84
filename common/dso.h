/*
 * A shared library opened with dlopen, its functions looked up by name
 * into a caller's table of function pointers.
 *
 * pulpdist links only what every command needs; libraries that only
 * transfers (libcurl) or deltas (librsync) use are opened the first time
 * they are, so a start does not pay ld.so for them (node/curlso.c,
 * delta/rs.c).
 */
#ifndef PD_DSO_H
#define PD_DSO_H

#include <stddef.h>

#include "err.h"

/* One function: its symbol, and where its pointer goes in the table. */
struct pd_dso_sym {
	const char	*name;
	size_t		 off;		/* offsetof in the table */
};

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

#endif
