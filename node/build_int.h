/*
 * Shared between the two files that build a version's tree only:
 * node/build.c (creating the entries, on workers) and node/build_src.c
 * (where each file's content comes from).  The interface is publish.h.
 */
#ifndef ND_BUILD_INT_H
#define ND_BUILD_INT_H

#include <sys/stat.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "publish.h"

#define ND_B_NO_ENTRY	UINT32_MAX
#define ND_B_STAGE_LOCKS	64

/*
 * The directory of the last entry, kept open: entries come in path
 * order, so most share their directory with the one before, and opening
 * it beneath the root (openat2 walks every component) once a directory
 * instead of once a file matters at 80,000 files.
 */
struct dircache {
	int		 root;
	int		 fd;		/* of path, or -1 */
	char		*path;
	size_t		 len;
	size_t		 cap;
};

struct build {
	const struct pr_manifest *m;
	const struct pr_manifest *prev;	/* NULL: no previous tree */
	const struct pr_manifest *spare; /* NULL: no spare tree */
	int			 buildfd;
	int			 prevfd;
	int			 sparefd;
	int			 stagefd;	/* -1: nothing staged */
	int			 given;		/* nd_build_given's, or -1 */
	/* Entry numbers fit 32 bits (PR_ENTRIES_MAX): an update holds
	 * these for 80,000 entries beside two manifests. */
	uint32_t		*bysha;		/* prev files sorted by sha */
	size_t			 nbysha;
	uint32_t		*first;		/* group g's first entry */
	uint32_t		*next;		/* next entry of the group */
	uint32_t		*pcount;	/* prev group g's members */
	struct dircache		 bdir;		/* in the tree being built */
	struct dircache		 pdir;		/* in prev's tree */
	struct dircache		 sdir;		/* in the spare tree */
	/* A staged object's first use, one lock for the objects whose
	 * SHA-256 starts with the same byte (mod ND_B_STAGE_LOCKS): a
	 * single lock made the two workers wait on each other's links. */
	pthread_mutex_t		 stage_mu[ND_B_STAGE_LOCKS];
	struct nd_build_stats	*st;
	struct pd_error		*err;
	uint8_t			*made;		/* entry i made early */
	atomic_bool		*stop;		/* nd_build_stop said so */
};

struct pd_pool;

/* Is e an empty file, which needs no source? */
bool	nd_b_is_empty(const struct pr_entry *e);

/* build.c */

/* Fail with what and e's path (escaped), with errnum's text unless 0. */
enum pd_err nd_b_efail(struct build *, enum pd_err, int errnum,
	    const struct pr_entry *e, const char *what);

/* Is e a lack of descriptors or memory, not of the file looked for? */
bool	nd_b_resource_errno(int e);

/*
 * e's parent directory beneath c's root, kept open in c; *name points at
 * the last part of e's path.  The descriptor is c's (do not close it);
 * -1 with errno set.
 */
int	nd_b_dir_of(struct dircache *c, const struct pr_entry *e,
	    const char **name);

/* Release c's descriptor and path. */
void	nd_b_dircache_free(struct dircache *c);

/* How a file is made from its sources. */
enum nd_b_how {
	ND_B_ANY,	/* any source; a staged object's first use is linked */
	ND_B_EARLY,	/* nd_build_early's rules (publish.h): nothing staged */
	ND_B_COPY,	/* a staged object is copied: it has another use */
	ND_B_TAKE,	/* a staged object is moved in: its last use */
};

/*
 * Make entry i (its parent exists), as how says; *made says whether it
 * was, or is left for later (ND_B_EARLY only).
 */
enum pd_err nd_b_make_entry(struct build *, size_t i, enum nd_b_how how,
	    bool *made) PD_WARN_UNUSED;

/* A later member of a hardlink group: made after its group's first. */
bool	nd_b_later_member(const struct build *, size_t i);

/* Parents before children: every directory, in path order. */
enum pd_err nd_b_make_dirs(struct build *) PD_WARN_UNUSED;

/* Directories' modes and mtimes, deepest first, then the root. */
enum pd_err nd_b_finish_dirs(struct build *) PD_WARN_UNUSED;

/*
 * fn for every entry, on the workers of pool, a chunk of entries in path
 * order at a time; the first error in path order is the one reported,
 * and the workers' counts are added to b's.
 */
typedef enum pd_err nd_b_entry_fn(struct build *, size_t);
enum pd_err nd_b_run_chunks(struct build *, struct pd_pool *pool,
	    nd_b_entry_fn *fn) PD_WARN_UNUSED;

/* build_src.c */

/*
 * Position in idx (n entry numbers of m, sorted by content) of the first
 * entry whose SHA-256 is sha or above.
 */
size_t	nd_b_sha_lower(const struct pr_manifest *m, const uint32_t *idx,
	    size_t n, const unsigned char *sha);

/* Has prev a file with this content (on the word of its manifest)? */
bool	nd_b_prev_has(const struct build *, const unsigned char *sha);

/*
 * Can new entry i (a group's first member, or in no group) be the very
 * inode of prev's same path?
 */
bool	nd_b_linkable(const struct build *, size_t i);

/*
 * Open e's staged object, named in hex: *fd (-1 if none), its stat in
 * *st.  PD_ERR_CORRUPT if it is not a regular file of e's size.
 */
enum pd_err nd_b_open_staged(struct build *, const struct pr_entry *e,
	    char *hex, int *fd, struct stat *st) PD_WARN_UNUSED;

/* Open a file of prev with e's content: *fd, or -1 if none is fit. */
enum pd_err nd_b_open_prev(struct build *, const struct pr_entry *e,
	    int *fd) PD_WARN_UNUSED;

/*
 * Link e from prev's same path, if the file there is still what prev's
 * manifest says.  *done false: it is not, take the content elsewhere.
 */
enum pd_err nd_b_link_prev(struct build *, const struct pr_entry *e, int pfd,
	    const char *name, bool *done) PD_WARN_UNUSED;

/*
 * Take e from the spare tree, renamed into pfd/name and given e's mode
 * and mtime, if the spare's file has e's content, is what the spare's
 * manifest says and has one link.  *done false: take it elsewhere.
 */
enum pd_err nd_b_take_spare(struct build *, const struct pr_entry *e,
	    int pfd, const char *name, bool *done) PD_WARN_UNUSED;

/*
 * Before anything is made: can entry i's content be had?  PD_ERR_NOTFOUND
 * if not, PD_ERR_CORRUPT for a staged object that is not what it says.
 */
enum pd_err nd_b_locate_entry(struct build *, size_t i) PD_WARN_UNUSED;

#endif
