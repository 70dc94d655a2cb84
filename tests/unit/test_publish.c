/*
 * Unit tests of node/build: building a version's tree from a manifest
 * (test_switch.c has switching and pruning).
 *
 * Manifests are built in memory from tables (struct ent) and checked
 * with pr_manifest_check, so every case is a manifest a mirror could
 * really receive.  Staged objects are files named by the hex SHA-256 of
 * their content, mode 0600, as node/xfer leaves them.  A built tree is
 * compared with its manifest entry by entry (type, mode, mtime in ns,
 * size, content, link target, which entries share an inode) and by
 * count, so nothing extra may appear either.
 *
 * Permission cases run in a child without CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH, so they hold as root too.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/fsx.h"
#include "../../common/hex.h"
#include "../../common/mem.h"
#include "../../common/sha256.h"
#include "../../node/publish.h"
#include "../../protocol/manifest.h"
#include "../../protocol/pathenc.h"
#include "unit.h"

#define T0		1700000000
#define BIG_LEN		200000	/* several copy_file_range/read rounds */
#define MAX_SNAP	128

/*
 * One manifest entry: type 'f' file (data is the content), 'd'
 * directory, 'l' symbolic link (data is the target); mtime T0 + sec
 * seconds and nsec nanoseconds.
 */
struct ent {
	const char	*path;
	char		 type;
	unsigned	 mode;
	const char	*data;
	uint32_t	 link;
	int64_t		 sec;
	uint32_t	 nsec;
};

static char big[BIG_LEN + 1];

/*
 * Version 1: every kind of entry.  "dup" has a.txt's content with
 * another mode; dir/hl2 and hl1 are group 1, ga and gb group 2.
 */
static const struct ent v1[] = {
	{ "a.txt", 'f', 0644, "hello\n", 0, 1, 100 },
	{ "big", 'f', 0644, big, 0, 2, 0 },
	{ "bin", 'd', 0755, NULL, 0, 3, 1 },
	{ "bin/run", 'f', 0755, "#!/bin/sh\necho 1\n", 0, 4, 999999999 },
	{ "dir", 'd', 02750, NULL, 0, 5, 5 },
	{ "dir/hl2", 'f', 0640, "linked\n", 1, 6, 6 },
	{ "dir/nested", 'd', 0555, NULL, 0, 7, 7 },
	{ "dir/nested/deep", 'f', 0444, "deep\n", 0, 8, 8 },
	{ "dup", 'f', 0600, "hello\n", 0, 9, 9 },
	{ "empty", 'f', 0644, "", 0, 10, 10 },
	{ "emptydir", 'd', 0700, NULL, 0, 11, 11 },
	{ "ga", 'f', 0644, "group two\n", 2, 12, 12 },
	{ "gb", 'f', 0644, "group two\n", 2, 12, 12 },
	{ "hl1", 'f', 0640, "linked\n", 1, 6, 6 },
	{ "ln-abs", 'l', 0777, "/etc/passwd", 0, 13, 13 },
	{ "ln-dangling", 'l', 0777, "does/not/exist", 0, 14, 14 },
	{ "ln-dir", 'l', 0777, "dir", 0, 15, 15 },
	{ "new\nline", 'f', 0644, "newline\n", 0, 16, 16 },
	{ "secret", 'f', 0600, "secret\n", 0, 17, 17 },
	{ "sgid", 'f', 02755, "setgid\n", 0, 18, 18 },
	{ "sticky", 'd', 01777, NULL, 0, 19, 19 },
	{ "suid", 'f', 04755, "setuid\n", 0, 20, 20 },
	{ "todir", 'f', 0644, "becomes a directory\n", 0, 21, 21 },
	{ "tofile", 'd', 0755, NULL, 0, 22, 22 },
	{ "tofile/inner", 'f', 0644, "inner\n", 0, 23, 23 },
};

/*
 * Version 2 over version 1.  Unchanged: a.txt, group 1, dir/nested/deep,
 * empty, sgid, suid (linked).  bin/run changed (staged); dup changed
 * mode only, new\nline mtime only; group 2 grew (gc); secret renamed to
 * renamed, big to big2; todir became a directory, tofile a file;
 * ln-dir retargeted.  Only bin/run's new content is staged.
 */
static const struct ent v2[] = {
	{ "a.txt", 'f', 0644, "hello\n", 0, 1, 100 },
	{ "big2", 'f', 0644, big, 0, 2, 0 },
	{ "bin", 'd', 0755, NULL, 0, 3, 1 },
	{ "bin/run", 'f', 0755, "#!/bin/sh\necho 2\n", 0, 30, 30 },
	{ "dir", 'd', 02750, NULL, 0, 5, 5 },
	{ "dir/hl2", 'f', 0640, "linked\n", 1, 6, 6 },
	{ "dir/nested", 'd', 0555, NULL, 0, 7, 7 },
	{ "dir/nested/deep", 'f', 0444, "deep\n", 0, 8, 8 },
	{ "dup", 'f', 0640, "hello\n", 0, 9, 9 },
	{ "empty", 'f', 0644, "", 0, 10, 10 },
	{ "emptydir", 'd', 0700, NULL, 0, 31, 31 },
	{ "ga", 'f', 0644, "group two\n", 2, 12, 12 },
	{ "gb", 'f', 0644, "group two\n", 2, 12, 12 },
	{ "gc", 'f', 0644, "group two\n", 2, 12, 12 },
	{ "hl1", 'f', 0640, "linked\n", 1, 6, 6 },
	{ "ln-abs", 'l', 0777, "/etc/passwd", 0, 13, 13 },
	{ "ln-dangling", 'l', 0777, "does/not/exist", 0, 14, 14 },
	{ "ln-dir", 'l', 0777, "a.txt", 0, 32, 32 },
	{ "new\nline", 'f', 0644, "newline\n", 0, 33, 33 },
	{ "renamed", 'f', 0600, "secret\n", 0, 17, 17 },
	{ "sgid", 'f', 02755, "setgid\n", 0, 18, 18 },
	{ "suid", 'f', 04755, "setuid\n", 0, 20, 20 },
	{ "todir", 'd', 0755, NULL, 0, 34, 34 },
	{ "todir/x", 'f', 0644, "inner\n", 0, 35, 35 },
	{ "tofile", 'f', 0644, "becomes a directory\n", 0, 36, 36 },
};

/* v2 paths that must be v1's very inode, and those that must not. */
static const char *v2_same[] = {
	"a.txt", "dir/hl2", "hl1", "dir/nested/deep", "empty", "sgid", "suid",
};
static const char *v2_new[] = {
	"big2", "bin/run", "dup", "ga", "gb", "new\nline", "renamed",
	"tofile",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define SRC(p, pf, s)	(&(struct nd_build_src){ .prev = (p), \
			    .prevfd = (pf), .sparefd = -1, .stagefd = (s) })

static int
init_suite(void)
{
	size_t i;

	for (i = 0; i < BIG_LEN; i++)
		big[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	big[BIG_LEN] = '\0';
	return 0;
}

static struct pr_manifest *
manifest(const struct ent *ents, size_t n, uint64_t version)
{
	struct pr_manifest *m = pr_manifest_new();
	struct pd_error err = { 0 };
	struct pr_entry e;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "t");
	m->version = version;
	m->has_parent = version > 1;
	m->created = T0;
	m->root_mode = 0755;
	m->root_mtime.sec = T0 + 100 + (int64_t)version;
	m->root_mtime.nsec = 123456789;
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.path = ents[i].path;
		e.path_len = (uint32_t)strlen(ents[i].path);
		e.type = (enum pr_type)ents[i].type;
		e.mode = ents[i].mode;
		e.mtime.sec = T0 + ents[i].sec;
		e.mtime.nsec = ents[i].nsec;
		e.link = ents[i].link;
		if (e.type == PR_FILE) {
			e.size = strlen(ents[i].data);
			CU_ASSERT_EQUAL_FATAL(pd_sha256(ents[i].data,
			    (size_t)e.size, e.sha), PD_OK);
		} else if (e.type == PR_LINK) {
			e.target = ents[i].data;
			e.target_len = (uint32_t)strlen(ents[i].data);
		}
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
	}
	pr_manifest_sort(m);
	if (pr_manifest_check(m, &err) != PD_OK)
		fprintf(stderr, "publish: bad test manifest: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
	return m;
}

/* Stage content as node/xfer does: a 0600 file named by its hash. */
static void
stage(const char *stagedir, const char *data)
{
	unsigned char sha[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX], path[4096];

	CU_ASSERT_EQUAL_FATAL(pd_sha256(data, strlen(data), sha), PD_OK);
	pd_hex_encode(sha, PD_SHA256_LEN, hex);
	unit_write(stagedir, hex, data, strlen(data));
	unit_pjoin(path, sizeof(path), stagedir, hex);
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0600), 0);
}

static void
hexname(const char *data, char hex[PD_SHA256_HEX])
{
	unsigned char sha[PD_SHA256_LEN];

	CU_ASSERT_EQUAL_FATAL(pd_sha256(data, strlen(data), sha), PD_OK);
	pd_hex_encode(sha, PD_SHA256_LEN, hex);
}

/* Stage every file content of ents but the empty one. */
static void
stage_all(const char *stagedir, const struct ent *ents, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ents[i].type == 'f' && ents[i].data[0] != '\0')
			stage(stagedir, ents[i].data);
}

/* mkdir dir/name (0700) and open it; the path goes to out if given. */
static int
mkdir_open(const char *dir, const char *name, char *out, size_t outsz)
{
	char path[4096];
	int fd;

	unit_pjoin(path, sizeof(path), dir, name);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	if (out != NULL)
		snprintf(out, outsz, "%s", path);
	return fd;
}

static bool
same_time(const struct timespec *ts, const struct pr_time *t)
{
	return (int64_t)ts->tv_sec == t->sec && (uint32_t)ts->tv_nsec ==
	    t->nsec;
}

/* Entries beneath dfd, recursively, never following a link. */
static size_t
count_tree(int dfd)
{
	struct dirent *de;
	struct stat st;
	size_t n = 0;
	DIR *d;
	int fd;

	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL)
		return 0;
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && (fd = openat(dfd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			n += count_tree(fd);
			close(fd);
		}
	}
	closedir(d);
	return n;
}

/* 1 if the file at dfd/path holds exactly the bytes hashed in sha. */
static int
content_is(int dfd, const char *path, const unsigned char *sha)
{
	unsigned char buf[8192], got[PD_SHA256_LEN];
	struct pd_sha256 *h;
	ssize_t n;
	int fd, ok = 0;

	if ((fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == EACCES ? -1 : 0;
	if ((h = pd_sha256_new()) == NULL || pd_sha256_init(h) != PD_OK)
		goto out;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (pd_sha256_update(h, buf, (size_t)n) != PD_OK)
			goto out;
	if (n == 0 && pd_sha256_final(h, got) == PD_OK)
		ok = memcmp(got, sha, PD_SHA256_LEN) == 0;
out:
	pd_sha256_free(h);
	close(fd);
	return ok;
}

static int
problem(const struct pr_entry *e, const char *why)
{
	char ps[PR_SHOW_MAX];

	fprintf(stderr, "\npublish: %s: %s\n", e == NULL ? "(root)" :
	    pr_path_show(e->path, e->path_len, ps, sizeof(ps)), why);
	return 1;
}

/*
 * How the tree at dfd differs from m, each difference printed: 0 if it
 * is exactly m.  Contents of files the caller cannot read (mode without
 * owner read, not root) are not compared.
 */
static int
tree_problems(int dfd, const struct pr_manifest *m)
{
	const struct pr_entry *e, *f;
	struct stat *sts, st;
	char target[4096];
	ssize_t tn;
	size_t i, k;
	int bad = 0, c;

	sts = pd_calloc(m->nentries + 1, sizeof(*sts));
	CU_ASSERT_PTR_NOT_NULL_FATAL(sts);
	if (fstat(dfd, &st) != 0 || !S_ISDIR(st.st_mode))
		bad += problem(NULL, "not a directory");
	else if ((st.st_mode & 07777) != m->root_mode)
		bad += problem(NULL, "wrong mode");
	else if (!same_time(&st.st_mtim, &m->root_mtime))
		bad += problem(NULL, "wrong mtime");
	for (i = 0; i < m->nentries; i++) {
		e = &m->entries[i];
		if (fstatat(dfd, e->path, &sts[i], AT_SYMLINK_NOFOLLOW) < 0) {
			bad += problem(e, "missing");
			continue;
		}
		if ((e->type == PR_DIR && !S_ISDIR(sts[i].st_mode)) ||
		    (e->type == PR_FILE && !S_ISREG(sts[i].st_mode)) ||
		    (e->type == PR_LINK && !S_ISLNK(sts[i].st_mode))) {
			bad += problem(e, "wrong type");
			continue;
		}
		if (e->type != PR_LINK && (sts[i].st_mode & 07777) != e->mode)
			bad += problem(e, "wrong mode");
		if (!same_time(&sts[i].st_mtim, &e->mtime))
			bad += problem(e, "wrong mtime");
		if (e->type == PR_FILE) {
			if ((uint64_t)sts[i].st_size != e->size)
				bad += problem(e, "wrong size");
			else if ((c = content_is(dfd, e->path, e->sha)) == 0 ||
			    (c < 0 && (geteuid() == 0 || (e->mode & 0400))))
				bad += problem(e, "wrong content");
		}
		if (e->type == PR_LINK) {
			tn = readlinkat(dfd, e->path, target, sizeof(target));
			if (tn < 0 || (size_t)tn != e->target_len ||
			    memcmp(target, e->target, (size_t)tn) != 0)
				bad += problem(e, "wrong link target");
		}
	}
	/* Two files share an inode exactly when one group holds both. */
	for (i = 0; i < m->nentries; i++) {
		e = &m->entries[i];
		for (k = i + 1; e->type == PR_FILE && k < m->nentries; k++) {
			f = &m->entries[k];
			if (f->type != PR_FILE || sts[i].st_ino == 0)
				continue;
			if ((e->link != 0 && e->link == f->link) !=
			    (sts[i].st_ino == sts[k].st_ino &&
			    sts[i].st_dev == sts[k].st_dev))
				bad += problem(f, e->link != 0 && e->link ==
				    f->link ? "not linked to its group" :
				    "shares an inode it must not");
		}
	}
	if (count_tree(dfd) != m->nentries)
		bad += problem(NULL, "entries not in the manifest");
	pd_free(sts);
	return bad;
}

static ino_t
ino_at(int dfd, const char *path)
{
	struct stat st;

	if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return st.st_ino;
}

/* What a directory holds, to prove that something left it alone. */
struct snap {
	char		 path[256];
	ino_t		 ino;
	mode_t		 mode;
	nlink_t		 nlink;
	off_t		 size;
	struct timespec	 mtim;
	struct timespec	 ctim;
};

struct snaps {
	struct snap	 s[MAX_SNAP];
	size_t		 n;
};

static void
snap_walk(int dfd, const char *prefix, struct snaps *sn)
{
	struct dirent *de;
	struct snap *s;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL)
		return;
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		CU_ASSERT_FATAL(sn->n < MAX_SNAP);
		s = &sn->s[sn->n++];
		snprintf(s->path, sizeof(s->path), "%s%s", prefix, de->d_name);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		s->ino = st.st_ino;
		s->mode = st.st_mode;
		s->nlink = st.st_nlink;
		s->size = st.st_size;
		s->ctim = st.st_ctim;
		/* A directory's own mtime changes when it is read: no. */
		s->mtim = st.st_mtim;
		if (S_ISDIR(st.st_mode) && (fd = openat(dfd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			char sub[256];

			snprintf(sub, sizeof(sub), "%s/", s->path);
			snap_walk(fd, sub, sn);
			close(fd);
		}
	}
	closedir(d);
}

static int
snap_cmp(const void *a, const void *b)
{
	return strcmp(((const struct snap *)a)->path,
	    ((const struct snap *)b)->path);
}

static void
snap_take(const char *dir, struct snaps *sn)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	memset(sn, 0, sizeof(*sn));
	snap_walk(fd, "", sn);
	close(fd);
	qsort(sn->s, sn->n, sizeof(sn->s[0]), snap_cmp);
}

/* 0 if dir is as in before (inodes, modes, links, times), else 1. */
static int
snap_changed(const char *dir, const struct snaps *before)
{
	struct snaps *now = pd_calloc(1, sizeof(*now));
	size_t i;
	int bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(now);
	snap_take(dir, now);
	if (now->n != before->n) {
		fprintf(stderr, "\npublish: %s: %zu entries, was %zu\n", dir,
		    now->n, before->n);
		bad = 1;
	}
	for (i = 0; !bad && i < now->n; i++)
		if (memcmp(&now->s[i], &before->s[i], sizeof(now->s[i]))) {
			fprintf(stderr, "\npublish: %s/%s changed\n", dir,
			    now->s[i].path);
			bad = 1;
		}
	pd_free(now);
	return bad;
}

/* Build v1 from staged objects into base/name; returns its fd. */
static int
build_v1(const char *base, const char *name, struct pr_manifest **m1)
{
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	char stagedir[4096], sname[64];
	int stagefd, fd;

	*m1 = manifest(v1, NELEM(v1), 1);
	snprintf(sname, sizeof(sname), "stage-%s", name);
	stagefd = mkdir_open(base, sname, stagedir, sizeof(stagedir));
	stage_all(stagedir, v1, NELEM(v1));
	fd = mkdir_open(base, name, NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, *m1, SRC(NULL, -1, stagefd), &st, &err),
	    PD_OK);
	if (err.code != PD_OK)
		fprintf(stderr, "\npublish: %s\n", err.msg);
	close(stagefd);
	return fd;
}

static void
test_build_v1(void)
{
	struct pr_manifest *m;
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), stagedir[4096];
	const struct pr_entry *e;
	struct stat sb;
	uint64_t bytes = 0;
	size_t i, files = 0;
	int fd, stagefd;

	m = manifest(v1, NELEM(v1), 1);
	stagefd = mkdir_open(tmp, "stage", stagedir, sizeof(stagedir));
	stage_all(stagedir, v1, NELEM(v1));
	fd = mkdir_open(tmp, "build", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(NULL, -1, stagefd), &st,
	    &err), PD_OK);
	CU_ASSERT_EQUAL(err.code, PD_OK);
	CU_ASSERT_EQUAL(tree_problems(fd, m), 0);
	/* Every file once (a group counts one), nothing from a prev. */
	for (i = 0; i < m->nentries; i++) {
		e = &m->entries[i];
		if (e->type != PR_FILE || (e->link != 0 &&
		    strcmp(e->path, "hl1") == 0) || strcmp(e->path, "gb") == 0)
			continue;
		files++;
		bytes += e->size;
	}
	CU_ASSERT_EQUAL(st.written, files);
	CU_ASSERT_EQUAL(st.bytes_written, bytes);
	/* First uses took the staged inode; the second "hello\n" did not. */
	CU_ASSERT(st.bytes_linked > 0 && st.bytes_linked < bytes);
	CU_ASSERT_EQUAL(st.linked, 0);
	CU_ASSERT_EQUAL(st.copied, 0);
	/* The two uses of "hello\n" are two inodes with their own modes. */
	CU_ASSERT_NOT_EQUAL(ino_at(fd, "a.txt"), ino_at(fd, "dup"));
	CU_ASSERT_EQUAL(fstatat(fd, "dup", &sb, AT_SYMLINK_NOFOLLOW), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	/* A second build of the same manifest from the same staging. */
	close(fd);
	fd = mkdir_open(tmp, "again", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(NULL, -1, stagefd), &st,
	    &err), PD_OK);
	CU_ASSERT_EQUAL(tree_problems(fd, m), 0);
	close(fd);
	close(stagefd);
	pr_manifest_free(m);
	unit_rmdir(tmp);
}

/* Without CAP_DAC_*: read-only directories, unreadable files. */
static void
test_build_unprivileged(void)
{
	static const struct ent ents[] = {
		{ "locked", 'f', 0000, "same\n", 0, 1, 1 },
		{ "open", 'f', 0644, "same\n", 0, 2, 2 },
		{ "ro", 'd', 0500, NULL, 0, 3, 3 },
		{ "ro/f", 'f', 0400, "read only\n", 0, 4, 4 },
		{ "ro/sub", 'd', 0555, NULL, 0, 5, 5 },
		{ "ro/sub/w", 'f', 0200, "write only\n", 0, 6, 6 },
	};
	struct pr_manifest *m = manifest(ents, NELEM(ents), 1);
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), stagedir[4096];
	pid_t pid;
	int fd, stagefd;

	stagefd = mkdir_open(tmp, "stage", stagedir, sizeof(stagedir));
	stage_all(stagedir, ents, NELEM(ents));
	fd = mkdir_open(tmp, "build", NULL, 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		if (unit_drop_dac_caps() != 0)
			_exit(100);
		if (nd_build(fd, m, SRC(NULL, -1, stagefd), &st,
		    &err) != PD_OK) {
			fprintf(stderr, "\npublish: %s\n", err.msg);
			_exit(1);
		}
		_exit(0);
	}
	CU_ASSERT_EQUAL(unit_child_status(pid), 0);
	CU_ASSERT_EQUAL(tree_problems(fd, m), 0);
	close(fd);
	close(stagefd);
	pr_manifest_free(m);
	unit_rmdir(tmp);
}

static void
test_build_v2(void)
{
	struct pr_manifest *m1, *m2;
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), stagedir[4096];
	struct stat sb;
	size_t i;
	int fd1, fd2, stagefd;

	fd1 = build_v1(tmp, "v1", &m1);
	m2 = manifest(v2, NELEM(v2), 2);
	stagefd = mkdir_open(tmp, "stage2", stagedir, sizeof(stagedir));
	stage(stagedir, "#!/bin/sh\necho 2\n");
	fd2 = mkdir_open(tmp, "v2", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd2, m2, SRC(m1, fd1, stagefd), &st,
	    &err), PD_OK);
	if (err.code != PD_OK)
		fprintf(stderr, "\npublish: %s\n", err.msg);
	CU_ASSERT_EQUAL(tree_problems(fd2, m2), 0);
	/* Nothing shared with v2 was changed in v1 (modes above all). */
	CU_ASSERT_EQUAL(tree_problems(fd1, m1), 0);
	for (i = 0; i < NELEM(v2_same); i++)
		if (ino_at(fd1, v2_same[i]) != ino_at(fd2, v2_same[i])) {
			fprintf(stderr, "\npublish: %s not linked\n",
			    v2_same[i]);
			CU_FAIL("unchanged file not linked");
		}
	for (i = 0; i < NELEM(v2_new); i++)
		if (ino_at(fd1, v2_new[i]) == ino_at(fd2, v2_new[i])) {
			fprintf(stderr, "\npublish: %s linked\n", v2_new[i]);
			CU_FAIL("changed file linked");
		}
	CU_ASSERT_NOT_EQUAL(ino_at(fd1, "secret"), ino_at(fd2, "renamed"));
	CU_ASSERT_NOT_EQUAL(ino_at(fd1, "big"), ino_at(fd2, "big2"));
	CU_ASSERT_EQUAL(fstatat(fd1, "dup", &sb, AT_SYMLINK_NOFOLLOW), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(fstatat(fd2, "dup", &sb, AT_SYMLINK_NOFOLLOW), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0640);
	/* a.txt dir/hl2 deep empty sgid suid; hl1 is a link to dir/hl2. */
	CU_ASSERT_EQUAL(st.linked, 6);
	CU_ASSERT_EQUAL(st.written, 1);
	/* big2 dup ga new\nline renamed todir/x tofile */
	CU_ASSERT_EQUAL(st.copied, 7);
	CU_ASSERT_EQUAL(st.bytes_written, strlen("#!/bin/sh\necho 2\n") +
	    BIG_LEN + strlen("hello\ngroup two\nnewline\nsecret\ninner\n"
	    "becomes a directory\n"));

	/* v3 = v2 with v2 as prev: everything linked, v2 left alone. */
	{
		struct pr_manifest *m3 = manifest(v2, NELEM(v2), 3);
		int fd3 = mkdir_open(tmp, "v3", NULL, 0);

		CU_ASSERT_EQUAL(nd_build(fd3, m3, SRC(m2, fd2, -1), &st, &err),
		    PD_OK);
		CU_ASSERT_EQUAL(tree_problems(fd3, m3), 0);
		/* Every file but the later members of groups 1 and 2. */
		CU_ASSERT_EQUAL(st.linked, 17 - 3);
		CU_ASSERT_EQUAL(st.copied + st.written, 0);
		CU_ASSERT_EQUAL(ino_at(fd2, "gc"), ino_at(fd3, "gc"));
		CU_ASSERT_EQUAL(tree_problems(fd2, m2), 0);
		close(fd3);
		pr_manifest_free(m3);
	}
	close(fd1);
	close(fd2);
	close(stagefd);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	unit_rmdir(tmp);
}

/*
 * Finish a build of v1 begun otherwise: the tree and counts are
 * nd_build's (as test_build_v1: 16 files, of which hl1 and gb are
 * links).
 */
static void
finish_v1(struct nd_builder *bl, int fd, const struct pr_manifest *m)
{
	struct nd_build_stats st;
	struct pd_error err = { 0 };

	CU_ASSERT_EQUAL(nd_build_finish(bl, &st, &err), PD_OK);
	nd_build_free(bl);
	CU_ASSERT_EQUAL(tree_problems(fd, m), 0);
	CU_ASSERT_EQUAL(st.written, 14);
	CU_ASSERT_EQUAL(st.linked, 0);
	CU_ASSERT_EQUAL(st.copied, 0);
	close(fd);
}

/* A builder of m into tmp/stopped (*fd), told to stop. */
static struct nd_builder *
stopped_v1(const char *tmp, const struct pr_manifest *m, int stagefd,
    int *fd)
{
	struct nd_builder *bl;
	struct pd_error err = { 0 };

	*fd = mkdir_open(tmp, "stopped", NULL, 0);
	CU_ASSERT_EQUAL_FATAL(nd_build_new(*fd, m, SRC(NULL, -1, stagefd),
	    &bl, &err), PD_OK);
	nd_build_stop(bl);
	return bl;
}

/*
 * v1 with no prev, built as its content is staged, as a first pull's:
 * each staged content makes every path of it at once but a hardlink
 * group's later members, its first path taking the object itself;
 * nothing else, and again nothing; the finished tree and counts are
 * nd_build's.  A stopped builder makes nothing.
 */
static void
test_build_staged(void)
{
	static const char *none[] = { "big", "bin/run", "gb", "hl1", "suid" };
	struct pr_manifest *m;
	struct nd_builder *bl;
	struct pd_error err = { 0 };
	unsigned char hello[PD_SHA256_LEN], two[PD_SHA256_LEN];
	char *tmp = unit_tmpdir(), stagedir[4096], hex[PD_SHA256_HEX];
	struct stat sb;
	size_t i;
	int fd, stagefd;
	ino_t staged;

	m = manifest(v1, NELEM(v1), 1);
	CU_ASSERT_EQUAL_FATAL(pd_sha256("hello\n", 6, hello), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_sha256("group two\n", 10, two), PD_OK);
	stagefd = mkdir_open(tmp, "stage", stagedir, sizeof(stagedir));
	stage(stagedir, "hello\n");
	stage(stagedir, "group two\n");
	hexname("hello\n", hex);
	staged = ino_at(stagefd, hex);
	fd = mkdir_open(tmp, "build", NULL, 0);
	CU_ASSERT_EQUAL_FATAL(nd_build_new(fd, m, SRC(NULL, -1, stagefd),
	    &bl, &err), PD_OK);
	CU_ASSERT_EQUAL(nd_build_staged(bl, hello, &err), PD_OK);
	CU_ASSERT_EQUAL(nd_build_staged(bl, two, &err), PD_OK);
	CU_ASSERT_EQUAL(nd_build_staged(bl, hello, &err), PD_OK);
	if (err.code != PD_OK)
		fprintf(stderr, "\npublish: %s\n", err.msg);
	/* Both paths of "hello\n": the first is the staged inode, moved
	 * in, the other a copy. */
	CU_ASSERT_NOT_EQUAL(staged, 0);
	CU_ASSERT_EQUAL(ino_at(fd, "a.txt"), staged);
	CU_ASSERT_EQUAL(ino_at(stagefd, hex), 0);
	CU_ASSERT(ino_at(fd, "dup") != 0 && ino_at(fd, "dup") != staged);
	CU_ASSERT_EQUAL(fstatat(fd, "ga", &sb, AT_SYMLINK_NOFOLLOW), 0);
	for (i = 0; i < NELEM(none); i++)
		CU_ASSERT_NOT_EQUAL(fstatat(fd, none[i], &sb,
		    AT_SYMLINK_NOFOLLOW), 0);
	/* The directories came first, and wait for their modes. */
	CU_ASSERT_EQUAL(fstatat(fd, "dir/nested", &sb, 0), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0700);
	/* The rest comes; what came before is files of the tree now. */
	for (i = 0; i < NELEM(v1); i++)
		if (v1[i].type == 'f' && v1[i].data[0] != '\0' &&
		    strcmp(v1[i].data, "hello\n") != 0 &&
		    strcmp(v1[i].data, "group two\n") != 0)
			stage(stagedir, v1[i].data);
	finish_v1(bl, fd, m);

	bl = stopped_v1(tmp, m, stagefd, &fd);
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(nd_build_staged(bl, hello, &err), PD_ERR_CONFLICT);
	CU_ASSERT(strstr(err.msg, "stopped") != NULL);
	nd_build_free(bl);
	CU_ASSERT_EQUAL(count_tree(fd), 0);
	close(fd);
	close(stagefd);
	pr_manifest_free(m);
	unit_rmdir(tmp);
}

/* An unnamed file in dfd with data, as node/xfer makes it; *ino its. */
static int
unnamed(int dfd, const char *data, ino_t *ino)
{
	struct stat st;
	int fd;

	fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(pd_write_all(fd, data, strlen(data)), PD_OK);
	CU_ASSERT_EQUAL_FATAL(fstat(fd, &st), 0);
	*ino = st.st_ino;
	return fd;
}

/*
 * v1 built from content given as unnamed files, as a first pull's
 * batches give it: each content's first path is the given inode, named
 * there (never in staging), its other paths copies; the descriptor is
 * closed; the finished tree and counts are nd_build's.  A stopped
 * builder makes nothing and still closes what it is given.
 */
static void
test_build_given(void)
{
	struct pr_manifest *m;
	struct nd_builder *bl;
	struct pd_error err = { 0 };
	unsigned char sha[PD_SHA256_LEN];
	char *tmp = unit_tmpdir();
	size_t i, k;
	int fd, stagefd, gfd;
	ino_t ino, hello = 0;

	m = manifest(v1, NELEM(v1), 1);
	stagefd = mkdir_open(tmp, "stage", NULL, 0);
	fd = mkdir_open(tmp, "build", NULL, 0);
	CU_ASSERT_EQUAL_FATAL(nd_build_new(fd, m, SRC(NULL, -1, stagefd),
	    &bl, &err), PD_OK);
	for (i = 0; i < NELEM(v1); i++) {
		if (v1[i].type != 'f' || v1[i].data[0] == '\0')
			continue;
		for (k = 0; k < i; k++)
			if (v1[k].type == 'f' &&
			    strcmp(v1[k].data, v1[i].data) == 0)
				break;
		if (k < i)
			continue;	/* given once */
		CU_ASSERT_EQUAL_FATAL(pd_sha256(v1[i].data,
		    strlen(v1[i].data), sha), PD_OK);
		gfd = unnamed(fd, v1[i].data, &ino);
		if (strcmp(v1[i].data, "hello\n") == 0)
			hello = ino;
		CU_ASSERT_EQUAL(nd_build_given(bl, sha, gfd, &err), PD_OK);
		if (err.code != PD_OK)
			fprintf(stderr, "\npublish: %s\n", err.msg);
		CU_ASSERT(fcntl(gfd, F_GETFD) < 0 && errno == EBADF);
	}
	CU_ASSERT_NOT_EQUAL(hello, 0);
	CU_ASSERT_EQUAL(ino_at(fd, "a.txt"), hello);
	CU_ASSERT(ino_at(fd, "dup") != 0 && ino_at(fd, "dup") != hello);
	CU_ASSERT_EQUAL(count_tree(stagefd), 0);
	finish_v1(bl, fd, m);

	bl = stopped_v1(tmp, m, stagefd, &fd);
	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(pd_sha256("hello\n", 6, sha), PD_OK);
	gfd = unnamed(stagefd, "hello\n", &ino);
	CU_ASSERT_EQUAL(nd_build_given(bl, sha, gfd, &err), PD_ERR_CONFLICT);
	CU_ASSERT(fcntl(gfd, F_GETFD) < 0 && errno == EBADF);
	nd_build_free(bl);
	CU_ASSERT_EQUAL(count_tree(fd), 0);
	close(fd);
	close(stagefd);
	pr_manifest_free(m);
	unit_rmdir(tmp);
}

/*
 * v2 over v1 in two steps, the staged object arriving between them as
 * a pull's would: the first step makes what prev has and nothing that
 * needs staging; the finished tree and its counts are nd_build's.  A
 * stopped first step ends at once.
 */
static void
test_build_early(void)
{
	static const char *early[] = {
		"a.txt", "big2", "dir/hl2", "dup", "empty", "ga",
		"ln-dir", "new\nline", "renamed", "todir/x", "tofile",
	};
	static const char *later[] = { "bin/run", "gb", "gc", "hl1" };
	struct pr_manifest *m1, *m2;
	struct nd_build_stats st;
	struct nd_builder *bl;
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), stagedir[4096];
	struct stat sb;
	size_t i;
	int fd1, fd2, stagefd;

	fd1 = build_v1(tmp, "v1", &m1);
	m2 = manifest(v2, NELEM(v2), 2);
	stagefd = mkdir_open(tmp, "stage2", stagedir, sizeof(stagedir));
	fd2 = mkdir_open(tmp, "v2", NULL, 0);
	CU_ASSERT_EQUAL_FATAL(nd_build_new(fd2, m2, SRC(m1, fd1, stagefd),
	    &bl, &err), PD_OK);
	CU_ASSERT_EQUAL(nd_build_early(bl, &err), PD_OK);
	if (err.code != PD_OK)
		fprintf(stderr, "\npublish: %s\n", err.msg);
	for (i = 0; i < NELEM(early); i++)
		if (fstatat(fd2, early[i], &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			fprintf(stderr, "\npublish: %s not made\n", early[i]);
			CU_FAIL("entry prev has not made early");
		}
	for (i = 0; i < NELEM(later); i++)
		CU_ASSERT_NOT_EQUAL(fstatat(fd2, later[i], &sb,
		    AT_SYMLINK_NOFOLLOW), 0);
	/* Directories wait for their modes: a read-only one takes more. */
	CU_ASSERT_EQUAL(fstatat(fd2, "dir/nested", &sb, 0), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0700);
	stage(stagedir, "#!/bin/sh\necho 2\n");
	CU_ASSERT_EQUAL(nd_build_finish(bl, &st, &err), PD_OK);
	nd_build_free(bl);
	CU_ASSERT_EQUAL(tree_problems(fd2, m2), 0);
	CU_ASSERT_EQUAL(tree_problems(fd1, m1), 0);
	for (i = 0; i < NELEM(v2_same); i++)
		CU_ASSERT_EQUAL(ino_at(fd1, v2_same[i]), ino_at(fd2,
		    v2_same[i]));
	CU_ASSERT_EQUAL(st.linked, 6);
	CU_ASSERT_EQUAL(st.written, 1);
	CU_ASSERT_EQUAL(st.copied, 7);
	CU_ASSERT_EQUAL(st.bytes_linked, strlen("#!/bin/sh\necho 2\n"));

	/* Stopped before it starts: nothing but the directories made. */
	{
		int fd3 = mkdir_open(tmp, "v3", NULL, 0);

		CU_ASSERT_EQUAL_FATAL(nd_build_new(fd3, m2, SRC(m1, fd1,
		    stagefd), &bl, &err), PD_OK);
		nd_build_stop(bl);
		memset(&err, 0, sizeof(err));
		CU_ASSERT_EQUAL(nd_build_early(bl, &err), PD_ERR_CONFLICT);
		CU_ASSERT(strstr(err.msg, "stopped") != NULL);
		nd_build_free(bl);
		CU_ASSERT_NOT_EQUAL(fstatat(fd3, "a.txt", &sb,
		    AT_SYMLINK_NOFOLLOW), 0);
		close(fd3);
	}
	close(fd1);
	close(fd2);
	close(stagefd);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	unit_rmdir(tmp);
}

/*
 * Content nowhere: PD_ERR_NOTFOUND naming the path, and neither the
 * staging directory nor the previous tree touched (no link made, no
 * mode or time changed), even for entries before the missing one.
 */
static void
test_build_missing(void)
{
	static const struct ent ents[] = {
		{ "a.txt", 'f', 0644, "hello\n", 0, 1, 100 },
		{ "b", 'f', 0755, "staged\n", 0, 2, 2 },
		{ "dup", 'f', 0600, "hello\n", 0, 9, 9 },
		{ "zz\nmissing", 'f', 0644, "nowhere\n", 0, 3, 3 },
	};
	struct pr_manifest *m1, *m;
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	struct snaps *sprev = pd_calloc(1, sizeof(*sprev));
	struct snaps *sstage = pd_calloc(1, sizeof(*sstage));
	char *tmp = unit_tmpdir(), stagedir[4096], v1dir[4096];
	int fd1, fd, stagefd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sprev);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sstage);
	fd1 = build_v1(tmp, "v1", &m1);
	unit_pjoin(v1dir, sizeof(v1dir), tmp, "v1");
	stagefd = mkdir_open(tmp, "stage", stagedir, sizeof(stagedir));
	stage(stagedir, "staged\n");
	stage(stagedir, "hello\n");

	/* No prev. */
	m = manifest(ents, NELEM(ents), 1);
	snap_take(stagedir, sstage);
	fd = mkdir_open(tmp, "b1", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(NULL, -1, stagefd), &st, &err),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "zz%0Amissing"));
	CU_ASSERT_EQUAL(snap_changed(stagedir, sstage), 0);
	close(fd);
	pr_manifest_free(m);

	/* With a prev that has a.txt and dup unchanged. */
	m = manifest(ents, NELEM(ents), 2);
	snap_take(v1dir, sprev);
	pd_error_clear(&err);
	fd = mkdir_open(tmp, "b2", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(m1, fd1, stagefd), &st, &err),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "zz%0Amissing"));
	CU_ASSERT_EQUAL(snap_changed(stagedir, sstage), 0);
	CU_ASSERT_EQUAL(snap_changed(v1dir, sprev), 0);
	close(fd);
	pr_manifest_free(m);

	close(fd1);
	close(stagefd);
	pr_manifest_free(m1);
	pd_free(sprev);
	pd_free(sstage);
	unit_rmdir(tmp);
}

/*
 * Staged objects are trusted for their hash (the caller checked it), not
 * for being what their name says otherwise: a wrong size, a symbolic
 * link or a fifo under the right name is an error, never followed or
 * waited on.
 */
static void
test_build_bad_stage(void)
{
	static const struct ent ents[] = {
		{ "the-file", 'f', 0644, "twelve bytes", 0, 1, 1 },
	};
	struct pr_manifest *m = manifest(ents, NELEM(ents), 1);
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), stagedir[4096], hex[PD_SHA256_HEX];
	char path[4096], outside[4096];
	struct stat sb;
	int fd, stagefd;

	stagefd = mkdir_open(tmp, "stage", stagedir, sizeof(stagedir));
	hexname("twelve bytes", hex);
	unit_pjoin(path, sizeof(path), stagedir, hex);

	/* Longer, then shorter than the manifest says. */
	unit_write(stagedir, hex, "twelve bytes and more", 21);
	fd = mkdir_open(tmp, "b1", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(NULL, -1, stagefd), &st, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "the-file"));
	close(fd);
	unit_write(stagedir, hex, "twelve", 6);
	pd_error_clear(&err);
	fd = mkdir_open(tmp, "b2", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(NULL, -1, stagefd), &st, &err),
	    PD_ERR_CORRUPT);
	if (fstatat(fd, "the-file", &sb, AT_SYMLINK_NOFOLLOW) == 0)
		CU_ASSERT_NOT_EQUAL(sb.st_size, 12);
	close(fd);

	/* A link to the right content elsewhere. */
	CU_ASSERT_EQUAL(unlink(path), 0);
	unit_write(tmp, "outside", "twelve bytes", 12);
	unit_pjoin(outside, sizeof(outside), tmp, "outside");
	CU_ASSERT_EQUAL(symlink(outside, path), 0);
	pd_error_clear(&err);
	fd = mkdir_open(tmp, "b3", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(NULL, -1, stagefd), &st, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(stat(outside, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_nlink, 1);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0644);
	CU_ASSERT_EQUAL(ino_at(fd, "the-file") == 0 ||
	    (fstatat(fd, "the-file", &sb,
	    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_ino != ino_at(AT_FDCWD, outside)), 1);
	close(fd);

	/* A fifo: an open for reading would wait for a writer forever. */
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL(mkfifo(path, 0600), 0);
	pd_error_clear(&err);
	fd = mkdir_open(tmp, "b4", NULL, 0);
	alarm(20);
	CU_ASSERT_EQUAL(nd_build(fd, m, SRC(NULL, -1, stagefd), &st, &err),
	    PD_ERR_CORRUPT);
	alarm(0);
	close(fd);

	close(stagefd);
	pr_manifest_free(m);
	unit_rmdir(tmp);
}

/*
 * A previous tree that is not what its manifest says: dir (a directory
 * in the manifest) is a link to a directory outside holding the very
 * files, a.txt a link to the very file moved outside, secret a fifo,
 * suid lost its set-user-ID bit.
 * Nothing outside may be read, linked or changed; the build takes the
 * content from staging or fails with PD_ERR_NOTFOUND.
 */
static void
test_build_hostile_prev(void)
{
	static const struct ent ents[] = {
		{ "r", 'f', 0600, "secret\n", 0, 40, 40 },
	};
	struct pr_manifest *m1, *m2, *mr;
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	struct snaps *sout = pd_calloc(1, sizeof(*sout));
	char *tmp = unit_tmpdir(), stagedir[4096], outdir[4096];
	char a[4096], b[4096];
	struct stat sb;
	size_t i;
	int fd1, fd, stagefd, outfd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sout);
	fd1 = build_v1(tmp, "v1", &m1);
	outfd = mkdir_open(tmp, "outside", outdir, sizeof(outdir));
	unit_pjoin(a, sizeof(a), tmp, "v1/dir");
	unit_pjoin(b, sizeof(b), outdir, "dir");
	CU_ASSERT_EQUAL_FATAL(rename(a, b), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(b, a), 0);
	unit_pjoin(a, sizeof(a), tmp, "v1/a.txt");
	unit_pjoin(b, sizeof(b), outdir, "a.txt");
	CU_ASSERT_EQUAL_FATAL(rename(a, b), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(b, a), 0);
	unit_pjoin(a, sizeof(a), tmp, "v1/secret");
	CU_ASSERT_EQUAL_FATAL(unlink(a), 0);
	CU_ASSERT_EQUAL_FATAL(mkfifo(a, 0600), 0);
	unit_pjoin(a, sizeof(a), tmp, "v1/suid");
	CU_ASSERT_EQUAL_FATAL(chmod(a, 0755), 0);
	m2 = manifest(v1, NELEM(v1), 2);
	snap_take(outdir, sout);

	/* deep's content is nowhere but outside. */
	stagefd = mkdir_open(tmp, "stage", stagedir, sizeof(stagedir));
	fd = mkdir_open(tmp, "b1", NULL, 0);
	alarm(20);
	CU_ASSERT_EQUAL(nd_build(fd, m2, SRC(m1, fd1, stagefd), &st, &err),
	    PD_ERR_NOTFOUND);
	alarm(0);
	CU_ASSERT_EQUAL(snap_changed(outdir, sout), 0);
	close(fd);

	/* secret's content only in the fifo: no wait, no content. */
	mr = manifest(ents, NELEM(ents), 2);
	pd_error_clear(&err);
	fd = mkdir_open(tmp, "b2", NULL, 0);
	alarm(20);
	CU_ASSERT_EQUAL(nd_build(fd, mr, SRC(m1, fd1, stagefd), &st, &err),
	    PD_ERR_NOTFOUND);
	alarm(0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "r"));
	close(fd);
	pr_manifest_free(mr);

	/* Everything staged: the build succeeds from staging alone. */
	stage_all(stagedir, v1, NELEM(v1));
	pd_error_clear(&err);
	fd = mkdir_open(tmp, "b3", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd, m2, SRC(m1, fd1, stagefd), &st,
	    &err), PD_OK);
	if (err.code != PD_OK)
		fprintf(stderr, "\npublish: %s\n", err.msg);
	CU_ASSERT_EQUAL(tree_problems(fd, m2), 0);
	CU_ASSERT_EQUAL(snap_changed(outdir, sout), 0);
	for (i = 0; i < sout->n; i++) {
		CU_ASSERT_NOT_EQUAL(sout->s[i].ino, ino_at(fd, "a.txt"));
		CU_ASSERT_NOT_EQUAL(sout->s[i].ino, ino_at(fd, "dir/hl2"));
		CU_ASSERT_NOT_EQUAL(sout->s[i].ino,
		    ino_at(fd, "dir/nested/deep"));
	}
	CU_ASSERT_EQUAL(fstatat(fd, "dir", &sb, AT_SYMLINK_NOFOLLOW), 0);
	CU_ASSERT(S_ISDIR(sb.st_mode));
	/* suid is a new copy; prev's is left as it was. */
	CU_ASSERT_NOT_EQUAL(ino_at(fd1, "suid"), ino_at(fd, "suid"));
	CU_ASSERT_EQUAL(fstatat(fd1, "suid", &sb, AT_SYMLINK_NOFOLLOW), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0755);
	/* Still linked: what prev holds as its manifest says. */
	CU_ASSERT_EQUAL(ino_at(fd1, "big"), ino_at(fd, "big"));
	close(fd);

	close(outfd);
	close(fd1);
	close(stagefd);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	pd_free(sout);
	unit_rmdir(tmp);
}

/* Build v1 into base/name with nothing else linked to its files. */
static int
build_spare(const char *base, const char *name, struct pr_manifest **m)
{
	char sname[64], path[4096];
	int fd = build_v1(base, name, m);

	/* Staged objects became the tree's files: drop the second name. */
	snprintf(sname, sizeof(sname), "stage-%s", name);
	unit_pjoin(path, sizeof(path), base, sname);
	unit_rmdir(pd_strdup(path));
	return fd;
}

/*
 * A retired version as the spare: a file whose content stayed at its
 * path while its mode or mtime changed is the spare's very inode, moved
 * and given its new metadata, not a copy.  Only a file the spare's
 * manifest still describes and no other name holds is taken; the rest
 * of the spare, and prev, are left alone; and the spare is never what
 * makes content available.
 */
static void
test_build_spare(void)
{
	struct pr_manifest *m1, *m2, *ms, *ms2;
	struct nd_build_src src;
	struct nd_build_stats st;
	struct pd_error err = { 0 };
	struct timespec ts[2] = { { T0 + 77, 0 }, { T0 + 77, 0 } };
	char *tmp = unit_tmpdir(), stagedir[4096], path[4096];
	ino_t dup_ino, nl_ino, a_ino;
	int fd1, fd2, fds, fds2, fdx, stagefd;

	fd1 = build_v1(tmp, "v1", &m1);
	fds = build_spare(tmp, "spare", &ms);
	m2 = manifest(v2, NELEM(v2), 2);
	stagefd = mkdir_open(tmp, "stage2", stagedir, sizeof(stagedir));
	stage(stagedir, "#!/bin/sh\necho 2\n");
	dup_ino = ino_at(fds, "dup");
	a_ino = ino_at(fds, "a.txt");
	/* Its mtime is no longer what the spare's manifest says. */
	CU_ASSERT_EQUAL_FATAL(utimensat(fds, "new\nline", ts,
	    AT_SYMLINK_NOFOLLOW), 0);
	nl_ino = ino_at(fds, "new\nline");

	/* Content in the spare only is still missing content. */
	fdx = mkdir_open(tmp, "x", NULL, 0);
	memset(&src, 0, sizeof(src));
	src.prevfd = -1;
	src.spare = ms;
	src.sparefd = fds;
	src.stagefd = stagefd;
	CU_ASSERT_EQUAL(nd_build(fdx, m2, &src, &st, &err), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(ino_at(fds, "dup"), dup_ino);
	pd_error_clear(&err);
	close(fdx);

	src.prev = m1;
	src.prevfd = fd1;
	fd2 = mkdir_open(tmp, "v2", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd2, m2, &src, &st, &err), PD_OK);
	CU_ASSERT_EQUAL(tree_problems(fd2, m2), 0);
	CU_ASSERT_EQUAL(tree_problems(fd1, m1), 0);
	CU_ASSERT_EQUAL(st.recycled, 1);
	CU_ASSERT_EQUAL(st.linked, 6);
	CU_ASSERT_EQUAL(st.copied, 6);
	CU_ASSERT_EQUAL(ino_at(fd2, "dup"), dup_ino);
	CU_ASSERT_EQUAL(ino_at(fds, "dup"), 0);
	CU_ASSERT_NOT_EQUAL(ino_at(fd2, "new\nline"), nl_ino);
	CU_ASSERT_EQUAL(ino_at(fds, "new\nline"), nl_ino);
	CU_ASSERT_EQUAL(ino_at(fds, "a.txt"), a_ino);
	CU_ASSERT_EQUAL(ino_at(fd2, "a.txt"), ino_at(fd1, "a.txt"));

	/* A file with a second name is some other tree's too: copied. */
	fds2 = build_spare(tmp, "spare2", &ms2);
	unit_pjoin(path, sizeof(path), tmp, "spare2-dup");
	CU_ASSERT_EQUAL_FATAL(linkat(fds2, "dup", AT_FDCWD, path, 0), 0);
	dup_ino = ino_at(fds2, "dup");
	nl_ino = ino_at(fds2, "new\nline");
	src.spare = ms2;
	src.sparefd = fds2;
	close(fd2);
	fd2 = mkdir_open(tmp, "v2b", NULL, 0);
	CU_ASSERT_EQUAL(nd_build(fd2, m2, &src, &st, &err), PD_OK);
	CU_ASSERT_EQUAL(tree_problems(fd2, m2), 0);
	CU_ASSERT_EQUAL(st.recycled, 1);
	CU_ASSERT_EQUAL(ino_at(fd2, "new\nline"), nl_ino);
	CU_ASSERT_NOT_EQUAL(ino_at(fd2, "dup"), dup_ino);
	CU_ASSERT_EQUAL(ino_at(fds2, "dup"), dup_ino);
	if (err.code != PD_OK)
		fprintf(stderr, "\npublish: %s\n", err.msg);
	close(fd1);
	close(fd2);
	close(fds);
	close(fds2);
	close(stagefd);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	pr_manifest_free(ms);
	pr_manifest_free(ms2);
	unit_rmdir(tmp);
}

static int
add_publish(void)
{
	static const struct unit_test tests[] = {
		{ "build v1 from staged objects", test_build_v1 },
		{ "build v1 from content given unnamed", test_build_given },
		{ "build without permission overrides",
		    test_build_unprivileged },
		{ "build v2 over v1", test_build_v2 },
		{ "build v2 over v1 in two steps", test_build_early },
		{ "build v1 as its content is staged", test_build_staged },
		{ "take unchanged content from the spare", test_build_spare },
		{ "content missing", test_build_missing },
		{ "staged objects not what they claim", test_build_bad_stage },
		{ "hostile previous tree", test_build_hostile_prev },
	};

	return UNIT_SUITE("publish", init_suite, NULL, tests);
}

UNIT_REGISTER("publish", add_publish)
