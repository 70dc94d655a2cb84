/*
 * Build a version directory (nd_build, publish.h): making its entries.
 * The steps a build goes through, and the builder that holds them, are
 * builder.c; where each file's content comes from is build_src.c.  The
 * checks on sources read best on their own, and the three together are
 * too big for one file.
 *
 * DESIGN: directories are created first, in manifest order, so a parent
 * always exists before its children; then files and links, a chunk of
 * entries at a time on worker threads; then the other members of
 * hardlink groups, which link to a first member made before.  Directories
 * are made 0700 and get their real mode and mtime last, deepest first (a
 * read-only directory must still take its children, and adding a child
 * changes the mtime).
 * A file is, in order of preference: a hard link to the same file in the
 * previous version (same content, mode, mtime and hardlink shape: the
 * inode is identical, nothing to write); the spare tree's file at the
 * same path with the same content, renamed over (only the metadata
 * changed, and no kept tree holds that inode); a link to the staged
 * object (its first use: the object's inode becomes the file); a copy of
 * content found elsewhere (a rename, a copy, a second use).  Members of a
 * hardlink group are links to the group's first path.
 *
 * An inode that some tree already holds is never given a mode or a time:
 * that would change the published version under its readers.  Only new
 * copies, spare files with a single link (no tree but the spare, which
 * no reader is sent to, held them) and staged objects with a single
 * link get metadata, and a staged object is linked in only when its
 * owner can still read it (a 0000 file could not be copied from for a
 * second use without CAP_DAC_OVERRIDE).
 *
 * How far a source is trusted, and why every file's source is settled
 * before the first entry is made: build_src.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/mem.h"
#include "../common/pool.h"
#include "../protocol/pathenc.h"
#include "build_int.h"

/*
 * A worker takes at least BUILD_CHUNK entries at a time, and ends its
 * chunk where the parent directory changes, up to BUILD_CHUNK_MAX.  Two
 * workers creating names in one directory serialize on its lock, and the
 * kernel spins for it: with 1,000 files a directory and chunks cut at
 * 256, that spinning was a fifth of a pull's CPU.
 */
#define BUILD_CHUNK	256
#define BUILD_CHUNK_MAX	4096
#define COPY_CHUNK	((size_t)1 << 30)	/* per copy_file_range call */

enum pd_err
nd_b_efail(struct build *b, enum pd_err code, int errnum,
    const struct pr_entry *e, const char *what)
{
	char ps[PR_SHOW_MAX];

	pr_path_show(e->path, e->path_len, ps, sizeof(ps));
	if (errnum)
		return pd_fail_errno(b->err, code, errnum, "%s %s", what, ps);
	return pd_fail(b->err, code, "%s %s", what, ps);
}

/* Running out of descriptors or memory is no reason to look elsewhere. */
bool
nd_b_resource_errno(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == EIO;
}

int
nd_build_open_parent(int root, const struct pr_entry *e, const char **name)
{
	const char *slash = memrchr(e->path, '/', e->path_len);
	char *dir;
	int fd, saved;

	if (slash == NULL) {
		*name = e->path;
		return fcntl(root, F_DUPFD_CLOEXEC, 0);
	}
	*name = slash + 1;
	if ((dir = pd_memdup0(e->path, (size_t)(slash - e->path))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	fd = pd_open_beneath(root, dir, O_RDONLY | O_DIRECTORY, 0);
	saved = errno;
	pd_free(dir);
	errno = saved;
	return fd;
}

/* As nd_build_open_parent, the descriptor the cache's: do not close it. */
int
nd_b_dir_of(struct dircache *c, const struct pr_entry *e, const char **name)
{
	const char *slash = memrchr(e->path, '/', e->path_len);
	size_t len = slash ? (size_t)(slash - e->path) : 0;
	char *p;

	if (slash == NULL) {
		*name = e->path;
		return c->root;
	}
	*name = slash + 1;
	if (c->fd >= 0 && len == c->len && memcmp(c->path, e->path, len) == 0)
		return c->fd;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (len + 1 > c->cap) {
		if ((p = pd_reallocarray(c->path, 2 * len + 64, 1)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		c->path = p;
		c->cap = 2 * len + 64;
	}
	memcpy(c->path, e->path, len);
	c->path[len] = '\0';
	c->len = len;
	c->fd = pd_open_beneath(c->root, c->path, O_RDONLY | O_DIRECTORY, 0);
	return c->fd;
}

void
nd_b_dircache_free(struct dircache *c)
{
	if (c->fd >= 0)
		close(c->fd);
	pd_free(c->path);
}

/*
 * Copy size bytes from in to out, in bounded pieces.  0, or an errno;
 * EIO if in ends early (it changed since its size was checked).
 */
static int
copy_fd(int in, int out, uint64_t size)
{
	unsigned char buf[65536];
	uint64_t done = 0;
	size_t want;
	ssize_t n;

	while (done < size) {
		want = size - done > COPY_CHUNK ? COPY_CHUNK :
		    (size_t)(size - done);
		if ((n = copy_file_range(in, NULL, out, NULL, want, 0)) > 0) {
			done += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return EIO;
		if (errno == EINTR)
			continue;
		/* Not between these files: the offsets moved, read on. */
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
		    errno == EOPNOTSUPP)
			break;
		return errno;
	}
	while (done < size) {
		want = size - done > sizeof(buf) ? sizeof(buf) :
		    (size_t)(size - done);
		if ((n = pd_read_full(in, buf, want)) < 0)
			return errno;
		if (n == 0)
			return EIO;
		if (pd_write_all(out, buf, (size_t)n) != PD_OK)
			return errno;
		done += (uint64_t)n;
	}
	return 0;
}

/* Give an inode of this build e's mode, then its mtime. */
static int
set_meta(int fd, const struct pr_entry *e)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime.sec;
	ts[0].tv_nsec = ts[1].tv_nsec = (long)e->mtime.nsec;
	if (fchmod(fd, (mode_t)e->mode) < 0 || futimens(fd, ts) < 0)
		return -1;
	return 0;
}

/* A staged or given object became e's file: count it. */
static void
count_taken(struct build *b, const struct pr_entry *e)
{
	b->st->written++;
	b->st->bytes_written += e->size;
	b->st->bytes_linked += e->size;
}

/* nd_build_given's object becomes e's file, named in pfd. */
static enum pd_err
take_given(struct build *b, const struct pr_entry *e, int pfd,
    const char *name)
{
	if (set_meta(b->given, e) < 0)
		return nd_b_efail(b, PD_ERR_IO, errno, e, "setting mode of");
	if (pd_link_fd(b->given, pfd, name) < 0)
		return nd_b_efail(b, PD_ERR_IO, errno, e, "linking");
	count_taken(b, e);
	return PD_OK;
}

/*
 * Materialize a file: empty, staged object (linked, moved or copied, as
 * how says), copy of prev.  ND_B_EARLY: staging is not looked at, and a
 * file whose content prev does not have is left for later, *made false.
 */
static enum pd_err
make_file(struct build *b, const struct pr_entry *e, int pfd,
    const char *name, enum nd_b_how how, bool *made)
{
	char hex[PD_SHA256_HEX];
	struct stat st, lst;
	pthread_mutex_t *mu;
	enum pd_err rc = PD_OK;
	bool from_prev = false, given = false;
	int in = -1, out = -1, e2, lr;

	*made = true;
	if (nd_b_is_empty(e))
		goto create;
	if (how == ND_B_TAKE && b->given >= 0)
		return take_given(b, e, pfd, name);
	if (how == ND_B_COPY && b->given >= 0) {
		/* Never named: nothing else can reach it; ours to read. */
		in = b->given;
		given = true;
		if (lseek(in, 0, SEEK_SET) < 0) {
			rc = nd_b_efail(b, PD_ERR_IO, errno, e, "copying");
			goto out;
		}
	} else if (how != ND_B_EARLY &&
	    (rc = nd_b_open_staged(b, e, hex, &in, &st)) != PD_OK)
		goto out;
	/* A later use must still read it: only its owner's can be linked.
	 * Moved, it is used no more. */
	if (in >= 0 && !given && (how == ND_B_TAKE || (how == ND_B_ANY &&
	    (e->mode & S_IRUSR)))) {
		/* First use: the staged inode becomes the file.  Workers may
		 * build two paths of one content at once: only one may see
		 * a single link and take it. */
		mu = &b->stage_mu[e->sha[0] % ND_B_STAGE_LOCKS];
		pthread_mutex_lock(mu);
		if (fstat(in, &st) < 0 || st.st_nlink != 1)
			lr = 1;
		else if (how == ND_B_TAKE)
			lr = renameat2(b->stagefd, hex, pfd, name,
			    RENAME_NOREPLACE);
		else
			lr = linkat(b->stagefd, hex, pfd, name, 0);
		e2 = errno;
		pthread_mutex_unlock(mu);
		if (lr == 0) {
			if (fstatat(pfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
				rc = nd_b_efail(b, PD_ERR_IO, errno, e,
				    "checking");
				goto out;
			}
			if (lst.st_ino != st.st_ino ||
			    lst.st_dev != st.st_dev) {
				rc = nd_b_efail(b, PD_ERR_CORRUPT, 0, e,
				    "staged content replaced while linked for");
				goto out;
			}
			if (set_meta(in, e) < 0) {
				rc = nd_b_efail(b, PD_ERR_IO, errno, e,
				    "setting mode of");
				goto out;
			}
			count_taken(b, e);
			goto out;
		}
		if (lr < 0 && e2 != EXDEV && e2 != EMLINK) {
			rc = nd_b_efail(b, PD_ERR_IO, e2, e, "linking");
			goto out;
		}
	}
	if (in < 0) {
		if ((rc = nd_b_open_prev(b, e, &in)) != PD_OK)
			goto out;
		if (in < 0 && how == ND_B_EARLY) {
			*made = false;
			goto out;
		}
		if (in < 0) {
			rc = nd_b_efail(b, PD_ERR_NOTFOUND, 0, e,
			    "no content for");
			goto out;
		}
		from_prev = true;
	}
create:
	if ((out = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		rc = nd_b_efail(b, PD_ERR_IO, errno, e, "creating");
		goto out;
	}
	if (in >= 0 && (e2 = copy_fd(in, out, e->size)) != 0) {
		rc = nd_b_efail(b, PD_ERR_IO, e2, e, "copying");
		goto out;
	}
	/* After the bytes: a write clears set-user-ID. */
	if (set_meta(out, e) < 0) {
		rc = nd_b_efail(b, PD_ERR_IO, errno, e, "setting mode of");
		goto out;
	}
	if (from_prev)
		b->st->copied++;
	else
		b->st->written++;
	b->st->bytes_written += e->size;
out:
	if (in >= 0 && !given)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

enum pd_err
nd_b_make_entry(struct build *b, size_t i, enum nd_b_how how, bool *made)
{
	const struct pr_entry *e = &b->m->entries[i], *l;
	struct timespec ts[2];
	const char *name, *lname;
	enum pd_err rc = PD_OK;
	bool done = false;
	int pfd, lfd;

	*made = true;
	if (how == ND_B_EARLY && (e->type == PR_DIR ||
	    nd_b_later_member(b, i) ||
	    (e->type == PR_FILE && !nd_b_prev_has(b, e->sha) &&
	    !nd_b_is_empty(e)))) {
		*made = false;	/* its content would be staged */
		return PD_OK;
	}
	if ((pfd = nd_b_dir_of(&b->bdir, e, &name)) < 0)
		return nd_b_efail(b, PD_ERR_IO, errno, e,
		    "opening the directory of");
	switch (e->type) {
	case PR_DIR:
		if (mkdirat(pfd, name, 0700) < 0)
			rc = nd_b_efail(b, PD_ERR_IO, errno, e,
			    "creating directory");
		break;
	case PR_LINK:
		ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime.sec;
		ts[0].tv_nsec = ts[1].tv_nsec = (long)e->mtime.nsec;
		if (symlinkat(e->target, pfd, name) < 0 ||
		    utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			rc = nd_b_efail(b, PD_ERR_IO, errno, e,
			    "creating symbolic link");
		break;
	case PR_FILE:
		if (e->link != 0 && b->first[e->link - 1] != i) {
			/* A later member: link to the group's first path. */
			l = &b->m->entries[b->first[e->link - 1]];
			lfd = nd_build_open_parent(b->buildfd, l, &lname);
			if (lfd < 0 || linkat(lfd, lname, pfd, name, 0) < 0)
				rc = nd_b_efail(b, PD_ERR_IO, errno, e,
				    "linking");
			if (lfd >= 0)
				close(lfd);
			break;
		}
		if (nd_b_linkable(b, i) &&
		    (rc = nd_b_link_prev(b, e, pfd, name, &done)) != PD_OK)
			break;
		if (!done && (rc = nd_b_take_spare(b, e, pfd, name, &done)) !=
		    PD_OK)
			break;
		if (!done)
			rc = make_file(b, e, pfd, name, how, made);
		break;
	default:
		rc = nd_b_efail(b, PD_ERR_PARSE, 0, e, "unknown type of");
		break;
	}
	return rc;
}

bool
nd_b_later_member(const struct build *b, size_t i)
{
	const struct pr_entry *e = &b->m->entries[i];

	return e->type == PR_FILE && e->link != 0 &&
	    b->first[e->link - 1] != i;
}

struct pbuild {
	nd_b_entry_fn		*fn;
	size_t			 n;
	struct build		*w;		/* one per worker */
	struct nd_build_stats	*wst;		/* one per worker */
	size_t			*start;		/* one per chunk, + 1 */
	enum pd_err		*rc;		/* one per chunk */
	struct pd_error		*errs;		/* one per chunk */
	atomic_bool		 failed;
};

/* Length of the parent directory's part of path ("" at the top). */
static size_t
parent_len(const struct pr_entry *e)
{
	const char *slash = memrchr(e->path, '/', e->path_len);

	return slash == NULL ? 0 : (size_t)(slash - e->path);
}

/*
 * Cut m's entries into chunks, start[c] to start[c + 1]; returns how
 * many.  start holds at least nentries / BUILD_CHUNK + 2 slots.
 */
static size_t
cut_chunks(const struct pr_manifest *m, size_t *start)
{
	size_t c = 0, i, from = 0, plen = 0, l;

	start[0] = 0;
	for (i = 0; i < m->nentries; i++) {
		l = parent_len(&m->entries[i]);
		if (i - from >= BUILD_CHUNK_MAX || (i - from >= BUILD_CHUNK &&
		    (l != plen || memcmp(m->entries[i].path,
		    m->entries[i - 1].path, l) != 0))) {
			start[++c] = i;
			from = i;
		}
		plen = l;
	}
	if (m->nentries > 0)
		c++;
	start[c] = m->nentries;
	return c;
}

static void
chunk_fn(void *arg, size_t c, unsigned worker)
{
	struct pbuild *pb = arg;
	struct build *w = &pb->w[worker];
	size_t i;

	if (atomic_load(&pb->failed))
		return;
	w->err = &pb->errs[c];
	for (i = pb->start[c]; i < pb->start[c + 1]; i++)
		if ((pb->rc[c] = pb->fn(w, i)) != PD_OK) {
			atomic_store(&pb->failed, true);
			return;
		}
}

/*
 * fn for every entry, on worker threads, a chunk of entries in path
 * order at a time (cut_chunks): checking and creating 80,000 files is
 * mostly kernel time, which a second core halves.  The first error in
 * path order is the one reported; the workers' counts are added to b's.
 */
enum pd_err
nd_b_run_chunks(struct build *b, struct pd_pool *pool, nd_b_entry_fn *fn)
{
	struct pbuild pb;
	size_t nchunks = b->m->nentries / BUILD_CHUNK + 2, c;
	unsigned k, nw = pd_pool_size(pool);
	enum pd_err rc = PD_OK;

	memset(&pb, 0, sizeof(pb));
	pb.fn = fn;
	pb.n = b->m->nentries;
	if ((pb.w = pd_calloc(nw, sizeof(*pb.w))) == NULL ||
	    (pb.wst = pd_calloc(nw, sizeof(*pb.wst))) == NULL ||
	    (pb.start = pd_calloc(nchunks, sizeof(*pb.start))) == NULL ||
	    (pb.rc = pd_calloc(nchunks, sizeof(*pb.rc))) == NULL ||
	    (pb.errs = pd_calloc(nchunks, sizeof(*pb.errs))) == NULL) {
		rc = pd_fail(b->err, PD_ERR_NOMEM, "building the tree");
		goto out;
	}
	nchunks = cut_chunks(b->m, pb.start);
	for (k = 0; k < nw; k++) {
		pb.w[k] = *b;
		memset(&pb.w[k].bdir, 0, sizeof(pb.w[k].bdir));
		memset(&pb.w[k].pdir, 0, sizeof(pb.w[k].pdir));
		memset(&pb.w[k].sdir, 0, sizeof(pb.w[k].sdir));
		pb.w[k].bdir.root = b->buildfd;
		pb.w[k].bdir.fd = -1;
		pb.w[k].pdir.root = b->prevfd;
		pb.w[k].pdir.fd = -1;
		pb.w[k].sdir.root = b->sparefd;
		pb.w[k].sdir.fd = -1;
		pb.w[k].st = &pb.wst[k];
	}
	pd_pool_for(pool, nchunks, chunk_fn, &pb);
	for (c = 0; c < nchunks; c++)
		if (pb.rc[c] != PD_OK) {
			*b->err = pb.errs[c];
			rc = pb.rc[c];
			break;
		}
	for (k = 0; k < nw; k++) {
		b->st->linked += pb.wst[k].linked;
		b->st->written += pb.wst[k].written;
		b->st->copied += pb.wst[k].copied;
		b->st->bytes_written += pb.wst[k].bytes_written;
		b->st->bytes_linked += pb.wst[k].bytes_linked;
		b->st->recycled += pb.wst[k].recycled;
		nd_b_dircache_free(&pb.w[k].bdir);
		nd_b_dircache_free(&pb.w[k].pdir);
		nd_b_dircache_free(&pb.w[k].sdir);
	}
out:
	pd_free(pb.w);
	pd_free(pb.wst);
	pd_free(pb.start);
	pd_free(pb.rc);
	pd_free(pb.errs);
	return rc;
}
enum pd_err
nd_b_make_dirs(struct build *b)
{
	enum pd_err rc = PD_OK;
	size_t i;
	bool made;

	for (i = 0; i < b->m->nentries && rc == PD_OK; i++)
		if (b->m->entries[i].type == PR_DIR)
			rc = nd_b_make_entry(b, i, ND_B_ANY, &made);
	return rc;
}

enum pd_err
nd_b_finish_dirs(struct build *b)
{
	const struct pr_entry *e;
	struct pr_entry root;
	const char *name;
	size_t i;
	int pfd, fd, e2;

	for (i = b->m->nentries; i-- > 0;) {
		e = &b->m->entries[i];
		if (e->type != PR_DIR)
			continue;
		if ((pfd = nd_build_open_parent(b->buildfd, e, &name)) < 0)
			return nd_b_efail(b, PD_ERR_IO, errno, e, "opening");
		fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		e2 = errno;
		close(pfd);
		if (fd < 0)
			return nd_b_efail(b, PD_ERR_IO, e2, e, "opening");
		if (set_meta(fd, e) < 0) {
			e2 = errno;
			close(fd);
			return nd_b_efail(b, PD_ERR_IO, e2, e,
			    "setting mode of");
		}
		close(fd);
	}
	memset(&root, 0, sizeof(root));
	root.mode = b->m->root_mode;
	root.mtime = b->m->root_mtime;
	if (set_meta(b->buildfd, &root) < 0)
		return pd_fail_errno(b->err, PD_ERR_IO, errno,
		    "setting mode of the tree's top directory");
	return PD_OK;
}

