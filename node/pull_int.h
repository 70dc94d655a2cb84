/*
 * Shared between the files of a pull only: node/pull.c (staging,
 * transfer, commit, publish: the order of events), node/pull_head.c
 * (what is held here and what the upstream offers: its head, the new
 * manifest, verified) and node/pull_build.c (the version's tree).  The
 * interface is pull.h.
 */
#ifndef ND_PULL_INT_H
#define ND_PULL_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../protocol/manifest.h"
#include "../protocol/pack.h"
#include "fetch.h"
#include "keep.h"
#include "publish.h"
#include "pull.h"
#include "xfer.h"

#define ND_PL_GIVEN_MAX	256

struct pull {
	struct cat		*c;
	const struct nd_pull_opts *o;
	struct nd_pull_result	*res;
	struct pd_error		*err;
	struct nd_fetch		*f;
	struct nd_fetch		*f2;		/* a second transfer loop's */
	struct cat_tree		 tree;
	bool			 have_tree;
	struct pr_manifest	*old;		/* held head, verified */
	uint64_t		 want;		/* upstream head */
	unsigned char		 want_id[PD_SHA256_LEN];
	struct pr_manifest	*m;		/* the new version, verified */
	struct cat_mwriter	*mw;		/* its bytes as signed, going
						 * to the catalog, until
						 * verified */
	size_t			 mlen;		/* how many */
	unsigned char		 mdigest[PD_SHA256_LEN];	/* content */
	struct cat_version	 ver;		/* its record, described */
	bool			 prefilled;	/* content index written
						 * before the commit */
	struct cat_cstep	*cstep;		/* its step in the content
						 * index, once built */
	char			 versdir[PATH_MAX];	/* DATA/versions/T */
	char			 sparedir[PATH_MAX];	/* DATA/spare/T */
	int			 stagefd;	/* DATA/staging/T */
	int			 objfd;
	int			 tmpfd;
	int			 prevfd;	/* versions/T/<old> */
	struct pr_pack		 pack;		/* what the step needs */
	bool			 use_pack;	/* ask for its parts */
	bool			 empty_staged;
	struct nd_xitem		*items;		/* one per pack item */
	size_t			 nitems;
	struct nd_keep		*keep;		/* what comes, to relay */
	/* The manifest patch as decoded and as it came (both empty: the
	 * upstream said it is not worth it), if the manifest came so. */
	bool			 got_patch;
	struct pd_buf		 patch;
	struct pd_buf		 zpatch;
	/* The build (pull_build.c), begun while the content comes. */
	int			 buildfd;	/* DATA/staging/T/build */
	struct nd_builder	*bl;
	struct pr_manifest	*spare;		/* the spare tree's */
	int			 sparefd;
	pthread_t		 early;		/* the build's thread */
	bool			 early_running;
	enum pd_err		 early_rc;	/* PD_OK until it fails */
	struct pd_error		 early_err;
	/* Entries (numbers in p->m) whose content the transfer staged, for
	 * that thread to make: one slot per item, each staged once. */
	pthread_mutex_t		 qmu;
	pthread_cond_t		 qcv;
	bool			 qinit;
	bool			 qclosed;	/* nothing more comes */
	uint32_t		*queue;
	size_t			 qhead;		/* next to make */
	size_t			 qlen;
	size_t			 qcap;
	/* Objects the transfer gave as unnamed files, not made yet: their
	 * entries and descriptors, a ring under qmu.  Its size bounds the
	 * descriptors held; when it is full, objects are staged. */
	uint32_t		 gidx[ND_PL_GIVEN_MAX];
	int			 gfd[ND_PL_GIVEN_MAX];
	size_t			 ghead;
	size_t			 glen;
	bool			 gopen;		/* the thread takes them */
	/* The thread that has the disk write what is staged, under qmu. */
	pthread_t		 flusher;
	bool			 flusher_running;
	pthread_cond_t		 fcv;
	bool			 fclosed;	/* its last round now */
	bool			 fstop;		/* none */
};

/*
 * pull_head.c.  nd_pl_load_held: the tree as held (p->tree,
 * p->have_tree), refusing another key than --trust's.  nd_pl_load_old:
 * the held head's manifest, verified (p->old; none for no head).
 * nd_pl_held_id: the id of the held head's manifest.  nd_pl_fetch_head:
 * the upstream's head (p->want, p->want_id), a hint.  nd_pl_fetch_manifest:
 * the new manifest (p->m; p->mlen, p->mdigest), from a patch against
 * p->old when the upstream makes one (what came in p->patch and
 * p->zpatch, p->got_patch), else whole; its bytes written into p->mw
 * either way; verified against --trust, the head's id, its expiry.
 * Each fails naming the tree and the upstream.
 */
enum pd_err nd_pl_load_held(struct pull *) PD_WARN_UNUSED;
enum pd_err nd_pl_load_old(struct pull *) PD_WARN_UNUSED;
enum pd_err nd_pl_held_id(struct pull *, unsigned char id[PD_SHA256_LEN])
	    PD_WARN_UNUSED;
enum pd_err nd_pl_fetch_head(struct pull *) PD_WARN_UNUSED;
enum pd_err nd_pl_fetch_manifest(struct pull *) PD_WARN_UNUSED;

/*
 * pull_build.c.  nd_pl_build_start: an empty DATA/staging/T/build, the
 * spare tree if any, and a thread of its own that builds, while the
 * content comes, the part that needs nothing staged (an update only),
 * then each file whose content nd_pl_staged tells it came, or
 * nd_pl_give gives it.  nd_pl_staged, nd_pl_give, nd_pl_place_dir:
 * for nd_xfer_opts.staged, .give and .place_dir, arg p.  nd_pl_build_join: wait
 * for that thread to end, first asking it to stop if stop, else to make
 * what it was told first.  nd_pl_build: the rest of the build once
 * everything is staged, made durable and moved to versions/T/N (name:
 * "N").  nd_pl_build_free: all of it undone in memory (joined, stopped),
 * whatever happened; the directory stays for the next attempt.
 */
enum pd_err nd_pl_build_start(struct pull *) PD_WARN_UNUSED;
void	nd_pl_staged(void *p, const struct nd_xitem *);
bool	nd_pl_give(void *p, const struct nd_xitem *, int fd);
int	nd_pl_place_dir(void *p, const struct nd_xitem *);
void	nd_pl_build_join(struct pull *, bool stop);
enum pd_err nd_pl_build(struct pull *, char *name, size_t namelen)
	    PD_WARN_UNUSED;
void	nd_pl_build_free(struct pull *);

#endif
