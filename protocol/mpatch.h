/*
 * Manifest patches: a new manifest written as edits to an old one
 * (spec/MANIFEST.md, "Manifest patches").
 *
 * Between two releases of a large tree few files change content but
 * nearly every mtime changes, mostly to one value; a patch says that in
 * a few lines where the full manifest takes megabytes.  The origin makes
 * a patch once (pr_mpatch_make) and caches it.  A mirror holding the old
 * manifest rebuilds the new one from it (pr_mpatch_apply): the patch is
 * untrusted, the result is trusted only after its id matched the patch's
 * "to" id and pr_manifest_verify() accepted the signature, exactly as
 * for a manifest fetched whole.
 *
 * Both functions only read their manifests; they may run on any thread,
 * several at once, as long as no thread changes the manifests.
 */
#ifndef PR_MPATCH_H
#define PR_MPATCH_H

#include <stddef.h>

#include "../common/buf.h"
#include "manifest.h"

#define PR_MPATCH_MAGIC	"pulpdist-manifest-patch 1"

/*
 * Append to out a patch that turns manifest from into manifest to.
 *
 * from, to: signed manifests (is_signed set, as after pr_manifest_sign()
 *	or pr_manifest_parse()) whose entries still encode to their ids;
 *	to->sig is the signature the patch carries.  from and to may be
 *	the same manifest, and may be of different trees.
 * out: the patch is appended; on failure out->len is as before.
 *
 * The patch is small when the manifests share most entries: runs of
 * equal entries become one "=" line, runs that differ only in mtime,
 * all to the same new value, one "t" line; only new and changed entries
 * are written out in full.
 *
 * Returns PD_OK, or:
 *	PD_ERR_USAGE	a manifest is not signed, or its entries do not
 *			encode to its id (changed after signing)
 *	PD_ERR_LIMIT	the patch would exceed out's cap or PR_MANIFEST_MAX
 *			(send the full manifest instead)
 *	PD_ERR_NOMEM	out of memory
 *	or an error of pr_manifest_encode() for an invalid manifest.
 * err, if not NULL, gets the first failure's text.
 */
enum pd_err pr_mpatch_make(const struct pr_manifest *from,
	    const struct pr_manifest *to, struct pd_buf *out,
	    struct pd_error *err) PD_WARN_UNUSED;

/*
 * Rebuild the manifest a patch produces from the manifest it applies to.
 *
 * from: the manifest held, already verified with the trusted key; the
 *	patch must name its id.
 * patch, len: untrusted bytes, at most PR_MANIFEST_MAX.
 * out: *out is set to NULL first; on success it gets a new manifest
 *	(free with pr_manifest_free()) with entries, id, sig and is_signed
 *	set, as pr_manifest_parse() would have made from the full signed
 *	manifest.  The signature is not checked here: call
 *	pr_manifest_verify() with the tree's trusted key before using it,
 *	and the usual version and expiry checks.
 * signed_out: if not NULL, the full signed manifest (body and signature
 *	line, the bytes the origin signed) is appended, for a mirror to
 *	store and serve; its cap must allow the whole manifest.  On failure
 *	signed_out->len is as before.
 *
 * The whole patch is parsed and checked first: every line, every count
 * against the old entries left and the header's entry count, the order
 * of the entries produced; then the result must pass every rule of
 * pr_manifest_check() and its body must hash to the patch's "to" id.
 * Nothing is stored in *out or signed_out before all of that passed.
 *
 * Returns PD_OK, or:
 *	PD_ERR_PARSE	malformed patch, or a result that is not a valid
 *			manifest; the text names the patch line
 *	PD_ERR_LIMIT	patch, line, count or result over a limits.h cap,
 *			or over signed_out's cap
 *	PD_ERR_UNSAFE	the result has an unsafe path (pr_manifest_check)
 *	PD_ERR_CORRUPT	the patch's "from" is not the id of from, or the
 *			result's id is not the patch's "to"
 *	PD_ERR_USAGE	from is not signed
 *	PD_ERR_NOMEM	out of memory
 * err, if not NULL, gets the first failure's text, e.g. "manifest patch
 * line 14: copy past the end of the old manifest".
 */
enum pd_err pr_mpatch_apply(const struct pr_manifest *from,
	    const void *patch, size_t len, struct pr_manifest **out,
	    struct pd_buf *signed_out, struct pd_error *err) PD_WARN_UNUSED;

/*
 * pr_mpatch_apply, with the signed manifest given to sink (if not NULL)
 * as it is rebuilt, in pieces of about 64 KiB, so that it is never whole
 * in memory: a mirror writes it straight to its file.  The sink sees the
 * bytes before the checks on the whole are done: on failure it has had
 * a part or all of a manifest that is not the one promised, for the
 * caller to throw away.  A sink's failure code is returned, with err as
 * the sink left it.  On success sums (if not NULL) gets the body's id,
 * the content digest (pr_manifest_content_digest) and the bytes given
 * to sink, signature line included.
 */
enum pd_err pr_mpatch_apply_to(const struct pr_manifest *from,
	    const void *patch, size_t len, struct pr_manifest **out,
	    pr_sink *sink, void *arg, struct pr_msums *sums,
	    struct pd_error *err) PD_WARN_UNUSED;

#endif
