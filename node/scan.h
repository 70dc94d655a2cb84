/*
 * Walking a source tree for import: one lstat per entry, never following
 * a symbolic link, every directory opened relative to its parent's
 * descriptor.  The result is the tree's entries in manifest order with
 * what the stat cache needs (device, inode, ctime, link count).
 */
#ifndef ND_SCAN_H
#define ND_SCAN_H

#include <sys/stat.h>

#include <stdint.h>

#include "../common/arena.h"
#include "../protocol/manifest.h"

#define ND_ITEM_CACHED	0x1	/* hash taken from the stat cache */
#define ND_ITEM_HASHED	0x2	/* hash computed by this import */
#define ND_ITEM_MEMBER	0x4	/* hardlink member: copies its leader */
#define ND_ITEM_RACY	0x8	/* changed too recently to cache */
#define ND_ITEM_PROBE	0x10	/* same inode and size as cached: hash
				   first, store only if the content is new */

struct nd_item {
	struct pr_entry	 e;		/* path in the scan's arena */
	uint64_t	 dev;
	uint64_t	 ino;
	uint64_t	 nlink;
	struct pr_time	 ctime;
	uint32_t	 flags;		/* ND_ITEM_* */
	size_t		 leader;	/* hardlink leader's index (MEMBER) */
};

/* Called with a warning about one entry, e.g. a skipped fifo. */
typedef void nd_warn_fn(void *arg, const char *msg);

struct nd_scan {
	struct nd_item	*items;		/* sorted by path */
	size_t		 n;
	size_t		 cap;
	struct pd_arena	 arena;
	int		 rootfd;	/* the source directory, open */
	uint32_t	 root_mode;
	struct pr_time	 root_mtime;
	uint64_t	 skipped;	/* special files left out */
	uint32_t	 ngroups;	/* hardlink groups */
};

/*
 * Scan the directory src into s.  Special files are skipped with a
 * warning; names that need escaping are kept, with a warning.  The
 * directory exclude (the node's own data directory, if src holds it) is
 * skipped with a warning; exclude may be NULL.  An entry that cannot be
 * read fails the scan, naming its path.  Whatever it returns, free s with
 * nd_scan_free.
 */
enum pd_err nd_scan(const char *src, const struct stat *exclude,
	    struct nd_scan *s, nd_warn_fn *warn, void *warn_arg,
	    struct pd_error *) PD_WARN_UNUSED;
void	nd_scan_free(struct nd_scan *);

#endif
