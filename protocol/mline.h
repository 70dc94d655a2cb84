/*
 * Internal to protocol/: reading the lines of untrusted manifest text
 * (spec/MANIFEST.md), shared by the manifest parser (mparse.c) and the
 * manifest patch parser (mpatch.c), so that both accept exactly the same
 * spellings and give the same error texts.
 *
 * Errors read "WHAT line N: reason", WHAT being the cursor's name for
 * the input ("manifest", "manifest patch").  Nothing here allocates.
 */
#ifndef PR_MLINE_H
#define PR_MLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

#define PR_MLINE_FIELDS	8	/* most fields a manifest line has */

/* Where a reader is in its input. */
struct pr_mcursor {
	const char	*p;		/* next unread byte */
	const char	*end;		/* one past the last byte */
	size_t		 lineno;	/* line last read, from 1 */
	const char	*what;		/* "manifest", for messages */
	struct pd_error	*err;		/* first failure, may be NULL */
};

/* A line without its newline, split into fields at single spaces. */
struct pr_mline {
	const char	*s;
	size_t		 n;
	const char	*f[PR_MLINE_FIELDS];
	size_t		 fl[PR_MLINE_FIELDS];
	size_t		 nf;
};

/* Fail with PD_ERR_PARSE: "WHAT line N: why".  Returns PD_ERR_PARSE. */
enum pd_err pr_mline_bad(struct pr_mcursor *, const char *why);

/*
 * Take the next line (up to its LF, which must be there) without
 * splitting it: *s and *n get its bytes.  Fails at the end of the input,
 * without a final newline, or on a line over PR_LINE_MAX bytes.
 */
enum pd_err pr_mline_read(struct pr_mcursor *, const char **s, size_t *n)
	    PD_WARN_UNUSED;
/* Split n bytes at single spaces into l; no empty field, at most 8. */
enum pd_err pr_mline_split(struct pr_mcursor *, const char *s, size_t n,
	    struct pr_mline *l) PD_WARN_UNUSED;
/* pr_mline_read, then pr_mline_split. */
enum pd_err pr_mline_next(struct pr_mcursor *, struct pr_mline *)
	    PD_WARN_UNUSED;
/* Field i of l is exactly word. */
bool	pr_mline_field_is(const struct pr_mline *, size_t i, const char *word);
/* Read a "KEY VALUE..." line with exactly nvals values. */
enum pd_err pr_mline_keyword(struct pr_mcursor *, const char *key,
	    size_t nvals, struct pr_mline *) PD_WARN_UNUSED;

/*
 * The canonical spellings of spec/MANIFEST.md; each is true only for
 * exactly one spelling of each value and leaves *out alone otherwise.
 */
bool	pr_mline_u64(const char *, size_t, uint64_t *out);
bool	pr_mline_i64(const char *, size_t, int64_t *out);
bool	pr_mline_mode(const char *, size_t, uint32_t *out);
bool	pr_mline_time(const char *, size_t, struct pr_time *out);
bool	pr_mline_hex(const char *, size_t, unsigned char *out, size_t len);

/*
 * Read the nine header lines (magic through "entries") into m; *count
 * gets the entry count, checked against PR_ENTRIES_MAX.
 */
enum pd_err pr_mline_header(struct pr_mcursor *, struct pr_manifest *m,
	    uint64_t *count) PD_WARN_UNUSED;

/*
 * Fill e from the fields of an entry line l (type first).  The decoded
 * path goes to pbuf and a link target to tbuf, each PR_LINE_MAX bytes,
 * and e points into them: copy e (pr_manifest_add) before the next call.
 */
enum pd_err pr_mline_entry(struct pr_mcursor *, const struct pr_mline *l,
	    struct pr_entry *e, char *pbuf, char *tbuf) PD_WARN_UNUSED;

#endif
