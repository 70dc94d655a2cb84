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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

enum pd_err
nd_publish_prune(const char *versdir, uint64_t current, unsigned keep,
    struct pd_error *err)
{
	struct pd_error e = { 0 };
	struct dirent *de;
	enum pd_err rc = PD_OK;
	unsigned long long n;
	char *end;
	DIR *d;

	if (keep == 0)
		keep = 1;
	if ((d = opendir(versdir)) == NULL)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", versdir);
	while (rc == PD_OK && (errno = 0, de = readdir(d)) != NULL) {
		/* Only canonical numbers: "007", " 7", "+7" are not ours. */
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		n = strtoull(de->d_name, &end, 10);
		/* Newer than current: built, not yet published; keep. */
		if (*end != '\0' || n >= current || current - n < keep)
			continue;
		if ((rc = pd_remove_tree_at(dirfd(d), de->d_name, &e)) !=
		    PD_OK)
			rc = pd_fail(err, rc, "pruning %s/%s: %s", versdir,
			    de->d_name, e.msg);
	}
	if (rc == PD_OK && errno != 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "reading %s",
		    versdir);
	closedir(d);
	return rc;
}
