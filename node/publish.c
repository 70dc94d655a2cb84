/*
 * Publish a built version: switch PUBDIR/TREE to it with one rename, and
 * prune old versions (publish.h).  Building the version is build.c and
 * build_src.c: it shares no state with these two, and is big enough
 * without them.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "publish.h"

enum pd_err
nd_publish_switch(const char *pubdir, const char *tree, const char *target,
    struct pd_error *err)
{
	static atomic_ulong seq;
	char tmp[PR_TREE_NAME_MAX + 64];
	struct stat st;
	const char *why;
	enum pd_err rc = PD_OK;
	int dfd;

	if ((why = pr_tree_name_check(tree)) != NULL)
		return pd_fail(err, PD_ERR_USAGE, "publishing: %s", why);
	if ((dfd = open(pubdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "publish directory "
		    "%s", pubdir);
	/*
	 * Only a link is ours to replace: a directory or file of that name
	 * is someone's data, which rename(2) would destroy or refuse with
	 * a puzzling "Is a directory".
	 */
	if (fstatat(dfd, tree, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISLNK(st.st_mode)) {
			rc = pd_fail(err, PD_ERR_EXISTS, "%s/%s is not a "
			    "symbolic link: refusing to replace it with one",
			    pubdir, tree);
			goto out;
		}
	} else if (errno != ENOENT) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s", pubdir,
		    tree);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), ".%s.pulpdist-new.%ld.%lu", tree,
	    (long)getpid(), (unsigned long)atomic_fetch_add(&seq, 1));
	(void)unlinkat(dfd, tmp, 0);
	if (symlinkat(target, dfd, tmp) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s", pubdir, tmp);
	else if (renameat(dfd, tmp, dfd, tree) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "publishing %s/%s",
		    pubdir, tree);
		(void)unlinkat(dfd, tmp, 0);
	} else if (fsync(dfd) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "fsync %s", pubdir);
out:
	close(dfd);
	return rc;
}

/* A version directory's number, or 0 for a name that is not one of ours. */
static uint64_t
version_name(const char *name)
{
	unsigned long long n;
	char *end;

	/* Only canonical numbers: "007", " 7", "+7" are not ours. */
	if (name[0] < '1' || name[0] > '9')
		return 0;
	errno = 0;
	n = strtoull(name, &end, 10);
	return *end != '\0' || errno != 0 ? 0 : (uint64_t)n;
}

/* Empty the directory dfd but for the entry keep (NULL: all). */
static enum pd_err
empty_dir(int dfd, const char *keep, const char *what, struct pd_error *err)
{
	struct pd_error e = { 0 };
	struct dirent *de;
	enum pd_err rc = PD_OK;
	DIR *d;
	int fd;

	/* Not dup(2): that would share a read position with dfd's. */
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(fd)) == NULL) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "reading %s", what);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (rc == PD_OK && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    (keep != NULL && strcmp(de->d_name, keep) == 0))
			continue;
		if ((rc = pd_remove_tree_at(dfd, de->d_name, &e)) != PD_OK)
			rc = pd_fail(err, rc, "removing %s/%s: %s", what,
			    de->d_name, e.msg);
	}
	if (rc == PD_OK && errno != 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "reading %s", what);
	closedir(d);
	return rc;
}

/*
 * Move version name of versfd to sparedir, in place of what it held.
 * Best effort: a version that cannot be moved is removed by the caller.
 */
static bool
retire(int versfd, const char *name, const char *sparedir)
{
	struct pd_error e = { 0 };
	struct stat st;
	bool ok = false;
	int sfd = -1, fd = -1;

	if (pd_mkdirs(sparedir, 0700, &e) != PD_OK ||
	    (sfd = open(sparedir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || empty_dir(sfd, NULL, sparedir, &e) != PD_OK)
		goto out;
	/* A directory moved to another parent gets a new "..": without
	 * root that needs write permission on it.  No reader is sent to a
	 * spare, so it may keep it. */
	if ((fd = openat(versfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
	    (!(st.st_mode & S_IWUSR) &&
	    fchmod(fd, (st.st_mode & 07777) | S_IWUSR) < 0))
		goto out;
	ok = renameat(versfd, name, sfd, name) == 0;
out:
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	return ok;
}

enum pd_err
nd_publish_prune(const char *versdir, uint64_t current, unsigned keep,
    const char *sparedir, struct pd_error *err)
{
	struct pd_error e = { 0 };
	struct dirent *de;
	enum pd_err rc = PD_OK;
	uint64_t n, newest = 0;
	char spare[32] = "";
	DIR *d;

	if (keep == 0)
		keep = 1;
	if ((d = opendir(versdir)) == NULL)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", versdir);
	/* Newer than current: built, not yet published; keep. */
	while ((errno = 0, de = readdir(d)) != NULL)
		if ((n = version_name(de->d_name)) != 0 && n < current &&
		    current - n >= keep && n > newest)
			newest = n;
	if (errno != 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "reading %s",
		    versdir);
		goto out;
	}
	if (newest != 0 && sparedir != NULL) {
		snprintf(spare, sizeof(spare), "%" PRIu64, newest);
		if (!retire(dirfd(d), spare, sparedir))
			spare[0] = '\0';
	}
	rewinddir(d);
	while (rc == PD_OK && (errno = 0, de = readdir(d)) != NULL) {
		if ((n = version_name(de->d_name)) == 0 || n >= current ||
		    current - n < keep || strcmp(de->d_name, spare) == 0)
			continue;
		if ((rc = pd_remove_tree_at(dirfd(d), de->d_name, &e)) !=
		    PD_OK)
			rc = pd_fail(err, rc, "pruning %s/%s: %s", versdir,
			    de->d_name, e.msg);
	}
	if (rc == PD_OK && errno != 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "reading %s",
		    versdir);
out:
	closedir(d);
	return rc;
}

enum pd_err
nd_publish_spare(const char *sparedir, uint64_t *n, int *fd,
    struct pd_error *err)
{
	struct dirent *de;
	enum pd_err rc = PD_OK;
	uint64_t k;
	char name[32];
	DIR *d;

	*n = 0;
	*fd = -1;
	if ((d = opendir(sparedir)) == NULL) {
		if (errno == ENOENT)
			return PD_OK;
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", sparedir);
	}
	while ((errno = 0, de = readdir(d)) != NULL)
		if ((k = version_name(de->d_name)) > *n)
			*n = k;
	if (errno != 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "reading %s",
		    sparedir);
		goto out;
	}
	snprintf(name, sizeof(name), "%" PRIu64, *n);
	if ((rc = empty_dir(dirfd(d), *n ? name : NULL, sparedir, err)) !=
	    PD_OK || *n == 0)
		goto out;
	if ((*fd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s", sparedir,
		    name);
out:
	if (rc != PD_OK)
		*n = 0;
	closedir(d);
	return rc;
}
