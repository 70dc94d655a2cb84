/*
 * Manifest patches (mpatch.h; spec/MANIFEST.md, "Manifest patches").
 *
 * DESIGN
 *
 * Making is a merge walk of the two sorted entry lists.  An entry equal
 * in both is a copy, one that differs only in its mtime a touch, one only
 * in the old list a drop, one only in the new list or changed in any
 * other way (hardlink group number included) an insert, after a drop of
 * the old entry.  Ops are written lazily so that neighbours merge: a run
 * of copies is one "=" line, a run of touches to the same mtime one "t"
 * line, and the drops and inserts between two runs one "-" line followed
 * by the "+" lines.  Inserted entries are written as the new manifest's
 * own encoding writes them: its body is encoded once (which also checks
 * that it still hashes to its id) and the lines are copied from it.
 *
 * Applying reads the patch with the manifest parser's line reader
 * (mline.c), so a "+" line accepts exactly what a manifest entry line
 * accepts, and builds the new manifest entry by entry while it checks
 * every count against the old entries left and the header's count and
 * the order of each op's first entry against the entry before it.  Then
 * the result is encoded, which runs every rule of pr_manifest_check(),
 * and its body must hash to the patch's "to" id.  A valid patch can make
 * only the one manifest its "to" names; the signature, copied from the
 * patch, is the caller's to verify.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/hex.h"
#include "../common/mem.h"
#include "mline.h"
#include "mpatch.h"
#include "pathenc.h"

#define HEADER_LINES	9	/* "pulpdist-manifest 1" to "entries N" */
#define SIG_LINE_LEN	(sizeof("signature ") - 1 + 2 * PR_SIG_LEN + 1)

/*
 * Making.
 */

/* Ops not written yet: a run ("=" or "t"), or drops and inserts. */
struct writer {
	struct pd_buf	*out;
	char		 run;		/* '=', 't', or 0 for none */
	size_t		 nrun;		/* entries in the run */
	struct pr_time	 mtime;		/* the new mtime of a 't' run */
	size_t		 ndrop;		/* old entries to drop */
	const char	*ins;		/* first encoded entry line to insert */
	const char	*ins_end;	/* one past the last line's LF */
};

/* Write the pending ops; at most one of run and edit is pending. */
static enum pd_err
flush(struct writer *w)
{
	const char *p, *nl;
	enum pd_err rc = PD_OK;

	if (w->run == '=')
		rc = pd_buf_printf(w->out, "= %zu\n", w->nrun);
	else if (w->run == 't')
		rc = pd_buf_printf(w->out, "t %zu %" PRId64 ".%09" PRIu32 "\n",
		    w->nrun, w->mtime.sec, w->mtime.nsec);
	w->run = 0;
	w->nrun = 0;
	if (rc == PD_OK && w->ndrop > 0)
		rc = pd_buf_printf(w->out, "- %zu\n", w->ndrop);
	w->ndrop = 0;
	for (p = w->ins; rc == PD_OK && p != NULL && p < w->ins_end;
	    p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(w->ins_end - p));
		if ((rc = pd_buf_add(w->out, "+ ", 2)) == PD_OK)
			rc = pd_buf_add(w->out, p, (size_t)(nl + 1 - p));
	}
	w->ins = w->ins_end = NULL;
	return rc;
}

/* One more entry in a run of copies (mtime NULL) or touches. */
static enum pd_err
put_run(struct writer *w, const struct pr_time *mtime)
{
	char kind = mtime == NULL ? '=' : 't';
	enum pd_err rc;

	if (w->run != kind || (mtime != NULL &&
	    (mtime->sec != w->mtime.sec || mtime->nsec != w->mtime.nsec))) {
		if ((rc = flush(w)) != PD_OK)
			return rc;
		w->run = kind;
		if (mtime != NULL)
			w->mtime = *mtime;
	}
	w->nrun++;
	return PD_OK;
}

/* Drop one old entry, or (line != NULL) insert the entry line..end. */
static enum pd_err
put_edit(struct writer *w, const char *line, const char *end)
{
	enum pd_err rc;

	if (w->run != 0 && (rc = flush(w)) != PD_OK)
		return rc;
	if (line == NULL)
		w->ndrop++;
	else {
		if (w->ins == NULL)
			w->ins = line;
		w->ins_end = end;
	}
	return PD_OK;
}

/* 0 if a and b differ in what is encoded, 1 if equal, 2 but for mtime. */
static int
same(const struct pr_entry *a, const struct pr_entry *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case PR_DIR:
		if (a->mode != b->mode)
			return 0;
		break;
	case PR_FILE:
		if (a->mode != b->mode || a->size != b->size ||
		    a->link != b->link ||
		    memcmp(a->sha, b->sha, sizeof(a->sha)) != 0)
			return 0;
		break;
	case PR_LINK:
		if (a->target_len != b->target_len ||
		    memcmp(a->target, b->target, a->target_len) != 0)
			return 0;
		break;
	}
	return a->mtime.sec == b->mtime.sec &&
	    a->mtime.nsec == b->mtime.nsec ? 1 : 2;
}

/* Encode m into body (reset first) and check that it hashes to m->id. */
static enum pd_err
encode_signed(const struct pr_manifest *m, struct pd_buf *body,
    const char *which, struct pd_error *err)
{
	unsigned char id[PD_SHA256_LEN];
	enum pd_err rc;

	if (!m->is_signed)
		return pd_fail(err, PD_ERR_USAGE, "manifest patch: the %s "
		    "manifest is not signed", which);
	pd_buf_reset(body);
	if ((rc = pr_manifest_encode(m, body, NULL, err)) != PD_OK)
		return rc;
	if ((rc = pd_sha256(body->data, body->len, id)) != PD_OK)
		return pd_fail(err, rc, "manifest patch: hashing manifest");
	if (memcmp(id, m->id, sizeof(id)) != 0)
		return pd_fail(err, PD_ERR_USAGE, "manifest patch: the %s "
		    "manifest (%s version %llu) changed after it was signed",
		    which, m->tree, (unsigned long long)m->version);
	return PD_OK;
}

enum pd_err
pr_mpatch_make(const struct pr_manifest *from, const struct pr_manifest *to,
    struct pd_buf *out, struct pd_error *err)
{
	struct writer w = { out, 0, 0, { 0, 0 }, 0, NULL, NULL };
	struct pd_buf body;
	char fromhex[PD_SHA256_HEX], tohex[PD_SHA256_HEX];
	char sighex[2 * PR_SIG_LEN + 1];
	const char *line, *next, *end;
	size_t start = out->len, i = 0, j = 0, k;
	int c, s;
	enum pd_err rc;

	pd_buf_init(&body, PR_MANIFEST_MAX);
	if ((rc = encode_signed(from, &body, "old", err)) != PD_OK ||
	    (rc = encode_signed(to, &body, "new", err)) != PD_OK)
		goto out;
	/* body is to's: nine header lines, then one line per entry. */
	line = (const char *)body.data;
	end = line + body.len;
	for (k = 0; k < HEADER_LINES; k++)
		line = (const char *)memchr(line, '\n',
		    (size_t)(end - line)) + 1;
	pd_hex_encode(from->id, sizeof(from->id), fromhex);
	pd_hex_encode(to->id, sizeof(to->id), tohex);
	if ((rc = pd_buf_printf(out, "%s\nfrom %s\nto %s\n", PR_MPATCH_MAGIC,
	    fromhex, tohex)) != PD_OK ||
	    (rc = pd_buf_add(out, body.data,
	    (size_t)(line - (const char *)body.data))) != PD_OK)
		goto fail;

	while (rc == PD_OK && (i < from->nentries || j < to->nentries)) {
		if (i == from->nentries)
			c = 1;
		else if (j == to->nentries)
			c = -1;
		else
			c = pr_path_cmp(from->entries[i].path,
			    from->entries[i].path_len, to->entries[j].path,
			    to->entries[j].path_len);
		if (c < 0) {
			/* Only in the old manifest. */
			rc = put_edit(&w, NULL, NULL);
			i++;
			continue;
		}
		next = (const char *)memchr(line, '\n',
		    (size_t)(end - line)) + 1;
		s = c == 0 ? same(&from->entries[i], &to->entries[j]) : 0;
		if (s == 1)
			rc = put_run(&w, NULL);
		else if (s == 2)
			rc = put_run(&w, &to->entries[j].mtime);
		else {
			/* New, or changed: drop the old entry first. */
			if (c == 0)
				rc = put_edit(&w, NULL, NULL);
			if (rc == PD_OK)
				rc = put_edit(&w, line, next);
		}
		i += c == 0;
		j++;
		line = next;
	}
	if (rc != PD_OK || (rc = flush(&w)) != PD_OK)
		goto fail;
	pd_hex_encode(to->sig, sizeof(to->sig), sighex);
	if ((rc = pd_buf_printf(out, "signature %s\n", sighex)) != PD_OK)
		goto fail;
	if (out->len - start > PR_MANIFEST_MAX) {
		rc = PD_ERR_LIMIT;
		goto fail;
	}
	goto out;
fail:
	rc = pd_fail(err, rc, "manifest patch from %s version %llu to %s "
	    "version %llu: %s", from->tree, (unsigned long long)from->version,
	    to->tree, (unsigned long long)to->version, pd_strerror(rc));
out:
	if (rc != PD_OK && out->len > start) {
		out->len = start;
		out->data[start] = '\0';
	}
	pd_buf_free(&body);
	return rc;
}

/*
 * Applying.
 */

struct apply {
	struct pr_mcursor	 c;
	const struct pr_manifest *from;
	struct pr_manifest	*m;	/* being built */
	uint64_t		 count;	/* entries the header says */
	size_t			 at;	/* next old entry */
	char			*pbuf;	/* decoded path of a "+" line */
	char			*tbuf;	/* decoded link target */
};

/* Line l has exactly nvals fields after its op. */
static enum pd_err
nvalues(struct apply *a, const struct pr_mline *l, size_t nvals)
{
	char why[64];

	if (l->nf == 1 + nvals)
		return PD_OK;
	snprintf(why, sizeof(why), "\"%.*s\" line needs %zu field%s",
	    (int)l->fl[0], l->f[0], nvals, nvals == 1 ? "" : "s");
	return pr_mline_bad(&a->c, why);
}

/* The count of a "=", "-" or "t" line, within the old entries left. */
static enum pd_err
old_count(struct apply *a, const struct pr_mline *l, const char *verb,
    size_t *n)
{
	uint64_t v;
	char why[64];

	if (!pr_mline_u64(l->f[1], l->fl[1], &v) || v == 0)
		return pr_mline_bad(&a->c, "bad count");
	if (v > a->from->nentries - a->at) {
		snprintf(why, sizeof(why),
		    "%s past the end of the old manifest", verb);
		return pr_mline_bad(&a->c, why);
	}
	*n = (size_t)v;
	return PD_OK;
}

/* Room for n more entries under the header's count. */
static enum pd_err
room(struct apply *a, size_t n)
{
	if (n > a->count - a->m->nentries)
		return pr_mline_bad(&a->c, "more entries than the count says");
	return PD_OK;
}

/* Entry e may follow the last entry produced. */
static enum pd_err
in_order(struct apply *a, const struct pr_entry *e)
{
	const struct pr_entry *prev;
	char ps[PR_SHOW_MAX];
	int c;

	if (a->m->nentries == 0)
		return PD_OK;
	prev = &a->m->entries[a->m->nentries - 1];
	c = pr_path_cmp(prev->path, prev->path_len, e->path, e->path_len);
	if (c < 0)
		return PD_OK;
	return pd_fail(a->c.err, PD_ERR_PARSE, "%s line %zu: entry %s: %s",
	    a->c.what, a->c.lineno,
	    pr_path_show(e->path, e->path_len, ps, sizeof(ps)),
	    c == 0 ? "duplicate path" : "paths out of order");
}

/* kept: e's strings are the old manifest's, which a->m keeps. */
static enum pd_err
add(struct apply *a, const struct pr_entry *e, bool kept)
{
	enum pd_err rc;

	if ((rc = kept ? pr_manifest_add_kept(a->m, e) :
	    pr_manifest_add(a->m, e)) != PD_OK)
		return pd_fail(a->c.err, rc, "%s line %zu", a->c.what,
		    a->c.lineno);
	return PD_OK;
}

/* "= N" (mtime NULL) or "t N MTIME": copy old entries. */
static enum pd_err
op_copy(struct apply *a, const struct pr_mline *l, const struct pr_time *mt)
{
	struct pr_entry e;
	size_t n, k;
	enum pd_err rc;

	if ((rc = old_count(a, l, mt == NULL ? "copy" : "touch", &n)) !=
	    PD_OK || (rc = room(a, n)) != PD_OK)
		return rc;
	for (k = 0; k < n; k++) {
		e = a->from->entries[a->at + k];
		if (mt != NULL)
			e.mtime = *mt;
		if (k == 0 && (rc = in_order(a, &e)) != PD_OK)
			return rc;
		if ((rc = add(a, &e, true)) != PD_OK)
			return rc;
	}
	a->at += n;
	return PD_OK;
}

/* "- N": skip old entries. */
static enum pd_err
op_drop(struct apply *a, const struct pr_mline *l)
{
	size_t n;
	enum pd_err rc;

	if ((rc = old_count(a, l, "drop", &n)) != PD_OK)
		return rc;
	a->at += n;
	return PD_OK;
}

/* "+ ENTRY": s and n are the entry line after "+ ". */
static enum pd_err
op_insert(struct apply *a, const char *s, size_t n)
{
	struct pr_mline l;
	struct pr_entry e;
	enum pd_err rc;

	if ((rc = pr_mline_split(&a->c, s, n, &l)) != PD_OK ||
	    (rc = pr_mline_entry(&a->c, &l, &e, a->pbuf, a->tbuf)) != PD_OK ||
	    (rc = room(a, 1)) != PD_OK || (rc = in_order(a, &e)) != PD_OK)
		return rc;
	return add(a, &e, false);
}

/* Every op line up to and including the signature line. */
static enum pd_err
parse_ops(struct apply *a)
{
	struct pr_mline l;
	struct pr_time mt;
	const char *s;
	size_t n;
	enum pd_err rc;

	for (;;) {
		if ((rc = pr_mline_read(&a->c, &s, &n)) != PD_OK)
			return rc;
		if (n >= 2 && s[0] == '+' && s[1] == ' ') {
			if ((rc = op_insert(a, s + 2, n - 2)) != PD_OK)
				return rc;
			continue;
		}
		if ((rc = pr_mline_split(&a->c, s, n, &l)) != PD_OK)
			return rc;
		if (pr_mline_field_is(&l, 0, "signature"))
			break;
		if (pr_mline_field_is(&l, 0, "=") ||
		    pr_mline_field_is(&l, 0, "-")) {
			if ((rc = nvalues(a, &l, 1)) != PD_OK)
				return rc;
			rc = l.f[0][0] == '=' ? op_copy(a, &l, NULL) :
			    op_drop(a, &l);
		} else if (pr_mline_field_is(&l, 0, "t")) {
			if ((rc = nvalues(a, &l, 2)) != PD_OK)
				return rc;
			if (!pr_mline_time(l.f[2], l.fl[2], &mt))
				return pr_mline_bad(&a->c, "bad mtime");
			rc = op_copy(a, &l, &mt);
		} else if (pr_mline_field_is(&l, 0, "+"))
			rc = pr_mline_bad(&a->c, "\"+\" line needs an entry");
		else
			rc = pr_mline_bad(&a->c, "unknown operation");
		if (rc != PD_OK)
			return rc;
	}

	/* The signature line ends the ops. */
	if (a->at != a->from->nentries)
		return pr_mline_bad(&a->c,
		    "old manifest entries left unconsumed");
	if (a->m->nentries != a->count)
		return pr_mline_bad(&a->c, "fewer entries than the count says");
	if ((rc = nvalues(a, &l, 1)) != PD_OK)
		return rc;
	if (!pr_mline_hex(l.f[1], l.fl[1], a->m->sig, sizeof(a->m->sig)))
		return pr_mline_bad(&a->c, "bad signature");
	if (a->c.p != a->c.end)
		return pr_mline_bad(&a->c, "data after the signature");
	return PD_OK;
}

/* The "from" and "to" lines. */
static enum pd_err
parse_id(struct apply *a, const char *key, unsigned char *id)
{
	struct pr_mline l;
	enum pd_err rc;
	char why[64];

	if ((rc = pr_mline_keyword(&a->c, key, 1, &l)) != PD_OK)
		return rc;
	if (!pr_mline_hex(l.f[1], l.fl[1], id, PD_SHA256_LEN)) {
		snprintf(why, sizeof(why), "bad \"%s\" manifest id", key);
		return pr_mline_bad(&a->c, why);
	}
	return PD_OK;
}

/* The caller's sink, behind the cap on the rebuilt body. */
struct capped {
	pr_sink		*sink;
	void		*arg;
	uint64_t	 n;
	bool		 over;
};

static enum pd_err
capped_sink(void *arg, const void *p, size_t n)
{
	struct capped *c = arg;

	if (c->n + n > PR_MANIFEST_MAX - SIG_LINE_LEN) {
		c->over = true;
		return PD_ERR_LIMIT;
	}
	c->n += n;
	return c->sink != NULL ? c->sink(c->arg, p, n) : PD_OK;
}

enum pd_err
pr_mpatch_apply_to(const struct pr_manifest *from, const void *patch,
    size_t len, struct pr_manifest **out, pr_sink *sink, void *arg,
    struct pr_msums *sums, struct pd_error *err)
{
	struct apply a;
	struct capped cap = { sink, arg, 0, false };
	struct pr_msums got;
	struct pd_error sub;
	unsigned char fromid[PD_SHA256_LEN], toid[PD_SHA256_LEN];
	char have[PD_SHA256_HEX], want[PD_SHA256_HEX];
	char sigline[SIG_LINE_LEN + 1];
	const char *s;
	size_t n;
	enum pd_err rc;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	a.c.p = patch;
	a.c.end = (const char *)patch + len;
	a.c.what = "manifest patch";
	a.c.err = err;
	a.from = from;
	if (len > PR_MANIFEST_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "manifest patch of %zu "
		    "bytes, more than %llu", len, PR_MANIFEST_MAX);
	if (!from->is_signed)
		return pd_fail(err, PD_ERR_USAGE, "manifest patch: the held "
		    "manifest is not signed");
	/* Most entries are the old ones: their paths are shared, not
	 * copied (3.4 MB of an 80,000-entry tree). */
	if ((a.m = pr_manifest_new()) == NULL ||
	    (a.pbuf = pd_malloc(PR_LINE_MAX)) == NULL ||
	    (a.tbuf = pd_malloc(PR_LINE_MAX)) == NULL ||
	    pr_manifest_keep_strings(a.m, from) != PD_OK) {
		rc = pd_fail(err, PD_ERR_NOMEM, "applying manifest patch");
		goto out;
	}

	if ((rc = pr_mline_read(&a.c, &s, &n)) != PD_OK)
		goto out;
	if (n != strlen(PR_MPATCH_MAGIC) ||
	    memcmp(s, PR_MPATCH_MAGIC, n) != 0) {
		rc = pr_mline_bad(&a.c,
		    "not a pulpdist manifest patch (version 1)");
		goto out;
	}
	if ((rc = parse_id(&a, "from", fromid)) != PD_OK)
		goto out;
	if (memcmp(fromid, from->id, sizeof(fromid)) != 0) {
		pd_hex_encode(fromid, sizeof(fromid), have);
		pd_hex_encode(from->id, sizeof(from->id), want);
		rc = pd_fail(err, PD_ERR_CORRUPT, "%s line %zu: patch "
		    "applies to manifest %s, not to the held manifest %s",
		    a.c.what, a.c.lineno, have, want);
		goto out;
	}
	if ((rc = parse_id(&a, "to", toid)) != PD_OK ||
	    (rc = pr_mline_header(&a.c, a.m, &a.count)) != PD_OK ||
	    (rc = parse_ops(&a)) != PD_OK)
		goto out;

	/* Every manifest rule, then the id the patch promised.  The body
	 * goes to the sink as it is encoded, never whole in memory. */
	pd_error_clear(&sub);
	if ((rc = pr_manifest_encode_to(a.m, capped_sink, &cap, &got,
	    &sub)) != PD_OK) {
		if (cap.over)
			rc = pd_fail(err, rc, "manifest patch: rebuilt "
			    "manifest of more than %llu bytes",
			    PR_MANIFEST_MAX);
		else if (sub.code != PD_OK)
			rc = pd_fail(err, rc, "manifest patch: %s", sub.msg);
		goto out;
	}
	memcpy(a.m->id, got.id, sizeof(a.m->id));
	if (memcmp(a.m->id, toid, sizeof(toid)) != 0) {
		pd_hex_encode(a.m->id, sizeof(a.m->id), have);
		pd_hex_encode(toid, sizeof(toid), want);
		rc = pd_fail(err, PD_ERR_CORRUPT, "manifest patch: rebuilt "
		    "manifest has id %s, not the \"to\" id %s", have, want);
		goto out;
	}
	memcpy(sigline, "signature ", sizeof("signature ") - 1);
	pd_hex_encode(a.m->sig, sizeof(a.m->sig),
	    sigline + sizeof("signature ") - 1);
	sigline[SIG_LINE_LEN - 1] = '\n';
	if (sink != NULL && (rc = sink(arg, sigline, SIG_LINE_LEN)) != PD_OK)
		goto out;
	if (sums != NULL) {
		*sums = got;
		sums->len += SIG_LINE_LEN;
	}
	a.m->is_signed = true;
	*out = a.m;
	a.m = NULL;
out:
	pd_free(a.pbuf);
	pd_free(a.tbuf);
	pr_manifest_free(a.m);
	return rc;
}

/* pr_mpatch_apply's signed_out, behind its own cap. */
struct bufsink {
	struct pd_buf	*b;
	bool		 full;
};

static enum pd_err
buf_sink(void *arg, const void *p, size_t n)
{
	struct bufsink *bs = arg;
	enum pd_err rc;

	if ((rc = pd_buf_add(bs->b, p, n)) != PD_OK)
		bs->full = true;
	return rc;
}

enum pd_err
pr_mpatch_apply(const struct pr_manifest *from, const void *patch,
    size_t len, struct pr_manifest **out, struct pd_buf *signed_out,
    struct pd_error *err)
{
	struct bufsink bs = { signed_out, false };
	size_t start = signed_out != NULL ? signed_out->len : 0;
	enum pd_err rc;

	rc = pr_mpatch_apply_to(from, patch, len, out, signed_out != NULL ?
	    buf_sink : NULL, &bs, NULL, err);
	if (rc != PD_OK && bs.full)
		pd_fail(err, rc, "manifest patch: storing the signed "
		    "manifest");
	if (rc != PD_OK && signed_out != NULL && signed_out->len > start) {
		signed_out->len = start;
		signed_out->data[start] = '\0';
	}
	return rc;
}
