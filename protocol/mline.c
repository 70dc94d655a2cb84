/*
 * Lines, fields and canonical values of manifest text (spec/MANIFEST.md),
 * for the manifest parser and the manifest patch parser (mline.h).
 *
 * Strict by design: one spelling per value (no leading zeros, lowercase
 * hex, canonical escapes), fields separated by single spaces, every
 * length capped before use.
 */
#include <stdio.h>
#include <string.h>

#include "../common/hex.h"
#include "mline.h"
#include "pathenc.h"

enum pd_err
pr_mline_bad(struct pr_mcursor *c, const char *why)
{
	return pd_fail(c->err, PD_ERR_PARSE, "%s line %zu: %s", c->what,
	    c->lineno, why);
}

enum pd_err
pr_mline_read(struct pr_mcursor *c, const char **s, size_t *n)
{
	const char *nl;
	char why[64];

	c->lineno++;
	if (c->p >= c->end) {
		snprintf(why, sizeof(why), "unexpected end of %s", c->what);
		return pr_mline_bad(c, why);
	}
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	if (nl == NULL)
		return pr_mline_bad(c, "missing newline at end");
	*s = c->p;
	*n = (size_t)(nl - c->p);
	c->p = nl + 1;
	if (*n > PR_LINE_MAX)
		return pr_mline_bad(c, "line too long");
	return PD_OK;
}

enum pd_err
pr_mline_split(struct pr_mcursor *c, const char *s, size_t n,
    struct pr_mline *l)
{
	const char *f;
	size_t i;

	l->s = s;
	l->n = n;
	l->nf = 0;
	f = s;
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (l->nf == PR_MLINE_FIELDS)
			return pr_mline_bad(c, "too many fields");
		if (s + i == f)
			return pr_mline_bad(c, "empty field");
		l->f[l->nf] = f;
		l->fl[l->nf] = (size_t)(s + i - f);
		l->nf++;
		f = s + i + 1;
	}
	return PD_OK;
}

enum pd_err
pr_mline_next(struct pr_mcursor *c, struct pr_mline *l)
{
	const char *s;
	size_t n;
	enum pd_err rc;

	if ((rc = pr_mline_read(c, &s, &n)) != PD_OK)
		return rc;
	return pr_mline_split(c, s, n, l);
}

bool
pr_mline_field_is(const struct pr_mline *l, size_t i, const char *word)
{
	return i < l->nf && l->fl[i] == strlen(word) &&
	    memcmp(l->f[i], word, l->fl[i]) == 0;
}

/* Canonical unsigned decimal: digits, no leading zero but "0". */
bool
pr_mline_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

bool
pr_mline_i64(const char *s, size_t n, int64_t *out)
{
	uint64_t v;

	if (n > 0 && s[0] == '-') {
		if (!pr_mline_u64(s + 1, n - 1, &v) || v == 0 ||
		    v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
		return true;
	}
	if (!pr_mline_u64(s, n, &v) || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

bool
pr_mline_mode(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (n != 4)
		return false;
	for (i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
		v = v << 3 | (uint32_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

bool
pr_mline_time(const char *s, size_t n, struct pr_time *t)
{
	const char *dot = memchr(s, '.', n);
	struct pr_time v;
	uint64_t ns;
	int64_t sec;
	size_t sl;

	if (dot == NULL)
		return false;
	sl = (size_t)(dot - s);
	if (n - sl - 1 != 9 || !pr_mline_i64(s, sl, &sec))
		return false;
	v.sec = sec;
	/* Nanoseconds are always nine digits, leading zeros included. */
	for (ns = 0, s = dot + 1; s < dot + 10; s++) {
		if (*s < '0' || *s > '9')
			return false;
		ns = ns * 10 + (uint64_t)(*s - '0');
	}
	v.nsec = (uint32_t)ns;
	*t = v;
	return true;
}

bool
pr_mline_hex(const char *s, size_t n, unsigned char *out, size_t len)
{
	return n == 2 * len && pd_hex_decode(s, len, out);
}

enum pd_err
pr_mline_keyword(struct pr_mcursor *c, const char *key, size_t nvals,
    struct pr_mline *l)
{
	enum pd_err rc;
	char why[64];

	if ((rc = pr_mline_next(c, l)) != PD_OK)
		return rc;
	if (!pr_mline_field_is(l, 0, key)) {
		snprintf(why, sizeof(why), "expected \"%s\" line", key);
		return pr_mline_bad(c, why);
	}
	if (l->nf != 1 + nvals) {
		snprintf(why, sizeof(why), "\"%s\" line needs %zu field%s",
		    key, nvals, nvals == 1 ? "" : "s");
		return pr_mline_bad(c, why);
	}
	return PD_OK;
}

enum pd_err
pr_mline_header(struct pr_mcursor *c, struct pr_manifest *m, uint64_t *count)
{
	struct pr_mline l;
	uint64_t v;
	enum pd_err rc;

	if ((rc = pr_mline_next(c, &l)) != PD_OK)
		return rc;
	if (l.n != strlen(PR_MANIFEST_MAGIC) ||
	    memcmp(l.s, PR_MANIFEST_MAGIC, l.n) != 0)
		return pr_mline_bad(c, "not a pulpdist manifest (version 1)");

	if ((rc = pr_mline_keyword(c, "tree", 1, &l)) != PD_OK)
		return rc;
	if (l.fl[1] > PR_TREE_NAME_MAX)
		return pr_mline_bad(c, "tree name too long");
	memcpy(m->tree, l.f[1], l.fl[1]);
	m->tree[l.fl[1]] = '\0';
	if (pr_tree_name_check(m->tree) != NULL)
		return pr_mline_bad(c, pr_tree_name_check(m->tree));

	if ((rc = pr_mline_keyword(c, "version", 1, &l)) != PD_OK)
		return rc;
	if (!pr_mline_u64(l.f[1], l.fl[1], &m->version))
		return pr_mline_bad(c, "bad version number");

	if ((rc = pr_mline_keyword(c, "parent", 1, &l)) != PD_OK)
		return rc;
	m->has_parent = !pr_mline_field_is(&l, 1, "-");
	if (m->has_parent && !pr_mline_hex(l.f[1], l.fl[1], m->parent,
	    sizeof(m->parent)))
		return pr_mline_bad(c, "bad parent manifest id");

	if ((rc = pr_mline_keyword(c, "created", 1, &l)) != PD_OK)
		return rc;
	if (!pr_mline_i64(l.f[1], l.fl[1], &m->created))
		return pr_mline_bad(c, "bad creation time");

	if ((rc = pr_mline_keyword(c, "expires", 1, &l)) != PD_OK)
		return rc;
	if (pr_mline_field_is(&l, 1, "never"))
		m->expires = 0;
	else if (!pr_mline_i64(l.f[1], l.fl[1], &m->expires) ||
	    m->expires == 0)
		return pr_mline_bad(c, "bad expiry time");

	if ((rc = pr_mline_keyword(c, "key", 1, &l)) != PD_OK)
		return rc;
	if (!pr_mline_hex(l.f[1], l.fl[1], m->keyid, sizeof(m->keyid)))
		return pr_mline_bad(c, "bad key id");

	if ((rc = pr_mline_keyword(c, "root", 2, &l)) != PD_OK)
		return rc;
	if (!pr_mline_mode(l.f[1], l.fl[1], &m->root_mode) ||
	    !pr_mline_time(l.f[2], l.fl[2], &m->root_mtime))
		return pr_mline_bad(c, "bad root directory fields");

	if ((rc = pr_mline_keyword(c, "entries", 1, &l)) != PD_OK)
		return rc;
	if (!pr_mline_u64(l.f[1], l.fl[1], &v))
		return pr_mline_bad(c, "bad entry count");
	if (v > PR_ENTRIES_MAX)
		return pd_fail(c->err, PD_ERR_LIMIT,
		    "%s line %zu: %llu entries, more than %llu", c->what,
		    c->lineno, (unsigned long long)v, PR_ENTRIES_MAX);
	*count = v;
	return PD_OK;
}

/* Decode an escaped field into scratch; scratch holds PR_LINE_MAX. */
static enum pd_err
decode(struct pr_mcursor *c, const char *s, size_t n, size_t max,
    char *scratch, uint16_t *outlen, const char *what)
{
	size_t len;
	char why[64];

	if (!pr_unescape(s, n, scratch, &len)) {
		snprintf(why, sizeof(why), "%s not canonically escaped", what);
		return pr_mline_bad(c, why);
	}
	if (len > max)
		return pd_fail(c->err, PD_ERR_LIMIT, "%s line %zu: %s too long",
		    c->what, c->lineno, what);
	/* max is at most PR_PATH_MAX or PR_TARGET_MAX (manifest.h). */
	*outlen = (uint16_t)len;
	return PD_OK;
}

enum pd_err
pr_mline_entry(struct pr_mcursor *c, const struct pr_mline *l,
    struct pr_entry *e, char *pbuf, char *tbuf)
{
	uint64_t link;
	uint32_t mode;
	enum pd_err rc;

	memset(e, 0, sizeof(*e));
	if (l->fl[0] != 1)
		return pr_mline_bad(c, "unknown entry type");
	e->type = (uint8_t)l->f[0][0];
	switch (e->type) {
	case PR_DIR:
		if (l->nf != 4)
			return pr_mline_bad(c,
			    "directory entry needs 4 fields");
		if (!pr_mline_mode(l->f[1], l->fl[1], &mode))
			return pr_mline_bad(c, "bad mode");
		e->mode = (uint16_t)mode;	/* four octal digits */
		if (!pr_mline_time(l->f[2], l->fl[2], &e->mtime))
			return pr_mline_bad(c, "bad mtime");
		rc = decode(c, l->f[3], l->fl[3], PR_PATH_MAX, pbuf,
		    &e->path_len, "path");
		break;
	case PR_FILE:
		if (l->nf != 7)
			return pr_mline_bad(c, "file entry needs 7 fields");
		if (!pr_mline_mode(l->f[1], l->fl[1], &mode))
			return pr_mline_bad(c, "bad mode");
		e->mode = (uint16_t)mode;	/* four octal digits */
		if (!pr_mline_time(l->f[2], l->fl[2], &e->mtime))
			return pr_mline_bad(c, "bad mtime");
		if (!pr_mline_u64(l->f[3], l->fl[3], &e->size))
			return pr_mline_bad(c, "bad size");
		if (!pr_mline_hex(l->f[4], l->fl[4], e->sha, sizeof(e->sha)))
			return pr_mline_bad(c, "bad SHA-256");
		if (pr_mline_field_is(l, 5, "-"))
			e->link = 0;
		else if (!pr_mline_u64(l->f[5], l->fl[5], &link) ||
		    link == 0 || link > PR_ENTRIES_MAX)
			return pr_mline_bad(c, "bad hardlink group");
		else
			e->link = (uint32_t)link;
		rc = decode(c, l->f[6], l->fl[6], PR_PATH_MAX, pbuf,
		    &e->path_len, "path");
		break;
	case PR_LINK:
		if (l->nf != 4)
			return pr_mline_bad(c, "link entry needs 4 fields");
		if (!pr_mline_time(l->f[1], l->fl[1], &e->mtime))
			return pr_mline_bad(c, "bad mtime");
		e->mode = 0777;
		if ((rc = decode(c, l->f[2], l->fl[2], PR_PATH_MAX, pbuf,
		    &e->path_len, "path")) != PD_OK)
			return rc;
		rc = decode(c, l->f[3], l->fl[3], PR_TARGET_MAX, tbuf,
		    &e->target_len, "link target");
		e->target = tbuf;
		break;
	default:
		return pr_mline_bad(c, "unknown entry type");
	}
	if (rc != PD_OK)
		return rc;
	e->path = pbuf;
	return PD_OK;
}
