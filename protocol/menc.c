/*
 * Canonical manifest encoding and signing (spec/MANIFEST.md).
 *
 * Numbers are formatted by hand: an 80,000-entry manifest is encoded on
 * every import, and printf's format parsing would dominate.
 */
#include <string.h>

#include "../common/hex.h"
#include "../common/sha256.h"
#include "manifest.h"
#include "pathenc.h"

static enum pd_err
add_u64(struct pd_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return pd_buf_add(b, tmp + i, sizeof(tmp) - i);
}

static enum pd_err
add_i64(struct pd_buf *b, int64_t v)
{
	enum pd_err rc;

	if (v >= 0)
		return add_u64(b, (uint64_t)v);
	if ((rc = pd_buf_addc(b, '-')) != PD_OK)
		return rc;
	return add_u64(b, (uint64_t)0 - (uint64_t)v);
}

static enum pd_err
add_mode(struct pd_buf *b, uint32_t mode)
{
	char m[4] = {
		(char)('0' + (mode >> 9 & 7)), (char)('0' + (mode >> 6 & 7)),
		(char)('0' + (mode >> 3 & 7)), (char)('0' + (mode & 7)),
	};

	return pd_buf_add(b, m, sizeof(m));
}

static enum pd_err
add_time(struct pd_buf *b, const struct pr_time *t)
{
	char ns[10];
	uint32_t v = t->nsec;
	int i;
	enum pd_err rc;

	if ((rc = add_i64(b, t->sec)) != PD_OK)
		return rc;
	ns[0] = '.';
	for (i = 9; i >= 1; i--) {
		ns[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return pd_buf_add(b, ns, sizeof(ns));
}

static enum pd_err
add_hex(struct pd_buf *b, const unsigned char *p, size_t n)
{
	enum pd_err rc;

	if ((rc = pd_buf_reserve(b, 2 * n)) != PD_OK)
		return rc;
	pd_hex_encode(p, n, (char *)b->data + b->len);
	b->len += 2 * n;
	return PD_OK;
}

#define SP(b)	pd_buf_addc((b), ' ')
#define NL(b)	pd_buf_addc((b), '\n')

static enum pd_err
add_entry(struct pd_buf *b, const struct pr_entry *e)
{
	enum pd_err rc;

	if ((rc = pd_buf_addc(b, (unsigned char)e->type)) != PD_OK ||
	    (rc = SP(b)) != PD_OK)
		return rc;
	switch (e->type) {
	case PR_DIR:
		if ((rc = add_mode(b, e->mode)) || (rc = SP(b)) ||
		    (rc = add_time(b, &e->mtime)) || (rc = SP(b)) ||
		    (rc = pr_escape(b, e->path, e->path_len)))
			return rc;
		break;
	case PR_FILE:
		if ((rc = add_mode(b, e->mode)) || (rc = SP(b)) ||
		    (rc = add_time(b, &e->mtime)) || (rc = SP(b)) ||
		    (rc = add_u64(b, e->size)) || (rc = SP(b)) ||
		    (rc = add_hex(b, e->sha, sizeof(e->sha))) ||
		    (rc = SP(b)))
			return rc;
		rc = e->link ? add_u64(b, e->link) : pd_buf_addc(b, '-');
		if (rc || (rc = SP(b)) ||
		    (rc = pr_escape(b, e->path, e->path_len)))
			return rc;
		break;
	case PR_LINK:
		if ((rc = add_time(b, &e->mtime)) || (rc = SP(b)) ||
		    (rc = pr_escape(b, e->path, e->path_len)) ||
		    (rc = SP(b)) ||
		    (rc = pr_escape(b, e->target, e->target_len)))
			return rc;
		break;
	}
	return NL(b);
}

/*
 * Where the encoding goes as it is made: with a sink, b is flushed to it
 * (and through the hashes) whenever it holds ENC_FLUSH bytes, so that a
 * manifest of any size costs a buffer of about that much.
 */
struct enc {
	struct pd_buf		*b;
	bool			 stream;	/* false: all stays in b */
	pr_sink			*sink;		/* NULL: hashed only */
	void			*arg;
	struct pd_sha256	*idh;		/* the body, or NULL */
	struct pd_sha256	*ch;		/* from "root" on, or NULL */
	bool			 content;	/* past the header */
	bool			 refused;	/* by the sink, its text */
	uint64_t		 len;		/* bytes flushed */
};

#define ENC_FLUSH	(64 * 1024)

static enum pd_err
flush(struct enc *x)
{
	enum pd_err rc;

	if (!x->stream || x->b->len == 0)
		return PD_OK;
	if ((x->idh != NULL && (rc = pd_sha256_update(x->idh, x->b->data,
	    x->b->len)) != PD_OK) ||
	    (x->content && x->ch != NULL && (rc = pd_sha256_update(x->ch,
	    x->b->data, x->b->len)) != PD_OK))
		return rc;
	if (x->sink != NULL && (rc = x->sink(x->arg, x->b->data,
	    x->b->len)) != PD_OK) {
		x->refused = true;
		return rc;
	}
	x->len += x->b->len;
	pd_buf_reset(x->b);
	return PD_OK;
}

static enum pd_err
encode(const struct pr_manifest *m, struct enc *x, size_t *content_off,
    struct pd_error *err)
{
	struct pd_buf *b = x->b;
	enum pd_err rc;
	size_t i;

	if ((rc = pr_manifest_check(m, err)) != PD_OK)
		return rc;
	if ((rc = pd_buf_adds(b, PR_MANIFEST_MAGIC "\ntree ")) ||
	    (rc = pd_buf_adds(b, m->tree)) ||
	    (rc = pd_buf_adds(b, "\nversion ")) ||
	    (rc = add_u64(b, m->version)) ||
	    (rc = pd_buf_adds(b, "\nparent ")))
		goto fail;
	rc = m->has_parent ? add_hex(b, m->parent, sizeof(m->parent)) :
	    pd_buf_addc(b, '-');
	if (rc || (rc = pd_buf_adds(b, "\ncreated ")) ||
	    (rc = add_i64(b, m->created)) ||
	    (rc = pd_buf_adds(b, "\nexpires ")))
		goto fail;
	rc = m->expires ? add_i64(b, m->expires) : pd_buf_adds(b, "never");
	if (rc || (rc = pd_buf_adds(b, "\nkey ")) ||
	    (rc = add_hex(b, m->keyid, sizeof(m->keyid))) || (rc = NL(b)) ||
	    (rc = flush(x)))
		goto fail;
	x->content = true;
	if (content_off)
		*content_off = b->len;
	if ((rc = pd_buf_adds(b, "root ")) ||
	    (rc = add_mode(b, m->root_mode)) || (rc = SP(b)) ||
	    (rc = add_time(b, &m->root_mtime)) ||
	    (rc = pd_buf_adds(b, "\nentries ")) ||
	    (rc = add_u64(b, m->nentries)) || (rc = NL(b)))
		goto fail;
	for (i = 0; i < m->nentries; i++)
		if ((rc = add_entry(b, &m->entries[i])) != PD_OK ||
		    (b->len >= ENC_FLUSH && (rc = flush(x)) != PD_OK))
			goto fail;
	if ((rc = flush(x)) != PD_OK)
		goto fail;
	return PD_OK;
fail:
	if (x->refused)
		return rc;
	return pd_fail(err, rc, "encoding manifest of %s version %llu",
	    m->tree, (unsigned long long)m->version);
}

enum pd_err
pr_manifest_encode(const struct pr_manifest *m, struct pd_buf *b,
    size_t *content_off, struct pd_error *err)
{
	struct enc x = { b, false, NULL, NULL, NULL, NULL, false, false, 0 };

	return encode(m, &x, content_off, err);
}

enum pd_err
pr_manifest_encode_to(const struct pr_manifest *m, pr_sink *sink, void *arg,
    struct pr_msums *sums, struct pd_error *err)
{
	struct pd_buf b;
	struct enc x = { &b, true, sink, arg, NULL, NULL, false, false, 0 };
	enum pd_err rc;

	/* Room for a flush's worth and the longest line past it. */
	pd_buf_init(&b, ENC_FLUSH + 2 * PR_LINE_MAX);
	if (sums != NULL && ((x.idh = pd_sha256_new()) == NULL ||
	    (x.ch = pd_sha256_new()) == NULL)) {
		rc = pd_fail(err, PD_ERR_NOMEM, "encoding a manifest");
		goto out;
	}
	if ((rc = encode(m, &x, NULL, err)) != PD_OK)
		goto out;
	if (sums != NULL) {
		sums->len = x.len;
		if ((rc = pd_sha256_final(x.idh, sums->id)) != PD_OK ||
		    (rc = pd_sha256_final(x.ch, sums->content)) != PD_OK)
			rc = pd_fail(err, rc, "hashing a manifest");
	}
out:
	pd_sha256_free(x.idh);
	pd_sha256_free(x.ch);
	pd_buf_free(&b);
	return rc;
}

void
pr_manifest_signed_msg(const unsigned char *id,
    unsigned char out[sizeof(PR_SIGN_CONTEXT) - 1 + PD_SHA256_LEN])
{
	memcpy(out, PR_SIGN_CONTEXT, sizeof(PR_SIGN_CONTEXT) - 1);
	memcpy(out + sizeof(PR_SIGN_CONTEXT) - 1, id, PD_SHA256_LEN);
}

enum pd_err
pr_manifest_seal(struct pr_manifest *m, const struct pr_key *key,
    struct pd_buf *out, size_t body_off, struct pd_error *err)
{
	unsigned char msg[sizeof(PR_SIGN_CONTEXT) - 1 + PD_SHA256_LEN];
	unsigned char kid[PR_KEYID_LEN];
	enum pd_err rc;

	if ((rc = pr_key_id(key, kid, err)) != PD_OK)
		return rc;
	if (memcmp(kid, m->keyid, sizeof(kid)) != 0)
		return pd_fail(err, PD_ERR_USAGE,
		    "manifest names another key than the signing key");
	if (body_off > out->len)
		return pd_fail(err, PD_ERR_USAGE, "manifest body offset");
	if ((rc = pd_sha256(out->data + body_off, out->len - body_off,
	    m->id)) != PD_OK)
		return pd_fail(err, rc, "hashing manifest");
	pr_manifest_signed_msg(m->id, msg);
	if ((rc = pr_sign(key, msg, sizeof(msg), m->sig, err)) != PD_OK)
		return rc;
	if ((rc = pd_buf_adds(out, "signature ")) ||
	    (rc = add_hex(out, m->sig, sizeof(m->sig))) || (rc = NL(out)))
		return pd_fail(err, rc, "encoding signature");
	m->is_signed = true;
	return PD_OK;
}

enum pd_err
pr_manifest_content_digest(const void *data, size_t len,
    unsigned char out[PD_SHA256_LEN], struct pd_error *err)
{
	static const char root[] = "\nroot ";
	const size_t sigline = sizeof("signature ") - 1 + 2 * PR_SIG_LEN + 1;
	const char *p = data, *r;

	/* No header field holds a newline: the first "\nroot " is it. */
	if (len < sigline || (r = memmem(p, len - sigline, root,
	    sizeof(root) - 1)) == NULL)
		return pd_fail(err, PD_ERR_PARSE, "manifest without a root "
		    "line or a signature");
	r++;
	if (pd_sha256(r, (size_t)(p + len - sigline - r), out) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "hashing manifest");
	return PD_OK;
}

enum pd_err
pr_manifest_sign(struct pr_manifest *m, const struct pr_key *key,
    struct pd_buf *out, struct pd_error *err)
{
	size_t start = out->len;
	enum pd_err rc;

	if ((rc = pr_manifest_encode(m, out, NULL, err)) != PD_OK)
		return rc;
	return pr_manifest_seal(m, key, out, start, err);
}
