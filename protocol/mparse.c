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
#include <string.h>

#include "../common/hex.h"
#include "../common/mem.h"
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

enum pd_err
pr_manifest_parse(const void *data, size_t len, struct pr_manifest **out,
    struct pd_error *err)
{
	struct pr_mcursor c = { data, (const char *)data + len, 0, "manifest",
	    err };
	struct pr_manifest *m = NULL;
	char *pbuf = NULL, *tbuf = NULL;
	struct pr_mline l;
	uint64_t count = 0, i;
	size_t bodylen;
	enum pd_err rc;

	*out = NULL;
	if (len > PR_MANIFEST_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "manifest of %zu bytes, more "
		    "than %llu", len, PR_MANIFEST_MAX);
	if ((m = pr_manifest_new()) == NULL ||
	    (pbuf = pd_malloc(PR_LINE_MAX)) == NULL ||
	    (tbuf = pd_malloc(PR_LINE_MAX)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "parsing manifest");
		goto out;
	}
	if ((rc = pr_mline_header(&c, m, &count)) != PD_OK)
		goto out;
	for (i = 0; i < count; i++)
		if ((rc = parse_entry(&c, m, pbuf, tbuf)) != PD_OK)
			goto out;

	bodylen = (size_t)(c.p - (const char *)data);
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
	if ((rc = pd_sha256(data, bodylen, m->id)) != PD_OK) {
		rc = pd_fail(err, rc, "hashing manifest");
		goto out;
	}
	m->is_signed = true;
	*out = m;
	m = NULL;
out:
	pd_free(pbuf);
	pd_free(tbuf);
	pr_manifest_free(m);
	return rc;
}

enum pd_err
pr_manifest_verify(const struct pr_manifest *m, const struct pr_key *key,
    struct pd_error *err)
{
	unsigned char msg[sizeof(PR_SIGN_CONTEXT) - 1 + PD_SHA256_LEN];
	unsigned char kid[PR_KEYID_LEN];
	char want[2 * PR_KEYID_LEN + 1], have[2 * PR_KEYID_LEN + 1];

	if (!m->is_signed)
		return pd_fail(err, PD_ERR_SIGNATURE, "manifest of %s version "
		    "%llu is not signed", m->tree,
		    (unsigned long long)m->version);
	pr_key_id(key, kid);
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
