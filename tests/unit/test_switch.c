/*
 * Unit tests of node/publish.c: switching the published link under
 * readers, pruning old versions and keeping the newest retired one as
 * the spare.  Building trees is test_publish.c.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "../../node/publish.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A version directory with files f00..f19 and sub/g0..g9 holding mark. */
static void
make_version(const char *dir, char mark)
{
	char name[64], sub[4096];
	int i;

	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
	unit_pjoin(sub, sizeof(sub), dir, "sub");
	CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0755), 0);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		unit_write(dir, name, &mark, 1);
	}
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		unit_write(sub, name, &mark, 1);
	}
}

static void
test_switch(void)
{
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), pub[4096], va[4096], vb[4096];
	char path[4096], got[4096];
	struct dirent *de;
	struct stat sb;
	ssize_t n;
	DIR *d;

	unit_pjoin(pub, sizeof(pub), tmp, "pub");
	unit_pjoin(va, sizeof(va), tmp, "1");
	unit_pjoin(vb, sizeof(vb), tmp, "2");
	CU_ASSERT_EQUAL_FATAL(mkdir(pub, 0755), 0);
	make_version(va, 'A');
	make_version(vb, 'B');
	unit_pjoin(path, sizeof(path), pub, "t");

	/* First publish, then a switch over an existing link. */
	CU_ASSERT_EQUAL(nd_publish_switch(pub, "t", va, &err), PD_OK);
	n = readlink(path, got, sizeof(got));
	CU_ASSERT(n == (ssize_t)strlen(va) && memcmp(got, va, (size_t)n) == 0);
	CU_ASSERT_EQUAL(nd_publish_switch(pub, "t", vb, &err), PD_OK);
	n = readlink(path, got, sizeof(got));
	CU_ASSERT(n == (ssize_t)strlen(vb) && memcmp(got, vb, (size_t)n) == 0);
	/* Again to the same target is fine. */
	CU_ASSERT_EQUAL(nd_publish_switch(pub, "t", vb, &err), PD_OK);
	CU_ASSERT_EQUAL(err.code, PD_OK);

	/* A user's directory or file where the link goes stays. */
	unit_pjoin(path, sizeof(path), pub, "u");
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	unit_write(path, "keep", "mine", 4);
	CU_ASSERT_EQUAL(nd_publish_switch(pub, "u", va, &err),
	    PD_ERR_EXISTS);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "symbolic link"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/u"));
	unit_pjoin(path, sizeof(path), pub, "u/keep");
	CU_ASSERT_EQUAL(lstat(path, &sb), 0);
	unit_write(pub, "w", "mine", 4);
	unit_pjoin(path, sizeof(path), pub, "w");
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_publish_switch(pub, "w", va, &err),
	    PD_ERR_EXISTS);
	CU_ASSERT_EQUAL(lstat(path, &sb), 0);
	CU_ASSERT(S_ISREG(sb.st_mode) && sb.st_size == 4);

	/* No temporary link left behind, by success or failure. */
	d = opendir(pub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL)
		CU_ASSERT(strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "t") == 0 ||
		    strcmp(de->d_name, "u") == 0 ||
		    strcmp(de->d_name, "w") == 0);
	closedir(d);

	/* No publish directory. */
	unit_pjoin(path, sizeof(path), tmp, "nowhere");
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_publish_switch(path, "t", va, &err), PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nowhere"));
	unit_rmdir(tmp);
}

/*
 * One walk of the published tree, as a reader does it: resolve the link
 * once, then everything relative to that descriptor.  0 if the walk saw
 * one complete version.
 */
static int
walk_once(const char *link)
{
	struct dirent *de;
	char name[64], c, mark = 0;
	size_t n = 0;
	DIR *d;
	int fd, sub, f, i, bad = 0;

	if ((fd = open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 1;
	if ((f = dup(fd)) < 0 || (d = fdopendir(f)) == NULL) {
		close(fd);
		return 1;
	}
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	bad |= n != 21;
	for (i = 0; i < 30 && !bad; i++) {
		if (i < 20) {
			snprintf(name, sizeof(name), "f%02d", i);
			f = openat(fd, name, O_RDONLY | O_CLOEXEC);
		} else {
			snprintf(name, sizeof(name), "sub/g%d", i - 20);
			f = openat(fd, name, O_RDONLY | O_CLOEXEC);
		}
		if (f < 0 || read(f, &c, 1) != 1)
			bad = 1;
		else if (mark == 0)
			mark = c;
		else
			bad |= c != mark;
		if (f >= 0)
			close(f);
	}
	if (!bad && (sub = openat(fd, "sub", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0) {
		if ((d = fdopendir(sub)) != NULL) {
			for (n = 0; (de = readdir(d)) != NULL;)
				n += de->d_name[0] != '.';
			bad |= n != 10;
			closedir(d);
		} else
			close(sub);
	}
	close(fd);
	return bad;
}

/*
 * A reader walking PUBDIR/TREE while it is switched 200 times between
 * two versions sees, every walk, exactly one complete version.
 */
static void
test_switch_readers(void)
{
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), pub[4096], va[4096], vb[4096];
	char link[4096], c;
	struct pollfd pfd;
	unsigned long walks = 0, bad = 0, res[2];
	int stop[2], report[2], i;
	pid_t pid;

	unit_pjoin(pub, sizeof(pub), tmp, "pub");
	unit_pjoin(va, sizeof(va), tmp, "1");
	unit_pjoin(vb, sizeof(vb), tmp, "2");
	unit_pjoin(link, sizeof(link), pub, "t");
	CU_ASSERT_EQUAL_FATAL(mkdir(pub, 0755), 0);
	make_version(va, 'A');
	make_version(vb, 'B');
	CU_ASSERT_EQUAL_FATAL(nd_publish_switch(pub, "t", va, &err), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pipe(stop), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(report), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(stop[1]);
		close(report[0]);
		/* Tell the parent the first walk is done, then go on. */
		bad += walk_once(link);
		walks++;
		c = 'r';
		if (write(report[1], &c, 1) != 1)
			_exit(2);
		pfd.fd = stop[0];
		pfd.events = POLLIN;
		while (poll(&pfd, 1, 0) == 0) {
			bad += walk_once(link);
			walks++;
		}
		res[0] = walks;
		res[1] = bad;
		if (write(report[1], res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(stop[0]);
	close(report[1]);
	CU_ASSERT_EQUAL(read(report[0], &c, 1), 1);
	for (i = 0; i < 200; i++)
		if (nd_publish_switch(pub, "t", i % 2 ? va : vb, &err) !=
		    PD_OK)
			break;
	CU_ASSERT_EQUAL(i, 200);
	CU_ASSERT_EQUAL(err.code, PD_OK);
	close(stop[1]);
	memset(res, 0, sizeof(res));
	CU_ASSERT_EQUAL(read(report[0], res, sizeof(res)),
	    (ssize_t)sizeof(res));
	close(report[0]);
	CU_ASSERT_EQUAL(unit_child_status(pid), 0);
	CU_ASSERT(res[0] > 1);
	CU_ASSERT_EQUAL(res[1], 0);
	if (res[1] != 0)
		fprintf(stderr, "\npublish: %lu of %lu walks saw a mix\n",
		    res[1], res[0]);
	unit_rmdir(tmp);
}

static bool
exists_in(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;

	unit_pjoin(path, sizeof(path), dir, name);
	return lstat(path, &sb) == 0;
}

static void
test_prune(void)
{
	static const char *other[] = {
		"latest", "abc", "007", "0", ".build", "12x", "-3", " 4",
		"99999999999999999999999", "18446744073709551615",
		"18446744073709551614",
	};
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), vers[4096], name[64], path[4096];
	unsigned i;

	unit_pjoin(vers, sizeof(vers), tmp, "versions");
	CU_ASSERT_EQUAL_FATAL(mkdir(vers, 0755), 0);
	/* 1..12, each with a read-only subdirectory, as built trees are. */
	for (i = 1; i <= 12; i++) {
		snprintf(name, sizeof(name), "%u", i);
		unit_pjoin(path, sizeof(path), vers, name);
		CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
		unit_write(path, "f", "x", 1);
		snprintf(name, sizeof(name), "%u/ro", i);
		unit_pjoin(path, sizeof(path), vers, name);
		CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
		unit_write(path, "g", "y", 1);
		CU_ASSERT_EQUAL_FATAL(chmod(path, 0555), 0);
	}
	for (i = 0; i < NELEM(other); i++) {
		unit_pjoin(path, sizeof(path), vers, other[i]);
		CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	}
	/* Current 10 of 12 (11 and 12 not yet published), keep 3. */
	CU_ASSERT_EQUAL(nd_publish_prune(vers, 10, 3, NULL, &err), PD_OK);
	for (i = 1; i <= 12; i++) {
		snprintf(name, sizeof(name), "%u", i);
		CU_ASSERT_EQUAL(exists_in(vers, name), i >= 8);
	}
	for (i = 0; i < NELEM(other); i++)
		CU_ASSERT(exists_in(vers, other[i]));
	/* Keeping more than there are removes nothing. */
	CU_ASSERT_EQUAL(nd_publish_prune(vers, 10, 50, NULL, &err), PD_OK);
	CU_ASSERT(exists_in(vers, "8"));
	/* Keep 1 is the current alone; 0 means 1, never none. */
	CU_ASSERT_EQUAL(nd_publish_prune(vers, 10, 0, NULL, &err), PD_OK);
	CU_ASSERT(!exists_in(vers, "8") && !exists_in(vers, "9"));
	CU_ASSERT(exists_in(vers, "10") && exists_in(vers, "11") &&
	    exists_in(vers, "12"));
	CU_ASSERT_EQUAL(nd_publish_prune(vers, 12, 1, NULL, &err), PD_OK);
	CU_ASSERT(!exists_in(vers, "10") && !exists_in(vers, "11"));
	CU_ASSERT(exists_in(vers, "12"));
	for (i = 0; i < NELEM(other); i++)
		CU_ASSERT(exists_in(vers, other[i]));
	CU_ASSERT_EQUAL(err.code, PD_OK);
	/* No such directory. */
	unit_pjoin(path, sizeof(path), tmp, "nowhere");
	CU_ASSERT_EQUAL(nd_publish_prune(path, 3, 1, NULL, &err), PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nowhere"));
	unit_rmdir(tmp);
}

/*
 * Pruning with a spare directory: the newest version removed is moved
 * there instead, read-only top and all, replacing what it held; and
 * nd_publish_spare finds it and clears anything else.
 */
static void
test_prune_spare(void)
{
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), vers[4096], spare[4096], name[64];
	char path[4096];
	uint64_t n;
	unsigned i;
	int fd;

	unit_pjoin(vers, sizeof(vers), tmp, "versions");
	unit_pjoin(spare, sizeof(spare), tmp, "spare");
	CU_ASSERT_EQUAL_FATAL(mkdir(vers, 0755), 0);
	/* None yet. */
	CU_ASSERT_EQUAL(nd_publish_spare(spare, &n, &fd, &err), PD_OK);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(fd, -1);
	for (i = 1; i <= 5; i++) {
		snprintf(name, sizeof(name), "%u", i);
		unit_pjoin(path, sizeof(path), vers, name);
		CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
		unit_write(path, "f", name, strlen(name));
		CU_ASSERT_EQUAL_FATAL(chmod(path, 0555), 0);
	}
	/* An older spare and some junk are replaced. */
	CU_ASSERT_EQUAL_FATAL(mkdir(spare, 0700), 0);
	unit_write(spare, "junk", "j", 1);
	CU_ASSERT_EQUAL(nd_publish_prune(vers, 3, 2, spare, &err), PD_OK);
	CU_ASSERT(!exists_in(vers, "1"));
	CU_ASSERT(exists_in(vers, "2") && exists_in(vers, "3"));
	CU_ASSERT(exists_in(spare, "1") && !exists_in(spare, "junk"));
	CU_ASSERT_EQUAL(nd_publish_prune(vers, 5, 2, spare, &err), PD_OK);
	for (i = 1; i <= 5; i++) {
		snprintf(name, sizeof(name), "%u", i);
		CU_ASSERT_EQUAL(exists_in(vers, name), i >= 4);
		CU_ASSERT_EQUAL(exists_in(spare, name), i == 3);
	}
	CU_ASSERT(exists_in(spare, "3/f"));
	unit_write(spare, "abc", "j", 1);
	CU_ASSERT_EQUAL(nd_publish_spare(spare, &n, &fd, &err), PD_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT(fd >= 0);
	CU_ASSERT(!exists_in(spare, "abc"));
	if (fd >= 0) {
		CU_ASSERT_EQUAL(faccessat(fd, "f", F_OK, AT_SYMLINK_NOFOLLOW),
		    0);
		close(fd);
	}
	/* Nothing to retire: the spare stays. */
	CU_ASSERT_EQUAL(nd_publish_prune(vers, 5, 2, spare, &err), PD_OK);
	CU_ASSERT(exists_in(spare, "3"));
	CU_ASSERT_EQUAL(err.code, PD_OK);
	unit_rmdir(tmp);
}

static int
add_switch(void)
{
	static const struct unit_test tests[] = {
		{ "switch the published link", test_switch },
		{ "readers during 200 switches", test_switch_readers },
		{ "prune old versions", test_prune },
		{ "keep the newest pruned as the spare", test_prune_spare },
	};

	return UNIT_SUITE("switch", NULL, NULL, tests);
}

UNIT_REGISTER("switch", add_switch)
