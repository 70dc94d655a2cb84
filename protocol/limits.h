/*
 * Caps on everything that comes from a file or a peer.  Every length or
 * count read from untrusted bytes is checked against one of these before
 * anything is allocated for it.  Changing one changes what pulpdist
 * accepts, so they are documented in spec/MANIFEST.md too.
 */
#ifndef PR_LIMITS_H
#define PR_LIMITS_H

#define PR_TREE_NAME_MAX	64		/* bytes in a tree name */
#define PR_PATH_MAX		4095		/* decoded bytes in a path */
#define PR_NAME_MAX		255		/* bytes in a path component */
#define PR_TARGET_MAX		4095		/* decoded bytes, link target */
#define PR_DEPTH_MAX		255		/* directory levels in a tree */
#define PR_ENTRIES_MAX		10000000ULL	/* entries in one manifest */
#define PR_MANIFEST_MAX		(2ULL << 30)	/* bytes of a signed manifest */
#define PR_LINE_MAX		(3 * 4096 + 3 * 4096 + 256) /* manifest line */
#define PR_FILE_SIZE_MAX	(1ULL << 44)	/* bytes in one file (16 TiB) */
#define PR_VERSION_MAX		((1ULL << 53) - 1) /* versions per tree */
#define PR_KEY_FILE_MAX		16384		/* bytes in a PEM key file */

#endif
