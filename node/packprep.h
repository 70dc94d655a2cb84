/*
 * Making a step's pack before anyone asks (DESIGN.md, "Flow of one
 * update", step 1: the delta pack is computed at import, once).  The
 * parts are the very files `serve` would make on the first request for
 * them (node/batch.c, DATA/packs/), so the first mirror waits for no
 * compression either, and every mirror gets the same bytes.
 */
#ifndef ND_PACKPREP_H
#define ND_PACKPREP_H

#include <stdint.h>

#include "../catalog/catalog.h"
#include "../common/pool.h"
#include "../common/sha256.h"
#include "dcache.h"

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

#endif
