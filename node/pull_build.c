/*
 * Step 3 of a pull (pull.c): the version's tree, built in
 * DATA/staging/TREE/build, made durable and moved to
 * DATA/versions/TREE/N.
 *
 * Most of a tree can be made before its new content has come: a new
 * release of a large tree changes the mtime of nearly every file, and
 * copying those from the previous version is most of the build (a
 * hard link cannot carry a second mtime); a first pull's files are its
 * staged objects, linked in.  So the build starts on a thread of its
 * own as the transfer starts (nd_build_early: what needs nothing
 * staged), goes on with each file as the transfer stages its content
 * (nd_build_staged), and is finished once the transfer has ended.  A
 * transfer that fails stops it; either way a leftover build directory
 * is removed by the next attempt, which builds again.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "load.h"
#include "publish.h"
#include "pull_int.h"

#define ND_PL_FLUSH_MS	500

/*
 * The spare tree, if one is kept and its manifest is held: a retired
 * version older than the one held.  Without it the build copies what it
 * would have taken over, so no failure here fails the pull.
 */
static void
open_spare(struct pull *p)
{
	struct pd_error e = { 0 };
	uint64_t n;

	p->spare = NULL;
	p->sparefd = -1;
	if (p->o->no_spare || p->old == NULL ||
	    nd_publish_spare(p->sparedir, &n, &p->sparefd, &e) != PD_OK ||
	    n == 0 || n >= p->old->version ||
	    nd_load_version(p->c, p->o->tree, n, p->o->trust, NULL, NULL,
	    &p->spare, &e) != PD_OK) {
		if (p->sparefd >= 0)
			close(p->sparefd);
		p->sparefd = -1;
	}
}

/*
 * The build's thread: what needs nothing staged, then the files of each
 * content as it is staged, until the transfer has ended (or it is told
 * to stop, or fails).  Entries are taken in runs: the transfer stages
 * small files faster than one thread makes them.
 */
static void *
early_main(void *arg)
{
	struct pull *p = arg;
	double t = pd_mono_sec();
	enum pd_err rc = PD_OK;
	size_t i, end;
	uint32_t gi;
	int fd;

	/* First, for the transfer to make its files in (nd_pl_place_dir). */
	rc = nd_build_dirs(p->bl, &p->early_err);
	if (rc == PD_OK && p->old != NULL && p->prevfd >= 0) {
		rc = nd_build_early(p->bl, &p->early_err);
		p->res->seconds_build_early = pd_mono_sec() - t;
	}
	pthread_mutex_lock(&p->qmu);
	while (rc == PD_OK) {
		while (p->qhead == p->qlen && p->glen == 0 && !p->qclosed)
			pthread_cond_wait(&p->qcv, &p->qmu);
		if (p->glen > 0) {
			/* The slot is the transfer's again once unlocked. */
			gi = p->gidx[p->ghead];
			fd = p->gfd[p->ghead];
			p->ghead = (p->ghead + 1) % ND_PL_GIVEN_MAX;
			p->glen--;
			pthread_mutex_unlock(&p->qmu);
			rc = nd_build_given(p->bl, p->m->entries[gi].sha, fd,
			    &p->early_err);
			pthread_mutex_lock(&p->qmu);
			continue;
		}
		if (p->qhead == p->qlen)
			break;
		i = p->qhead;
		end = p->qhead = p->qlen;
		pthread_mutex_unlock(&p->qmu);
		/* Slots below qlen are written once, before it moved. */
		for (; i < end && rc == PD_OK; i++)
			rc = nd_build_staged(p->bl,
			    p->m->entries[p->queue[i]].sha, &p->early_err);
		pthread_mutex_lock(&p->qmu);
	}
	/* Stopped or failed: nothing more is taken, nothing given is made. */
	p->gopen = false;
	for (; p->glen > 0; p->glen--) {
		close(p->gfd[p->ghead]);
		p->ghead = (p->ghead + 1) % ND_PL_GIVEN_MAX;
	}
	pthread_mutex_unlock(&p->qmu);
	p->early_rc = rc;
	return NULL;
}

void
nd_pl_staged(void *arg, const struct nd_xitem *it)
{
	struct pull *p = arg;

	pthread_mutex_lock(&p->qmu);
	/* Only a bug could stage more than the items; the finish would
	 * make what the thread was not told of. */
	if (p->qlen < p->qcap) {
		p->queue[p->qlen++] = (uint32_t)(it->e - p->m->entries);
		if (p->qlen - p->qhead == 1)
			pthread_cond_signal(&p->qcv);
	}
	pthread_mutex_unlock(&p->qmu);
}

/*
 * Each object of a batch is an unnamed file when verified: given to the
 * build, it becomes the file at its first path with one link, where
 * staging it cost a name in a directory of 80,000, a rename out of it
 * and a second open (12 calls an object, 5 now).  Descriptors wait in a
 * ring of ND_PL_GIVEN_MAX; when the build falls behind, or has ended,
 * objects are staged as before.
 */
bool
nd_pl_give(void *arg, const struct nd_xitem *it, int fd)
{
	struct pull *p = arg;
	bool taken = false;
	size_t k;

	pthread_mutex_lock(&p->qmu);
	if (p->gopen && !p->qclosed && p->glen < ND_PL_GIVEN_MAX) {
		k = (p->ghead + p->glen) % ND_PL_GIVEN_MAX;
		p->gidx[k] = (uint32_t)(it->e - p->m->entries);
		p->gfd[k] = fd;
		if (p->glen++ == 0)
			pthread_cond_signal(&p->qcv);
		taken = true;
	}
	pthread_mutex_unlock(&p->qmu);
	return taken;
}

/*
 * The directory of it's first path in the build, for the transfer to
 * make the unnamed file in: an inode goes near its directory's, as
 * rsync's would, where 80,000 made in staging crowded one group of the
 * file system (ext4 then scans past the inodes of the tree removed
 * before).  -1 while the directory is not made yet, and once the
 * build's thread takes nothing more.
 */
int
nd_pl_place_dir(void *arg, const struct nd_xitem *it)
{
	struct pull *p = arg;
	const char *name;
	bool open;

	pthread_mutex_lock(&p->qmu);
	open = p->gopen;
	pthread_mutex_unlock(&p->qmu);
	return open ? nd_build_open_parent(p->buildfd, it->e, &name) : -1;
}

/*
 * The staged content is only dirty pages in memory as it arrives:
 * nothing asks the disk for it (the kernel waits for a tenth of memory)
 * before the syncfs that makes the build durable.  Once the build went
 * on during the transfer, that syncfs was a fifth of a first pull: 1.4 s
 * for 1.3 GB.  So a thread has the disk write what came every
 * ND_PL_FLUSH_MS while the transfer runs, and once more while the build
 * finishes.  Its results do not matter: syncfs reports a writeback
 * error to every open file of the file system, and the build's own
 * syncfs is the one checked.
 */
static void *
flush_main(void *arg)
{
	struct pull *p = arg;
	struct timespec ts;

	pthread_mutex_lock(&p->qmu);
	while (!p->fclosed) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += ND_PL_FLUSH_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (pthread_cond_timedwait(&p->fcv, &p->qmu, &ts) == 0 &&
		    p->fclosed)
			break;
		pthread_mutex_unlock(&p->qmu);
		(void)syncfs(p->objfd);
		pthread_mutex_lock(&p->qmu);
	}
	pthread_mutex_unlock(&p->qmu);
	if (!p->fstop)
		(void)syncfs(p->objfd);
	return NULL;
}

/* The flusher's last round begins (stop: there is none); wait for it. */
static void
flush_end(struct pull *p, bool stop)
{
	if (!p->flusher_running)
		return;
	pthread_mutex_lock(&p->qmu);
	p->fclosed = true;
	p->fstop = stop;
	pthread_cond_signal(&p->fcv);
	pthread_mutex_unlock(&p->qmu);
}

static void
flush_join(struct pull *p)
{
	if (!p->flusher_running)
		return;
	pthread_join(p->flusher, NULL);
	p->flusher_running = false;
}

/*
 * The build's thread moves each staged object into the tree, at the
 * first path of its content (nd_build_staged).  A crashed attempt's
 * build (or a failed one's) holds them: put each back under its name, for
 * nd_xfer_recheck to hash like anything staged (what is not the item's
 * content is removed there), before the build directory is removed.
 * Only files of one link are taken: a hard link to prev's inode never
 * leaves the previous tree's.
 */
static void
salvage(struct pull *p)
{
	char hex[PD_SHA256_HEX];
	const struct pr_entry *e;
	const char *name;
	struct stat st;
	size_t i;
	int oldfd, dfd;

	if (p->stagefd < 0)	/* up to date: no staging was opened */
		return;
	if ((oldfd = openat(p->stagefd, "build", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	for (i = 0; i < p->nitems; i++) {
		e = p->items[i].e;
		if (e->size == 0)
			continue;
		if ((dfd = nd_build_open_parent(oldfd, e, &name)) < 0) {
			if (errno == ENOMEM || errno == EMFILE)
				break;
			continue;
		}
		pd_hex_encode(e->sha, PD_SHA256_LEN, hex);
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (uint64_t)st.st_size == e->size &&
		    st.st_nlink == 1)
			(void)renameat2(dfd, name, p->objfd, hex,
			    RENAME_NOREPLACE);
		close(dfd);
	}
	close(oldfd);
}

enum pd_err
nd_pl_build_start(struct pull *p)
{
	struct nd_build_src src;
	enum pd_err rc;

	salvage(p);
	if ((rc = pd_remove_tree_at(p->stagefd, "build", p->err)) != PD_OK)
		return rc;
	if (mkdirat(p->stagefd, "build", 0700) < 0 ||
	    (p->buildfd = openat(p->stagefd, "build", O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return pd_fail_errno(p->err, PD_ERR_IO, errno,
		    "staging build");
	open_spare(p);
	src.prev = p->old;
	src.prevfd = p->prevfd;
	src.spare = p->spare;
	src.sparefd = p->sparefd;
	src.stagefd = p->objfd;
	if ((rc = nd_build_new(p->buildfd, p->m, &src, &p->bl, p->err)) !=
	    PD_OK)
		return rc;
	p->qcap = p->nitems;
	if (p->qcap > 0 && (p->queue = pd_calloc(p->qcap,
	    sizeof(*p->queue))) == NULL)
		return pd_fail(p->err, PD_ERR_NOMEM, "planning the build");
	pthread_mutex_init(&p->qmu, NULL);
	pthread_cond_init(&p->qcv, NULL);
	pthread_cond_init(&p->fcv, NULL);
	p->qinit = true;
	p->flusher_running = pthread_create(&p->flusher, NULL, flush_main,
	    p) == 0;
	/* Without a thread the finish makes it all. */
	pthread_mutex_lock(&p->qmu);
	p->early_running = pthread_create(&p->early, NULL, early_main, p) ==
	    0;
	p->gopen = p->early_running;
	pthread_mutex_unlock(&p->qmu);
	return PD_OK;
}

void
nd_pl_build_join(struct pull *p, bool stop)
{
	if (!p->early_running)
		return;
	if (stop)
		nd_build_stop(p->bl);
	pthread_mutex_lock(&p->qmu);
	p->qclosed = true;
	pthread_cond_signal(&p->qcv);
	pthread_mutex_unlock(&p->qmu);
	pthread_join(p->early, NULL);
	p->early_running = false;
}

void
nd_pl_build_free(struct pull *p)
{
	struct pd_error e = { 0 };

	nd_pl_build_join(p, true);
	flush_end(p, true);
	flush_join(p);
	/* A failed transfer's objects, for the next attempt (items are
	 * gone once the transfer has ended). */
	salvage(p);
	/* Built and moved, or the copies of a failed attempt: a tree's
	 * worth of disk not to leave behind until the next one. */
	if (p->bl != NULL &&
	    pd_remove_tree_at(p->stagefd, "build", &e) != PD_OK)
		pd_error_clear(&e);
	nd_build_free(p->bl);
	p->bl = NULL;
	pd_free(p->queue);
	p->queue = NULL;
	if (p->qinit) {
		pthread_mutex_destroy(&p->qmu);
		pthread_cond_destroy(&p->qcv);
		pthread_cond_destroy(&p->fcv);
		p->qinit = false;
	}
	pr_manifest_free(p->spare);
	p->spare = NULL;
	if (p->sparefd >= 0)
		close(p->sparefd);
	if (p->buildfd >= 0)
		close(p->buildfd);
	p->sparefd = p->buildfd = -1;
}

enum pd_err
nd_pl_build(struct pull *p, char *name, size_t namelen)
{
	struct nd_build_stats bs = { 0 };
	struct stat st;
	int buildfd = p->buildfd, versfd = -1, sr;
	enum pd_err rc;
	double t;

	snprintf(name, namelen, "%" PRIu64, p->m->version);
	nd_pl_build_join(p, false);
	if (p->early_rc != PD_OK) {
		*p->err = p->early_err;
		return p->early_rc;
	}
	flush_end(p, false);
	rc = nd_build_finish(p->bl, &bs, p->err);
	t = pd_mono_sec();
	flush_join(p);
	p->res->recycled = bs.recycled;
	if (rc != PD_OK)
		goto out;
	/* A staged object that became a file of the tree was written once,
	 * when it arrived. */
	p->res->bytes_written += bs.bytes_written - bs.bytes_linked;
	/* Durable before it is renamed into place and recorded. */
	sr = syncfs(buildfd);
	p->res->seconds_sync = pd_mono_sec() - t;
	if (sr < 0) {
		rc = pd_fail_errno(p->err, PD_ERR_IO, errno, "syncfs");
		goto out;
	}
	if ((versfd = open(p->versdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		rc = pd_fail_errno(p->err, PD_ERR_IO, errno, "%s", p->versdir);
		goto out;
	}
	/* A directory of this number is a crashed attempt's: the catalog
	 * does not know it, so it was never published. */
	if ((rc = pd_remove_tree_at(versfd, name, p->err)) != PD_OK)
		goto out;
	/* Moving a directory to another parent rewrites its "..": without
	 * root that needs write permission on it, which a tree's root
	 * (say 0555) may not give.  Lend it for the rename. */
	if (fstat(buildfd, &st) < 0 || (!(st.st_mode & S_IWUSR) &&
	    fchmod(buildfd, (st.st_mode & 07777) | S_IWUSR) < 0)) {
		rc = pd_fail_errno(p->err, PD_ERR_IO, errno, "staging build");
		goto out;
	}
	if (renameat(p->stagefd, "build", versfd, name) < 0) {
		rc = pd_fail_errno(p->err, PD_ERR_IO, errno, "%s/%s",
		    p->versdir, name);
		goto out;
	}
	if (!(st.st_mode & S_IWUSR) && (fchmod(buildfd, st.st_mode & 07777) <
	    0 || fsync(buildfd) < 0)) {
		rc = pd_fail_errno(p->err, PD_ERR_IO, errno, "%s/%s",
		    p->versdir, name);
		goto out;
	}
	rc = pd_fsync_dirat(versfd, ".", p->err);
out:
	if (versfd >= 0)
		close(versfd);
	return rc;
}
