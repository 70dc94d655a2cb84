/*
 * Naming derived files in the background (nd_derived, serve.h).
 *
 * A derived file (a compressed batch response, a pack part, a
 * compressed manifest) gets its name only once its bytes are on the
 * disk, so that a crash never leaves a short file under a name that
 * says "whole".  That takes an fsync, and on a disk busy with other
 * writes an fsync takes tens of milliseconds: a receiver asking for the
 * first time for the parts of a version waited for one per 4 MiB part,
 * three times as long as the parts took to make.  The reply does not
 * need the name: it is served from the open file at once, and the
 * namer makes the file durable and names it afterwards, on a thread of
 * its own.  Until it has, a second request for the same file makes it
 * again, as two racing makers always could; the bytes are the same.
 */
#ifndef ND_NAMER_H
#define ND_NAMER_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/err.h"

/* Files waiting at most, each an open descriptor. */
#define ND_NAMER_MAX	128

struct nd_namer;

struct nd_namer_stats {
	uint64_t	named;		/* named, or another's file won */
	uint64_t	failed;		/* fsync or link failed: not kept */
	uint64_t	refused;	/* queue full: named by the caller */
};

enum pd_err nd_namer_new(struct nd_namer **, struct pd_error *)
	    PD_WARN_UNUSED;
/* Names what is waiting, then stops its thread. */
void	nd_namer_free(struct nd_namer *);

/*
 * Make fd's file durable, then name it path: fd is an unnamed file
 * (O_TMPFILE) when tmp is NULL, else the file named tmp, renamed.  The
 * namer keeps a duplicate of fd; the caller keeps fd.  false when the
 * namer cannot take it (queue full, no memory): the caller names it.
 */
bool	nd_namer_add(struct nd_namer *, int fd, const char *tmp,
	    const char *path);
/* Until everything given before the call is named (or failed). */
void	nd_namer_wait(struct nd_namer *);
void	nd_namer_stats(struct nd_namer *, struct nd_namer_stats *);

/*
 * What the namer does with each file, for a caller that names its own:
 * fsync fd, then name it path as nd_namer_add says.  false, and no
 * name, if either step failed (the file is then only served).
 */
bool	nd_name_durable(int fd, const char *tmp, const char *path);

#endif
