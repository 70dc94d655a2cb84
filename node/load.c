/*
 * Load and verify a stored version.
 */
#include <string.h>

#include "../common/buf.h"
#include "../protocol/mdiff.h"
#include "load.h"

enum pd_err
nd_load_version(struct cat *c, const char *name, uint64_t n,
    const struct pr_key *trust, struct cat_tree *tree_out,
    struct cat_version *ver_out, struct pr_manifest **out,
    struct pd_error *err)
{
	struct cat_txn *t = NULL;
	struct cat_tree tree;
	struct cat_version ver;
	struct pr_manifest *m = NULL;
	struct pr_key *key = NULL;
	enum pd_err rc;

	*out = NULL;
	if ((rc = cat_begin(c, false, &t, err)) != PD_OK)
		return rc;
	if ((rc = cat_tree_get(t, name, &tree, err)) != PD_OK)
		goto out;
	if (n == 0)
		n = tree.head;
	if (n == 0) {
		rc = pd_fail(err, PD_ERR_NOTFOUND, "tree %s has no versions",
		    name);
		goto out;
	}
	if ((rc = cat_version_get(t, name, n, &ver, err)) != PD_OK)
		goto out;
	if ((rc = cat_manifest_load(t, ver.manifest_id, &m, NULL, err)) !=
	    PD_OK) {
		pd_prefix(err, "stored manifest of %s version %llu", name,
		    (unsigned long long)n);
		goto out;
	}
	if (trust == NULL) {
		if (!tree.has_key) {
			rc = pd_fail(err, PD_ERR_SIGNATURE, "tree %s has no "
			    "trusted key", name);
			goto out;
		}
		if ((rc = pr_key_from_public(tree.pubkey, &key, err)) != PD_OK)
			goto out;
		trust = key;
	}
	if ((rc = pr_manifest_verify(m, trust, err)) != PD_OK)
		goto out;
	if (memcmp(m->id, ver.manifest_id, sizeof(m->id)) != 0 ||
	    m->version != n || strcmp(m->tree, name) != 0) {
		rc = pd_fail(err, PD_ERR_CORRUPT, "stored manifest of %s "
		    "version %llu does not match its catalog record", name,
		    (unsigned long long)n);
		goto out;
	}
	if (tree_out)
		*tree_out = tree;
	if (ver_out)
		*ver_out = ver;
	*out = m;
	m = NULL;
out:
	cat_abort(t);
	pr_key_free(key);
	pr_manifest_free(m);
	return rc;
}

enum pd_err
nd_version_describe(const struct pr_manifest *m,
    const struct pr_manifest *prev,
    const unsigned char content_digest[PD_SHA256_LEN],
    struct cat_version *v, struct pd_error *err)
{
	struct pr_stats st;
	struct pr_diff d;
	enum pd_err rc;

	pr_manifest_stats(m, &st);
	v->number = m->version;
	memcpy(v->manifest_id, m->id, sizeof(m->id));
	v->created = m->created;
	v->entries = m->nentries;
	v->files = st.files;
	v->dirs = st.dirs;
	v->links = st.links;
	v->bytes = st.bytes;
	memcpy(v->content_digest, content_digest, PD_SHA256_LEN);
	if ((rc = pr_diff(prev, m, &d, err)) != PD_OK)
		return rc;
	v->changes.added = d.count[PR_ADDED];
	v->changes.removed = d.count[PR_REMOVED];
	v->changes.changed = d.count[PR_CHANGED];
	v->changes.renamed = d.count[PR_RENAMED];
	v->changes.meta = d.count[PR_MODE] + d.count[PR_TOUCHED];
	pr_diff_free(&d);
	return PD_OK;
}
