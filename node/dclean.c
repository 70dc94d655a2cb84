/*
 * The node daemon's clean-up task (daemon.h): a node-wide task, queued
 * when the daemon starts and every day, that removes what no task will
 * use again.
 *
 * - DATA/staging/T of a tree T the configuration no longer has: a pull
 *   stopped half-way leaves what it fetched there to resume, which is
 *   only worth keeping while the tree is mirrored here.  A tree whose
 *   lock another process holds (a `pulpdist pull` by hand) is left.
 * - Batch responses (DATA/batches) not written for DM_CLEAN_DAYS: kept
 *   compressed for the receivers of one step, they are made again from
 *   the content if anyone still asks.  Pack parts, manifest patches and
 *   deltas stay: a relay could not make again what it received.
 * - Manifest files (DATA/manifests) that no version records, written
 *   over a day ago: a pull saves the new manifest before it fetches
 *   anything, and one that failed for good leaves it behind.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/log.h"
#include "../protocol/manifest.h"
#include "daemon_int.h"

/* Days a kept batch response stays without being made again. */
#define DM_CLEAN_DAYS	30

/* Open DATA/name as a directory; -1 (errno ENOENT) if there is none. */
static int
data_dir(struct nd_daemon *d, const char *name)
{
	int dfd, fd;

	if ((dfd = open(cat_dir(d->cat), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	close(dfd);
	return fd;
}

static bool
configured(struct nd_daemon *d, const char *tree)
{
	bool yes;

	pthread_rwlock_rdlock(&d->lock);
	yes = nd_conf_find(d->conf, tree) != NULL;
	pthread_rwlock_unlock(&d->lock);
	return yes;
}

/* Staging of trees no longer configured; *removed counts them. */
static enum pd_err
clean_staging(struct nd_daemon *d, uint64_t *removed, struct pd_error *err)
{
	struct pd_error e;
	struct dirent *de;
	DIR *dir;
	int fd, lockfd;
	enum pd_err rc = PD_OK;

	if ((fd = data_dir(d, "staging")) < 0)
		return errno == ENOENT ? PD_OK : pd_fail_errno(err, PD_ERR_IO,
		    errno, "%s/staging", cat_dir(d->cat));
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s/staging",
		    cat_dir(d->cat));
	}
	while (rc == PD_OK && (errno = 0, de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' ||
		    pr_tree_name_check(de->d_name) != NULL ||
		    configured(d, de->d_name))
			continue;
		pd_error_clear(&e);
		if (cat_lock_tree(d->cat, de->d_name, &lockfd, &e) != PD_OK) {
			log_info("staging of %s left: %s", de->d_name, e.msg);
			continue;
		}
		if ((rc = pd_remove_tree_at(dirfd(dir), de->d_name, err)) ==
		    PD_OK) {
			log_info("removed the staging of tree %s, which this "
			    "node no longer mirrors", de->d_name);
			(*removed)++;
		}
		cat_unlock_tree(lockfd);
	}
	closedir(dir);
	return rc;
}

/* Files in one DATA/batches/XX not written since before; counted. */
static enum pd_err
clean_batch_dir(int parent, const char *name, time_t before,
    uint64_t *removed, struct pd_error *err)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd;

	if ((fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return PD_OK;	/* not a directory: not ours to judge */
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return pd_fail_errno(err, PD_ERR_IO, errno, "batches/%s", name);
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(dir), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
		    st.st_mtime >= before)
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
			(*removed)++;
	}
	closedir(dir);
	return PD_OK;
}

static enum pd_err
clean_batches(struct nd_daemon *d, uint64_t *removed, struct pd_error *err)
{
	time_t before = time(NULL) - (time_t)DM_CLEAN_DAYS * 86400;
	struct dirent *de;
	DIR *dir;
	int fd;
	enum pd_err rc = PD_OK;

	if ((fd = data_dir(d, "batches")) < 0)
		return errno == ENOENT ? PD_OK : pd_fail_errno(err, PD_ERR_IO,
		    errno, "%s/batches", cat_dir(d->cat));
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s/batches",
		    cat_dir(d->cat));
	}
	while (rc == PD_OK && (de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			rc = clean_batch_dir(dirfd(dir), de->d_name, before,
			    removed, err);
	closedir(dir);
	return rc;
}

enum pd_err
dm_task_clean(void *arg, const struct cat_task *task,
    struct nd_task_ctx *ctx, struct pd_error *err)
{
	struct nd_daemon *d = arg;
	uint64_t staging = 0, batches = 0, manifests = 0;
	enum pd_err rc;

	(void)task;
	(void)ctx;
	if ((rc = clean_staging(d, &staging, err)) != PD_OK ||
	    (rc = clean_batches(d, &batches, err)) != PD_OK ||
	    (rc = cat_manifest_sweep(d->cat, time(NULL) - 86400, &manifests,
	    err)) != PD_OK)
		return rc;
	log_info("clean-up: %" PRIu64 " staging areas, %" PRIu64 " batch "
	    "responses older than %d days and %" PRIu64 " manifests of no "
	    "version removed", staging, batches, DM_CLEAN_DAYS, manifests);
	return PD_OK;
}
