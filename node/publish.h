/*
 * Publishing a version on a mirror (DESIGN.md, "Flow of one update",
 * step 5): build the version's directory from verified content, move it
 * to DATA/versions/TREE/N, and switch PUBDIR/TREE (a symbolic link) to it
 * with one rename(2), so readers see the old tree or the new one, never a
 * mix.  Old versions stay while readers may be inside them; the last
 * `keep` remain.
 *
 * Every file is created beneath a directory descriptor of the tree being
 * built (pd_open_beneath: no symbolic link followed, nothing outside), and
 * every path comes from a manifest whose rules (no "..", parents are
 * directories) were checked before.
 *
 * nd_build is node/build.c, with builder.c for its steps and
 * build_src.c for where content comes from; the switch and the prune
 * are node/publish.c.
 */
#ifndef ND_PUBLISH_H
#define ND_PUBLISH_H

#include <stdint.h>

#include "../protocol/manifest.h"

struct nd_build_stats {
	uint64_t	 linked;	/* unchanged files linked from prev */
	uint64_t	 written;	/* from staged content, or empty */
	uint64_t	 copied;	/* copied from prev (renames...) */
	uint64_t	 bytes_written;	/* of the last two */
	uint64_t	 bytes_linked;	/* of which no byte was copied: staged
					 * objects that became files */
	uint64_t	 recycled;	/* inodes taken from the spare tree */
};

/*
 * Where a build's content comes from.  prev is the tree the new version
 * replaces (its inodes are linked, never changed); spare is a retired
 * version no reader is sent to any more (nd_publish_prune keeps one):
 * a file of it with a single link and the new content at the same path
 * is renamed into the build and given its new mode and mtime, where it
 * would otherwise be copied.  A manifest NULL or a descriptor -1 is no
 * such tree; stagefd -1 is no staged object.
 */
struct nd_build_src {
	const struct pr_manifest *prev;
	int			 prevfd;
	const struct pr_manifest *spare;
	int			 sparefd;
	int			 stagefd;
};

/*
 * Build m's tree into the empty directory buildfd (an ordinary
 * descriptor, not O_PATH: the top directory gets m's root mode and
 * mtime through it).  m must have passed pr_manifest_check.  Content
 * comes from src: prev's tree (unchanged files are hardlinked, content
 * found at another path is copied); the spare tree (files whose content
 * is unchanged at their path but whose metadata is not are taken over
 * rather than copied: a new kernel release changes every mtime); and
 * src->stagefd, a directory of objects named by their SHA-256 in
 * lowercase hex, whose hashes the caller verified, linked in (first
 * use) or copied.  Empty files need no source.  The spare is never
 * counted on: every content must be staged or in prev.
 *
 * Returns PD_OK with every entry in place with its type, content, mode,
 * mtime (nanoseconds; directories last, deepest first) and hardlink
 * groups.  Nothing is fsynced: the caller makes the tree durable with
 * syncfs(2) on its file system before renaming it into place.  Staged
 * objects used first become files of the tree (same inode, mode and
 * mtime set): the caller may remove them, never write to them.  An inode
 * of prev is linked, never modified.  Files taken from the spare are
 * gone from it, on success or not; the rest of it is left as it was.
 *
 * Errors (*err names the path, escaped): PD_ERR_NOTFOUND, some file's
 * content is neither staged nor in prev; PD_ERR_CORRUPT, a staged object
 * is not a regular file of the manifest's size; PD_ERR_PARSE, m breaks a
 * rule pr_manifest_check enforces; PD_ERR_IO, PD_ERR_NOMEM.  The first
 * two are found before anything is created, and staging and prev are
 * then untouched.  On any error buildfd holds a partial tree for the
 * caller to remove.  *st (may be NULL) counts what was done.  Callable
 * from any thread; one build per buildfd at a time.
 */
enum pd_err nd_build(int buildfd, const struct pr_manifest *m,
	    const struct nd_build_src *src, struct nd_build_stats *,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * nd_build in steps, for a pull to make most of a version while its
 * content still arrives: a new release of a large tree changes the
 * mtime of nearly every file, and copying those from prev is most of
 * the build.
 *
 * nd_build_new takes nd_build's arguments (which must outlive the
 * builder) and indexes them.  nd_build_dirs, optional, makes the
 * directories (0700 until the end), once; what makes files makes them
 * first if it was not called.  nd_build_early, optional, makes the
 * directories and every symbolic link and file
 * whose content prev has on the word of its manifest (linked, taken
 * from the spare or copied) or that is empty; it never looks in the
 * staging directory, which may be filled meanwhile, and leaves what it
 * cannot make.  It may run on another thread than the rest, and
 * nd_build_stop, from any thread, makes it end soon with
 * PD_ERR_CONFLICT.  nd_build_staged, optional, after nd_build_early if
 * that runs and on the same terms, makes every entry left whose content
 * is sha, an object just staged and verified (making the directories
 * first if nd_build_early did not): a first pull has no prev, and
 * linking its 80,000 staged objects in was most of its build.  Each
 * object is moved into the tree at the first path of its content (its
 * name leaves stagefd; other paths are copies), whatever happens after.
 * nd_build_given is nd_build_staged for content that was never named:
 * fd, verified, unnamed (O_TMPFILE, on buildfd's file system) and open
 * for reading and writing, becomes the first path's inode and is copied
 * to the others; it is closed whatever happens.
 * nd_build_finish checks that the content of every entry left can be
 * had (nd_build's errors) and makes the rest as nd_build does; *st (may
 * be NULL) counts every step.  After an error of any, buildfd holds a
 * partial tree for the caller to remove.  nd_build is nd_build_new,
 * nd_build_finish and nd_build_free.
 */
struct nd_builder;

/*
 * e's parent directory beneath root (root's own, duplicated, for a top
 * level entry), opened without following a link; *name points at the
 * last part of e's path.  -1 with errno set.
 */
int	nd_build_open_parent(int root, const struct pr_entry *e,
	    const char **name);

enum pd_err nd_build_new(int buildfd, const struct pr_manifest *m,
	    const struct nd_build_src *src, struct nd_builder **,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_build_dirs(struct nd_builder *, struct pd_error *)
	    PD_WARN_UNUSED;
enum pd_err nd_build_early(struct nd_builder *, struct pd_error *)
	    PD_WARN_UNUSED;
void	nd_build_stop(struct nd_builder *);
enum pd_err nd_build_staged(struct nd_builder *, const unsigned char *sha,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_build_given(struct nd_builder *, const unsigned char *sha,
	    int fd, struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_build_finish(struct nd_builder *, struct nd_build_stats *,
	    struct pd_error *) PD_WARN_UNUSED;
void	nd_build_free(struct nd_builder *);

/*
 * Point pubdir/tree at target (an absolute path) with one rename of a new
 * symbolic link over the old one, then fsync pubdir: a reader opening
 * pubdir/tree gets the old target or the new one, never nothing.
 * PD_ERR_EXISTS if pubdir/tree is anything but a symbolic link (a
 * user's directory or file is never replaced); PD_ERR_USAGE for a bad
 * tree name; PD_ERR_IO.
 */
enum pd_err nd_publish_switch(const char *pubdir, const char *tree,
	    const char *target, struct pd_error *) PD_WARN_UNUSED;

/*
 * Remove versions of the directory versdir (DATA/versions/TREE) numbered
 * at or below current - keep (keep 0 counts as 1): the last keep remain,
 * current always, numbers above current too.  The catalog's content
 * index must no longer name them (cat_content_forget through current -
 * keep, in the transaction that recorded current): nothing is served
 * from a version being removed, or from the spare.  Names that are not a
 * number without leading zeros are left alone.  With sparedir (made if
 * missing), the newest of the versions removed is moved there instead,
 * replacing what it held: the next build's spare tree.  PD_ERR_IO naming
 * the version that could not be removed.
 */
enum pd_err nd_publish_prune(const char *versdir, uint64_t current,
	    unsigned keep, const char *sparedir, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * The spare tree sparedir holds (one directory named by its version
 * number): *n and an open descriptor of it in *fd, or 0 and -1 if there
 * is none.  Anything else found there is removed.
 */
enum pd_err nd_publish_spare(const char *sparedir, uint64_t *n, int *fd,
	    struct pd_error *) PD_WARN_UNUSED;

#endif
