/*
 * A pull's dealings with what is held and what the upstream offers
 * (pull_int.h): the held tree and head, the upstream's head, and the
 * new manifest, patched or whole, verified before anything looks at
 * it.  Nothing here writes anything.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../common/hex.h"
#include "../protocol/mpatch.h"
#include "load.h"
#include "pull_int.h"

/* What this node holds of the tree: the key it is held under, the head. */
enum pd_err
nd_pl_load_held(struct pull *p)
{
	unsigned char pub[PR_PUBKEY_LEN];
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(p->c, false, &t, p->err)) != PD_OK)
		return rc;
	rc = cat_tree_get(t, p->o->tree, &p->tree, p->err);
	cat_abort(t);
	if (rc == PD_ERR_NOTFOUND) {
		pd_error_clear(p->err);
		return PD_OK;
	}
	if (rc != PD_OK)
		return rc;
	p->have_tree = true;
	pr_key_public(p->o->trust, pub);
	if (p->tree.has_key && memcmp(pub, p->tree.pubkey, sizeof(pub)) != 0)
		return pd_fail(p->err, PD_ERR_SIGNATURE, "tree %s is held here "
		    "under another key than the one given with --trust",
		    p->o->tree);
	p->res->from_version = p->tree.head;
	return PD_OK;
}

/* The held head's manifest, verified: the base of the step. */
enum pd_err
nd_pl_load_old(struct pull *p)
{
	if (p->tree.head == 0)
		return PD_OK;
	if (nd_load_version(p->c, p->o->tree, p->tree.head, p->o->trust,
	    NULL, NULL, &p->old, p->err) != PD_OK)
		return pd_prefix(p->err, "held version %" PRIu64 " of %s",
		    p->tree.head, p->o->tree);
	return PD_OK;
}

/* The id of the manifest of the held head. */
enum pd_err
nd_pl_held_id(struct pull *p, unsigned char id[PD_SHA256_LEN])
{
	struct cat_version v;
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(p->c, false, &t, p->err)) != PD_OK)
		return rc;
	rc = cat_version_get(t, p->o->tree, p->tree.head, &v, p->err);
	cat_abort(t);
	if (rc == PD_OK)
		memcpy(id, v.manifest_id, PD_SHA256_LEN);
	return rc;
}

/* GET the head: a hint, checked against the manifest it names. */
enum pd_err
nd_pl_fetch_head(struct pull *p)
{
	char path[PR_TREE_NAME_MAX + 32];
	struct pd_buf b;
	json_t *j = NULL, *v;
	json_error_t je;
	const char *s;
	long status;
	enum pd_err rc;

	pd_buf_init(&b, ND_CONTROL_MAX);
	snprintf(path, sizeof(path), "/v1/trees/%s/head", p->o->tree);
	if ((rc = nd_fetch_get(p->f, path, ND_CONTROL_MAX, &b, &status,
	    p->err)) != PD_OK) {
		if (rc == PD_ERR_NOTFOUND)
			pd_prefix(p->err, "upstream %s has no tree %s",
			    p->o->from, p->o->tree);
		goto out;
	}
	rc = PD_ERR_PARSE;
	if ((j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES,
	    &je)) == NULL || !json_is_object(j) ||
	    (v = json_object_get(j, "tree")) == NULL ||
	    (s = json_string_value(v)) == NULL ||
	    strcmp(s, p->o->tree) != 0 ||
	    (v = json_object_get(j, "version")) == NULL ||
	    !json_is_integer(v) || json_integer_value(v) < 1 ||
	    (uint64_t)json_integer_value(v) > PR_VERSION_MAX)
		goto bad;
	p->want = (uint64_t)json_integer_value(v);
	if ((v = json_object_get(j, "manifest")) == NULL ||
	    (s = json_string_value(v)) == NULL ||
	    strlen(s) != 2 * PD_SHA256_LEN ||
	    !pd_hex_decode(s, PD_SHA256_LEN, p->want_id))
		goto bad;
	rc = PD_OK;
	goto out;
bad:
	pd_fail(p->err, rc, "upstream %s: malformed head of tree %s",
	    p->o->from, p->o->tree);
out:
	json_decref(j);
	pd_buf_free(&b);
	return rc;
}

struct getpatch {
	struct pd_buf	*out;
	long		 status;
	enum pd_err	 rc;
};

static enum pd_err
patch_sink(void *arg, const void *data, size_t n)
{
	struct getpatch *g = arg;

	return pd_buf_add(g->out, data, n);
}

/* As it came: kept if it is zstd, for a relay's receivers. */
static void
patch_raw(void *arg, bool zstd, const void *data, size_t n)
{
	struct pd_buf *z = arg;

	if (!zstd || pd_buf_add(z, data, n) != PD_OK)
		pd_buf_reset(z);
}

static void
patch_done(void *arg, long status, enum pd_err rc, const struct pd_error *e)
{
	struct getpatch *g = arg;

	(void)e;
	g->status = status;
	g->rc = rc;
}

struct mfile {
	struct cat_mwriter	*w;
	struct pd_error		*err;
};

static enum pd_err
mfile_sink(void *arg, const void *data, size_t n)
{
	struct mfile *f = arg;

	return cat_manifest_write(f->w, data, n, f->err);
}

/*
 * Apply p->patch to p->old.  The rebuilt manifest's bytes go straight
 * to a file of the catalog (p->mw), not to memory: at this point the
 * pull holds two parsed manifests already, and the signed bytes were a
 * third copy of megabytes.
 */
static enum pd_err
apply_patch(struct pull *p, struct pd_error *e)
{
	struct mfile f = { NULL, e };
	struct pr_msums sums;
	enum pd_err rc;

	if ((rc = cat_manifest_begin(p->c, &f.w, e)) != PD_OK)
		return rc;
	if ((rc = pr_mpatch_apply_to(p->old, p->patch.data, p->patch.len,
	    &p->m, mfile_sink, &f, &sums, e)) != PD_OK) {
		cat_manifest_drop(f.w);
		return rc;
	}
	p->mw = f.w;
	p->mlen = (size_t)sums.len;
	memcpy(p->mdigest, sums.content, sizeof(p->mdigest));
	return PD_OK;
}

/*
 * GET the patch from the held manifest to the new one and apply it into
 * p->m (left NULL if that fails: it only costs the whole manifest).
 * What came stays in p->patch and p->zpatch.
 */
static void
fetch_patch(struct pull *p)
{
	char path[PR_TREE_NAME_MAX + PD_SHA256_HEX + 64];
	char hex[PD_SHA256_HEX];
	struct getpatch g = { &p->patch, 0, PD_OK };
	struct nd_fetch_req q = { 0 };
	struct pd_error e = { 0 };

	pd_hex_encode(p->old->id, PD_SHA256_LEN, hex);
	snprintf(path, sizeof(path), "/v1/trees/%s/versions/%" PRIu64
	    "/manifest?from=%s", p->o->tree, p->want, hex);
	q.path = path;
	q.cap = PR_MANIFEST_MAX;
	q.sink = patch_sink;
	q.done = patch_done;
	q.arg = &g;
	q.raw = patch_raw;
	q.raw_arg = &p->zpatch;
	if (nd_fetch_queue(p->f, &q, &e) != PD_OK ||
	    nd_fetch_run(p->f, &e) != PD_OK || g.rc != PD_OK)
		return;
	/* 303: the upstream keeps that a patch is not worth it. */
	if (g.status == 303) {
		pd_buf_reset(&p->patch);
		pd_buf_reset(&p->zpatch);
		p->got_patch = true;
	} else if (g.status == 200 && apply_patch(p, &e) == PD_OK)
		p->got_patch = true;
	else
		p->m = NULL;
}

/*
 * The new manifest: a patch against the held one when the upstream can
 * make it, else whole.  Verified before anything else looks at it.
 */
enum pd_err
nd_pl_fetch_manifest(struct pull *p)
{
	char path[PR_TREE_NAME_MAX + PD_SHA256_HEX + 64];
	char tbuf[32];
	struct mfile f = { NULL, p->err };
	const void *data;
	long status;
	enum pd_err rc;
	time_t now = time(NULL);

	pd_buf_init(&p->patch, PR_MANIFEST_MAX);
	pd_buf_init(&p->zpatch, PR_MANIFEST_MAX + PR_MANIFEST_MAX / 128);
	if (p->old)
		fetch_patch(p);
	if (p->m == NULL) {
		/* Whole: to the catalog's file as it comes, then parsed
		 * from a map of it that gives its pages back. */
		snprintf(path, sizeof(path), "/v1/trees/%s/versions/%" PRIu64
		    "/manifest", p->o->tree, p->want);
		if ((rc = cat_manifest_begin(p->c, &f.w, p->err)) != PD_OK)
			goto fail;
		p->mw = f.w;
		if ((rc = nd_fetch_get_to(p->f, path, PR_MANIFEST_MAX,
		    mfile_sink, &f, &status, p->err)) != PD_OK ||
		    (rc = cat_manifest_written(p->mw, &data, &p->mlen,
		    p->err)) != PD_OK ||
		    (rc = pr_manifest_parse_mapped(data, p->mlen, &p->m,
		    p->mdigest, p->err)) != PD_OK)
			goto fail;
	}
	if ((rc = pr_manifest_verify(p->m, p->o->trust, p->err)) != PD_OK)
		goto fail;
	rc = PD_ERR_CORRUPT;
	if (strcmp(p->m->tree, p->o->tree) != 0)
		pd_fail(p->err, rc, "it is signed for tree %s", p->m->tree);
	else if (p->m->version != p->want ||
	    memcmp(p->m->id, p->want_id, PD_SHA256_LEN) != 0)
		pd_fail(p->err, rc, "it is not the one the head names");
	else if (p->m->expires != 0 && p->m->expires <= (int64_t)now) {
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S UTC",
		    gmtime(&(time_t){ (time_t)p->m->expires }));
		pd_fail(p->err, PD_ERR_SIGNATURE, "it expired at %s", tbuf);
	} else
		rc = PD_OK;
	if (rc == PD_OK)
		return PD_OK;
fail:
	p->got_patch = false;
	cat_manifest_drop(p->mw);
	p->mw = NULL;
	return pd_prefix(p->err, "manifest of %s version %" PRIu64 " from %s",
	    p->o->tree, p->want, p->o->from);
}
