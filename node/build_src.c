/*
 * Where the content of each file of a version being built comes from
 * (build.c, DESIGN): prev's same inode, a staged object, or a copy of
 * content found elsewhere.  A file of its own because this is the part
 * that distrusts its sources, and it reads better apart from the code
 * that creates entries; it shares struct build with build.c through
 * build_int.h.
 *
 * Sources are trusted for their bytes and nothing else.  The caller
 * checked the hash of every staged object; the previous tree was checked
 * when it was published.  But either may have been tampered with since:
 * a staged object must be a regular file of the manifest's size; a
 * previous file must be a regular file with its manifest's size, mode
 * and mtime, reached without following a symbolic link, and the inode
 * linked must be the one checked.  A previous file that fails this is
 * skipped (its content is looked for elsewhere), never followed.  Every
 * open uses O_NONBLOCK, so a fifo planted anywhere cannot hang a build.
 *
 * Where every file's content comes from is settled before the first
 * entry is created (a file to link from prev on the word of prev's
 * manifest, checked again when linked), so a version whose content is
 * missing fails without having touched staging or the previous tree.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/hex.h"
#include "../protocol/pathenc.h"
#include "build_int.h"

#define OPEN_SRC	(O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | \
			    O_CLOEXEC)

/* SHA-256 of no bytes: an empty file needs no source. */
static const unsigned char empty_sha[PD_SHA256_LEN] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

bool
nd_b_is_empty(const struct pr_entry *e)
{
	return e->size == 0 &&
	    memcmp(e->sha, empty_sha, PD_SHA256_LEN) == 0;
}

/* Is the inode st what entry e describes, as far as stat can tell? */
static bool
stat_is(const struct stat *st, const struct pr_entry *e)
{
	return S_ISREG(st->st_mode) && (uint64_t)st->st_size == e->size &&
	    (uint32_t)(st->st_mode & 07777) == e->mode &&
	    (int64_t)st->st_mtim.tv_sec == e->mtime.sec &&
	    (uint32_t)st->st_mtim.tv_nsec == e->mtime.nsec;
}

static bool
same_file(const struct pr_entry *a, const struct pr_entry *b)
{
	return a->type == PR_FILE && b->type == PR_FILE &&
	    a->size == b->size && a->mode == b->mode &&
	    a->mtime.sec == b->mtime.sec && a->mtime.nsec == b->mtime.nsec &&
	    memcmp(a->sha, b->sha, sizeof(a->sha)) == 0;
}

size_t
nd_b_sha_lower(const struct pr_manifest *m, const uint32_t *idx, size_t n,
    const unsigned char *sha)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (memcmp(m->entries[idx[mid]].sha, sha, PD_SHA256_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Position in bysha of the first prev file with this content or above. */
static size_t
prev_lower(const struct build *b, const unsigned char *sha)
{
	return nd_b_sha_lower(b->prev, b->bysha, b->nbysha, sha);
}

bool
nd_b_prev_has(const struct build *b, const unsigned char *sha)
{
	size_t k = prev_lower(b, sha);

	return k < b->nbysha && memcmp(b->prev->entries[b->bysha[k]].sha,
	    sha, PD_SHA256_LEN) == 0;
}

/*
 * Can new entry i (a group's first member, or in no group) be the very
 * inode of prev's same path?  For a group, only if prev had the same
 * group shape: the same paths, one inode, no other member.
 */
bool
nd_b_linkable(const struct build *b, size_t i)
{
	const struct pr_entry *e = &b->m->entries[i], *p, *q, *r;
	size_t k, n = 0;

	if (b->prev == NULL ||
	    (p = pr_manifest_find(b->prev, e->path, e->path_len)) == NULL ||
	    !same_file(e, p) || (e->link == 0) != (p->link == 0))
		return false;
	if (e->link == 0)
		return true;
	if (p->link > b->prev->nentries)
		return false;
	for (k = i; k != ND_B_NO_ENTRY; k = b->next[k]) {
		q = &b->m->entries[k];
		r = pr_manifest_find(b->prev, q->path, q->path_len);
		if (r == NULL || !same_file(q, r) || r->link != p->link)
			return false;
		n++;
	}
	return n == b->pcount[p->link - 1];
}

static enum pd_err
bad_object(struct build *b, const struct pr_entry *e, const char *hex,
    const struct stat *st)
{
	char ps[PR_SHOW_MAX];

	pr_path_show(e->path, e->path_len, ps, sizeof(ps));
	if (!S_ISREG(st->st_mode))
		return pd_fail(b->err, PD_ERR_CORRUPT, "staged object %s for "
		    "%s is not a regular file", hex, ps);
	return pd_fail(b->err, PD_ERR_CORRUPT, "staged object %s for %s has "
	    "%jd bytes, not %ju", hex, ps, (intmax_t)st->st_size,
	    (uintmax_t)e->size);
}

/*
 * Is e's content staged?  *present says; PD_ERR_CORRUPT if something
 * that is not its content sits under its name.
 */
static enum pd_err
staged(struct build *b, const struct pr_entry *e, bool *present)
{
	char hex[PD_SHA256_HEX];
	struct stat st;

	*present = false;
	if (b->stagefd < 0)
		return PD_OK;
	pd_hex_encode(e->sha, PD_SHA256_LEN, hex);
	if (fstatat(b->stagefd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? PD_OK : nd_b_efail(b, PD_ERR_IO,
		    errno, e, "looking for the staged content of");
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size)
		return bad_object(b, e, hex, &st);
	*present = true;
	return PD_OK;
}

/*
 * Open e's staged object: *fd (-1 if there is none), its stat in *st.
 * The name is the caller's word for the hash; type and size are checked.
 */
enum pd_err
nd_b_open_staged(struct build *b, const struct pr_entry *e, char *hex, int *fd,
    struct stat *st)
{
	*fd = -1;
	pd_hex_encode(e->sha, PD_SHA256_LEN, hex);
	if (b->stagefd < 0)
		return PD_OK;
	if ((*fd = openat(b->stagefd, hex, OPEN_SRC)) < 0) {
		if (errno == ENOENT)
			return PD_OK;
		if (errno == ELOOP) {
			st->st_mode = S_IFLNK;
			return bad_object(b, e, hex, st);
		}
		return nd_b_efail(b, PD_ERR_IO, errno, e,
		    "opening the staged content of");
	}
	if (fstat(*fd, st) < 0)
		return nd_b_efail(b, PD_ERR_IO, errno, e,
		    "opening the staged content of");
	if (!S_ISREG(st->st_mode) || (uint64_t)st->st_size != e->size)
		return bad_object(b, e, hex, st);
	return PD_OK;
}

/*
 * Open a file of prev with e's content: *fd, or -1 if none is a regular
 * file of the right size reached without a symbolic link.
 */
enum pd_err
nd_b_open_prev(struct build *b, const struct pr_entry *e, int *fd)
{
	const struct pr_entry *pe;
	const char *name;
	struct stat st;
	size_t k;
	int dfd;

	*fd = -1;
	if (b->prev == NULL)
		return PD_OK;
	/* Mostly the same path has it (only the mtime changed), and its
	 * directory is open already: no walk from the root. */
	pe = pr_manifest_find(b->prev, e->path, e->path_len);
	if (pe != NULL && pe->type == PR_FILE && pe->size == e->size &&
	    memcmp(pe->sha, e->sha, PD_SHA256_LEN) == 0) {
		if ((dfd = nd_b_dir_of(&b->pdir, pe, &name)) >= 0)
			*fd = openat(dfd, name, OPEN_SRC);
		if (*fd < 0 && nd_b_resource_errno(errno))
			return nd_b_efail(b, PD_ERR_IO, errno, pe,
			    "opening previous");
		if (*fd >= 0 && fstat(*fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size == e->size)
			return PD_OK;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	for (k = prev_lower(b, e->sha); k < b->nbysha; k++) {
		pe = &b->prev->entries[b->bysha[k]];
		if (memcmp(pe->sha, e->sha, PD_SHA256_LEN) != 0)
			break;
		if (pe->size != e->size)
			continue;
		if ((*fd = pd_open_beneath(b->prevfd, pe->path, OPEN_SRC,
		    0)) < 0) {
			if (nd_b_resource_errno(errno))
				return nd_b_efail(b, PD_ERR_IO, errno, pe,
				    "opening previous");
			continue;
		}
		if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size == e->size)
			return PD_OK;
		close(*fd);
		*fd = -1;
	}
	return PD_OK;
}

/*
 * Before anything is made: every file that is not linked from prev has
 * content staged or in prev (or is empty).  A staged object that is not
 * what its name says fails here too.
 */
enum pd_err
nd_b_locate_entry(struct build *b, size_t i)
{
	const struct pr_entry *e = &b->m->entries[i];
	enum pd_err rc;
	bool present;
	int fd;

	if (e->type != PR_FILE)
		return PD_OK;
	if (e->link > b->m->nentries)
		return nd_b_efail(b, PD_ERR_PARSE, 0, e,
		    "hardlink group out of range at");
	if ((e->link != 0 && b->first[e->link - 1] != i) || nd_b_linkable(b, i))
		return PD_OK;
	if (nd_b_is_empty(e))
		return PD_OK;
	if ((rc = staged(b, e, &present)) != PD_OK || present)
		return rc;
	if (b->prev != NULL && nd_b_prev_has(b, e->sha)) {
		if ((rc = nd_b_open_prev(b, e, &fd)) != PD_OK)
			return rc;
		if (fd >= 0) {
			close(fd);
			return PD_OK;
		}
	}
	return nd_b_efail(b, PD_ERR_NOTFOUND, 0, e, "no content for");
}

/*
 * Link e from prev's same path, if the file there is still what prev's
 * manifest says.  *done false: it is not, take the content elsewhere.
 */
enum pd_err
nd_b_link_prev(struct build *b, const struct pr_entry *e, int pfd,
    const char *name, bool *done)
{
	struct stat ps, bs;
	const char *lname;
	enum pd_err rc = PD_OK;
	int lfd;

	*done = false;
	if ((lfd = nd_b_dir_of(&b->pdir, e, &lname)) < 0)
		return nd_b_resource_errno(errno) ? nd_b_efail(b, PD_ERR_IO,
		    errno, e, "opening the previous directory of") : PD_OK;
	if (fstatat(lfd, lname, &ps, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !stat_is(&ps, e))
		goto out;
	if (linkat(lfd, lname, pfd, name, 0) < 0) {
		/* Too many links, another file system, gone: copy. */
		if (errno != EMLINK && errno != EXDEV && errno != ENOENT &&
		    errno != EPERM)
			rc = nd_b_efail(b, PD_ERR_IO, errno, e,
			    "linking unchanged");
		goto out;
	}
	/* The name may have changed between the check and the link. */
	if (fstatat(pfd, name, &bs, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = nd_b_efail(b, PD_ERR_IO, errno, e, "checking");
		goto out;
	}
	if (bs.st_ino != ps.st_ino || bs.st_dev != ps.st_dev ||
	    !stat_is(&bs, e)) {
		if (unlinkat(pfd, name, 0) < 0)
			rc = nd_b_efail(b, PD_ERR_IO, errno, e, "removing");
		goto out;
	}
	*done = true;
	b->st->linked++;
out:
	return rc;
}

/*
 * Take e from the spare tree: the file at e's path there, if it has e's
 * content, still is what the spare's manifest says, and has one link (no
 * kept version shares the inode, so giving it e's mode and mtime changes
 * no tree anyone reads).  Renamed, not copied: a release that touches
 * every mtime then costs no data written.  *done false: take it
 * elsewhere.
 */
enum pd_err
nd_b_take_spare(struct build *b, const struct pr_entry *e, int pfd,
    const char *name, bool *done)
{
	const struct pr_entry *se;
	struct timespec ts[2];
	struct stat ss, bs;
	const char *sname;
	int sfd;

	*done = false;
	if (b->spare == NULL ||
	    (se = pr_manifest_find(b->spare, e->path, e->path_len)) == NULL ||
	    se->type != PR_FILE || se->link != 0 || se->size != e->size ||
	    memcmp(se->sha, e->sha, PD_SHA256_LEN) != 0)
		return PD_OK;
	if ((sfd = nd_b_dir_of(&b->sdir, se, &sname)) < 0)
		return nd_b_resource_errno(errno) ? nd_b_efail(b, PD_ERR_IO,
		    errno, e, "opening the spare directory of") : PD_OK;
	if (fstatat(sfd, sname, &ss, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !stat_is(&ss, se) || ss.st_nlink != 1)
		return PD_OK;
	if (renameat2(sfd, sname, pfd, name, RENAME_NOREPLACE) < 0) {
		/* A read-only spare directory, gone meanwhile: copy. */
		if (errno == EACCES || errno == EPERM || errno == ENOENT ||
		    errno == EXDEV || errno == EBUSY)
			return PD_OK;
		return nd_b_efail(b, PD_ERR_IO, errno, e, "taking spare");
	}
	/* The name may have changed between the check and the rename: a
	 * file that is not the one checked is not trusted for its bytes. */
	if (fstatat(pfd, name, &bs, AT_SYMLINK_NOFOLLOW) < 0)
		return nd_b_efail(b, PD_ERR_IO, errno, e, "checking");
	if (bs.st_ino != ss.st_ino || bs.st_dev != ss.st_dev ||
	    !stat_is(&bs, se) || bs.st_nlink != 1) {
		if (unlinkat(pfd, name, 0) < 0)
			return nd_b_efail(b, PD_ERR_IO, errno, e, "removing");
		return PD_OK;
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime.sec;
	ts[0].tv_nsec = ts[1].tv_nsec = (long)e->mtime.nsec;
	/* Not through a descriptor: a 0000 file cannot be opened without
	 * CAP_DAC_OVERRIDE.  It was just checked to be a regular file in a
	 * directory only this build writes. */
	if (fchmodat(pfd, name, (mode_t)e->mode, 0) < 0 ||
	    utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return nd_b_efail(b, PD_ERR_IO, errno, e, "setting mode of");
	*done = true;
	b->st->recycled++;
	return PD_OK;
}
