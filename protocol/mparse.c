/*
 * Parsing untrusted manifest bytes (spec/MANIFEST.md).
 *
 * Strict by design: one spelling per value (no leading zeros, lowercase
 * hex, canonical escapes), fields in a fixed order, nothing unknown, every
 * length capped before use.  A parsed manifest therefore re-encodes to the
 * same bytes, which the unit tests check on the vectors.  Lines, fields
 * and values are read by mline.c, which the manifest patch parser
 * shares.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../common/hex.h"
#include "../common/mem.h"
#include "../common/sha256.h"
#include "manifest.h"
#include "mline.h"

static enum pd_err
parse_entry(struct pr_mcursor *c, struct pr_manifest *m, char *pbuf,
    char *tbuf)
{
	struct pr_entry e;
	struct pr_mline l;
	enum pd_err rc;

	if ((rc = pr_mline_next(c, &l)) != PD_OK)
		return rc;
	if (pr_mline_field_is(&l, 0, "signature"))
		return pr_mline_bad(c, "fewer entries than the count says");
	if ((rc = pr_mline_entry(c, &l, &e, pbuf, tbuf)) != PD_OK)
		return rc;
	if ((rc = pr_manifest_add(m, &e)) != PD_OK)
		return pd_fail(c->err, rc, "manifest line %zu", c->lineno);
	return PD_OK;
}

/*
 * Hashing, and for a mapped manifest giving pages back, behind the
 * parser: every PASS_STEP bytes, and once more at the signature line.
 */
#define PASS_STEP	(1u << 20)

struct pass {
	const char		*done;		/* hashed up to here */
	const char		*root;		/* content digest from here */
	struct pd_sha256	*id;
	struct pd_sha256	*content;	/* NULL: not wanted */
	bool			 drop;		/* data is a file mapping */
};

static enum pd_err
pass_to(struct pass *s, const char *upto)
{
	const char *from;
	uintptr_t a, b, pg;

	if (upto <= s->done)
		return PD_OK;
	if (pd_sha256_update(s->id, s->done, (size_t)(upto - s->done)) !=
	    PD_OK)
		return PD_ERR_CRYPTO;
	from = s->done > s->root ? s->done : s->root;
	if (s->content != NULL && upto > from &&
	    pd_sha256_update(s->content, from, (size_t)(upto - from)) != PD_OK)
		return PD_ERR_CRYPTO;
	if (s->drop) {
		/* Not the page the parser is in.  A file's page dropped
		 * is only read again from the page cache if touched. */
		pg = (uintptr_t)sysconf(_SC_PAGESIZE);
		a = (uintptr_t)s->done & ~(pg - 1);
		b = (uintptr_t)upto & ~(pg - 1);
		if (b > a)
			(void)madvise((void *)a, b - a, MADV_DONTNEED);
	}
	s->done = upto;
	return PD_OK;
}

static enum pd_err
parse(const void *data, size_t len, struct pr_manifest **out,
    unsigned char *digest, bool drop, struct pd_error *err)
{
	struct pr_mcursor c = { data, (const char *)data + len, 0, "manifest",
	    err };
	struct pass s = { data, NULL, NULL, NULL, drop };
	struct pr_manifest *m = NULL;
	char *pbuf = NULL, *tbuf = NULL;
	const char *root;
	struct pr_mline l;
	uint64_t count = 0, i;
	enum pd_err rc;

	*out = NULL;
	if (len > PR_MANIFEST_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "manifest of %zu bytes, more "
		    "than %llu", len, PR_MANIFEST_MAX);
	if ((m = pr_manifest_new()) == NULL ||
	    (pbuf = pd_malloc(PR_LINE_MAX)) == NULL ||
	    (tbuf = pd_malloc(PR_LINE_MAX)) == NULL ||
	    (s.id = pd_sha256_new()) == NULL ||
	    (digest != NULL && (s.content = pd_sha256_new()) == NULL)) {
		rc = pd_fail(err, PD_ERR_NOMEM, "parsing manifest");
		goto out;
	}
	if (pd_sha256_init(s.id) != PD_OK ||
	    (s.content != NULL && pd_sha256_init(s.content) != PD_OK)) {
		rc = pd_fail(err, PD_ERR_CRYPTO, "hashing manifest");
		goto out;
	}
	if ((rc = pr_mline_header(&c, m, &count)) != PD_OK)
		goto out;
	/* Every header line starts with its keyword: the one "\nroot "
	 * in the header starts the content part. */
	if ((root = memmem(data, (size_t)(c.p - (const char *)data),
	    "\nroot ", 6)) == NULL) {
		rc = pr_mline_bad(&c, "no root line");
		goto out;
	}
	s.root = root + 1;
	for (i = 0; i < count; i++) {
		if ((rc = parse_entry(&c, m, pbuf, tbuf)) != PD_OK)
			goto out;
		if ((size_t)(c.p - s.done) >= PASS_STEP &&
		    (rc = pass_to(&s, c.p)) != PD_OK)
			goto crypto;
	}
	if ((rc = pass_to(&s, c.p)) != PD_OK)
		goto crypto;
	if ((rc = pr_mline_keyword(&c, "signature", 1, &l)) != PD_OK)
		goto out;
	if (!pr_mline_hex(l.f[1], l.fl[1], m->sig, sizeof(m->sig))) {
		rc = pr_mline_bad(&c, "bad signature");
		goto out;
	}
	if (c.p != c.end) {
		rc = pr_mline_bad(&c, "data after the signature");
		goto out;
	}
	if ((rc = pr_manifest_check(m, err)) != PD_OK)
		goto out;
	if (pd_sha256_final(s.id, m->id) != PD_OK ||
	    (s.content != NULL && pd_sha256_final(s.content, digest) !=
	    PD_OK))
		goto crypto;
	m->is_signed = true;
	*out = m;
	m = NULL;
	goto out;
crypto:
	rc = pd_fail(err, PD_ERR_CRYPTO, "hashing manifest");
out:
	pd_sha256_free(s.id);
	pd_sha256_free(s.content);
	pd_free(pbuf);
	pd_free(tbuf);
	pr_manifest_free(m);
	return rc;
}

enum pd_err
pr_manifest_parse(const void *data, size_t len, struct pr_manifest **out,
    struct pd_error *err)
{
	return parse(data, len, out, NULL, false, err);
}

enum pd_err
pr_manifest_parse_mapped(const void *data, size_t len,
    struct pr_manifest **out, unsigned char *digest, struct pd_error *err)
{
	return parse(data, len, out, digest, true, err);
}

enum pd_err
pr_manifest_verify(const struct pr_manifest *m, const struct pr_key *key,
    struct pd_error *err)
{
	unsigned char msg[sizeof(PR_SIGN_CONTEXT) - 1 + PD_SHA256_LEN];
	unsigned char kid[PR_KEYID_LEN];
	char want[2 * PR_KEYID_LEN + 1], have[2 * PR_KEYID_LEN + 1];
	enum pd_err rc;

	if (!m->is_signed)
		return pd_fail(err, PD_ERR_SIGNATURE, "manifest of %s version "
		    "%llu is not signed", m->tree,
		    (unsigned long long)m->version);
	if ((rc = pr_key_id(key, kid, err)) != PD_OK)
		return rc;
	if (memcmp(kid, m->keyid, sizeof(kid)) != 0) {
		pd_hex_encode(kid, sizeof(kid), want);
		pd_hex_encode(m->keyid, sizeof(m->keyid), have);
		return pd_fail(err, PD_ERR_SIGNATURE, "manifest of %s version "
		    "%llu is signed by key %s, not by the trusted key %s",
		    m->tree, (unsigned long long)m->version, have, want);
	}
	pr_manifest_signed_msg(m->id, msg);
	if (pr_verify(key, msg, sizeof(msg), m->sig, NULL) != PD_OK)
		return pd_fail(err, PD_ERR_SIGNATURE, "manifest of %s version "
		    "%llu: signature does not verify with key %s", m->tree,
		    (unsigned long long)m->version,
		    (pd_hex_encode(kid, sizeof(kid), want), want));
	return PD_OK;
}
