/*
 * What a step from one version to the next is served as, made before
 * anyone asks (DESIGN.md, "Flow of one update", step 1: the delta pack
 * is computed at import, once): the manifest patch (node/routes.c,
 * DATA/mpatches/) and the pack's parts (node/batch.c, DATA/packs/).
 * They are the very files `serve` makes on the first request for them,
 * so the first mirror waits for no compression either, every mirror
 * gets the same bytes, and the server never holds a compressor at
 * zstd's strongest levels for them.
 */
#ifndef ND_PREPARE_H
#define ND_PREPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "../catalog/catalog.h"
#include "../common/pool.h"
#include "../common/sha256.h"
#include "dcache.h"

/* Bytes of a step's file names, with their NUL: "FROM-TO-PART". */
#define ND_STEP_NAME_MAX	(2 * PD_SHA256_HEX + 16)

/*
 * The names a step's files are kept under (the two manifest ids in
 * hex), which are also their ETags: part k of the pack from -> to,
 * "FROM-TO-K", in DATA/packs/XX/ with ".zst" (XX: the name's first two
 * characters); the manifest patch, "FROM-TO", in DATA/mpatches/XX/,
 * plain and with ".zst".  A mirror that received them puts them there
 * (node/keep.c), so that it serves the same bytes.
 */
void	nd_pack_name(const unsigned char *from, const unsigned char *to,
	    uint32_t part, char name[ND_STEP_NAME_MAX]);
void	nd_mpatch_name(const unsigned char *from, const unsigned char *to,
	    char name[ND_STEP_NAME_MAX]);

/*
 * Make and keep every part of the pack from the held manifest from to
 * the held manifest to, a part per task on pool.  *nparts (may be NULL)
 * gets how many parts the pack has.  Parts kept already are left as
 * they are.  Errors name the part; parts made before it stay (each is
 * whole or absent), and the rest are made when first asked for.
 */
enum pd_err nd_pack_prepare(struct cat *, struct nd_dcache *,
	    struct pd_pool *, const unsigned char *from,
	    const unsigned char *to, uint32_t *nparts, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * The manifest patch from the held manifest from to the held manifest
 * to, as kept (made now if it is not yet): plain, or zstd-compressed if
 * zstd.  An empty plain file says that a patch would be no smaller than
 * the manifest (no compressed one is made then: *fd is the empty plain
 * file).  *fd is the caller's to close.
 */
enum pd_err nd_mpatch_file(struct cat *, const unsigned char *from,
	    const unsigned char *to, bool zstd, int *fd, struct pd_error *)
	    PD_WARN_UNUSED;

#endif
