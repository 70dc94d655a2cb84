/*
 * What a mirror keeps of what it received for a step, so that it serves
 * it onwards as it came instead of making it again (DESIGN.md, "Flow of
 * one update", step 6, relay): pack parts and batch responses as they
 * came off the wire (zstd), the manifest patch, every delta (as it came
 * when it came alone, else compressed here: a batch's deltas come
 * decoded), the compressed form of objects that came alone, and the
 * upstream's judgement that a delta was not worth it.  Each goes where
 * the server looks for it, under the name the origin gives it
 * (node/prepare.h, node/dcache.h), so a relay computes no delta and no
 * signature, and hands every receiver the bytes the origin made.
 *
 * Nothing is kept before it is verified.  A response is offered when it
 * has ended, and kept only if every item it carried ended verified
 * against the signed manifest (an object hashed, a delta applied and its
 * result hashed: nd_xitem's done) with no trouble on the way (nd_xitem's
 * trouble: wrong bytes, a delta that did not apply, a "missing").
 * nd_keep_install moves what passed into place, durably, before the
 * version is recorded; the catalog records of deltas and compressed
 * objects go into the transaction that records it (nd_keep_records).  A
 * crash anywhere leaves nothing, or whole files without their record
 * (which the delta cache never trusts), or everything.
 *
 * A pull keeps only what came for a step from a version it held: a
 * first pull's content is the tree, served from its files (node/pull.c).
 *
 * Offers are best effort: one that cannot be taken (no memory, a write
 * error, over its cap) is dropped, and the server makes that thing
 * itself if it is ever asked for.  Offers may come from any thread;
 * install and records from the pull's.
 */
#ifndef ND_KEEP_H
#define ND_KEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../catalog/catalog.h"

struct nd_keep;
struct nd_keep_raw;
struct nd_xitem;

/* What was kept, for the pull's summary. */
struct nd_keep_stats {
	uint64_t	 packs;		/* pack parts */
	uint64_t	 batches;	/* batch responses */
	uint64_t	 mpatches;	/* manifest patches */
	uint64_t	 objects;	/* compressed forms of objects */
	uint64_t	 deltas;	/* deltas */
	uint64_t	 wholes;	/* deltas judged not worth it */
	uint64_t	 bytes;		/* in the files kept */
};

/*
 * A keeper for one pull of the catalog c's node, whose temp files go to
 * the directory tmpfd (the pull's staging area: the same file system as
 * the data directory, so that they are renamed into place).
 */
enum pd_err nd_keep_new(struct cat *c, int tmpfd, struct nd_keep **,
	    struct pd_error *) PD_WARN_UNUSED;
/* Drop whatever was not installed, temp files too; NULL is a no-op. */
void	nd_keep_free(struct nd_keep *);

/* The step: the manifest ids the pack parts and the patch are from/to. */
void	nd_keep_step(struct nd_keep *, const unsigned char *from,
	    const unsigned char *to);

/*
 * A body to offer once it has ended, received as it comes off the wire
 * (nd_keep_raw_write is an nd_raw_fn), at most cap bytes.  NULL when k
 * is NULL or it cannot be made: then nothing is offered.
 */
struct nd_keep_raw *nd_keep_raw_new(struct nd_keep *k, uint64_t cap);
void	nd_keep_raw_write(void *raw, bool zstd, const void *, size_t);
/* Forget a body; NULL is a no-op. */
void	nd_keep_raw_drop(struct nd_keep_raw *);

/*
 * Offers of bodies that ended whole; each takes raw over (NULL: no-op).
 * A pack part (part of the step's pack) and a batch response (key: the
 * SHA-256 of the request body) are kept only as zstd streams, and only
 * if each of items[0..n) ended well; an object that came alone, or a
 * delta that came alone (size: its bytes decoded), if it did: true if
 * that offer was taken.
 */
void	nd_keep_pack(struct nd_keep_raw *, uint32_t part,
	    struct nd_xitem *const *items, size_t n);
void	nd_keep_batch(struct nd_keep_raw *, const unsigned char *key,
	    struct nd_xitem *const *items, size_t n);
void	nd_keep_object(struct nd_keep_raw *, struct nd_xitem *);
bool	nd_keep_zdelta(struct nd_keep_raw *, struct nd_xitem *,
	    uint64_t size);

/*
 * Other offers (k NULL: no-op).  nd_keep_delta: the plain delta of it,
 * the file name in the directory dirfd, which has applied and given the
 * manifest's content (the file is taken over: renamed away).
 * nd_keep_whole: the upstream sent its object for the delta asked
 * for.  nd_keep_mpatch: the manifest patch of the step, as decoded and
 * as it came (zlen 0: it came plain), both empty when the upstream
 * said a patch is not worth it; offered once the manifest it made is
 * verified.
 */
void	nd_keep_delta(struct nd_keep *, struct nd_xitem *it, int dirfd,
	    const char *name);
void	nd_keep_whole(struct nd_keep *, struct nd_xitem *it);
void	nd_keep_mpatch(struct nd_keep *, const void *plain, size_t len,
	    const void *z, size_t zlen);

/*
 * Once every transfer is over: move what passed into DATA/packs,
 * DATA/batches, DATA/mpatches, DATA/deltas and DATA/zobjects, durably
 * (a file already kept under a name stays); drop the rest.  Errors:
 * PD_ERR_IO naming the file, PD_ERR_NOMEM.
 */
enum pd_err nd_keep_install(struct nd_keep *, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Write the catalog records of what was installed in t, the transaction
 * that records the version.  Records the catalog has already are left.
 */
enum pd_err nd_keep_records(struct nd_keep *, struct cat_txn *t,
	    struct pd_error *) PD_WARN_UNUSED;

void	nd_keep_stats(const struct nd_keep *, struct nd_keep_stats *);

#endif
