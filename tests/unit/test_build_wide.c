/*
 * nd_build on a tree wide enough that the workers split it: directories
 * of a few files, of more than a chunk, and of more than the largest
 * chunk, with subdirectories sorting between their parent's files.
 * Every entry must be built exactly once, whatever the cut.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../common/hex.h"
#include "../../common/sha256.h"
#include "../../node/publish.h"
#include "../../protocol/manifest.h"
#include "unit.h"

#define T0	1700000000

/* Directories and how many files each holds. */
static const struct {
	const char	*dir;
	unsigned	 files;
} dirs[] = {
	{ "a", 3 },
	{ "b", 300 },
	{ "b/m", 2 },		/* sorts amid b's files */
	{ "c", 5000 },		/* more than the largest chunk */
	{ "c/sub", 260 },
	{ "d", 1 },
};

#define NELEM(x)	(sizeof(x) / sizeof((x)[0]))

static void
content(const char *path, unsigned version, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s, version %u\n", path, version);
}

static void
add(struct pr_manifest *m, const char *path, enum pr_type type,
    unsigned version, unsigned gen)
{
	char data[128];
	struct pr_entry e;

	memset(&e, 0, sizeof(e));
	e.path = path;
	e.path_len = (uint32_t)strlen(path);
	e.type = type;
	e.mode = type == PR_DIR ? 0755 : 0644;
	e.mtime.sec = T0 + gen;
	if (type == PR_FILE) {
		content(path, version, data, sizeof(data));
		e.size = strlen(data);
		CU_ASSERT_EQUAL_FATAL(pd_sha256(data, (size_t)e.size, e.sha),
		    PD_OK);
	}
	CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
}

/*
 * The wide tree.  In version 2 every tenth file has new content and
 * every file of c/sub a new mtime; the rest is as in version 1.
 */
static struct pr_manifest *
wide(unsigned version, const char *stagedir)
{
	struct pr_manifest *m = pr_manifest_new();
	struct pd_error err = { 0 };
	char path[64], data[128], hex[PD_SHA256_HEX];
	unsigned char sha[PD_SHA256_LEN];
	unsigned d, f, v;
	bool sub;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "wide");
	m->version = version;
	m->has_parent = version > 1;
	m->created = T0;
	m->root_mode = 0755;
	m->root_mtime.sec = T0;
	for (d = 0; d < NELEM(dirs); d++) {
		add(m, dirs[d].dir, PR_DIR, version, 0);
		sub = strcmp(dirs[d].dir, "c/sub") == 0;
		for (f = 0; f < dirs[d].files; f++) {
			snprintf(path, sizeof(path), "%s/f%04u", dirs[d].dir,
			    f);
			v = version > 1 && f % 10 == 0 ? version : 1;
			add(m, path, PR_FILE, v, sub ? version : 1);
			if (v != version && version > 1)
				continue;
			content(path, v, data, sizeof(data));
			CU_ASSERT_EQUAL_FATAL(pd_sha256(data, strlen(data),
			    sha), PD_OK);
			pd_hex_encode(sha, PD_SHA256_LEN, hex);
			unit_write(stagedir, hex, data, strlen(data));
		}
	}
	pr_manifest_sort(m);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_check(m, &err), PD_OK);
	return m;
}

/* Every file holds its content and mtime; returns how many do not. */
static size_t
problems(int fd, const struct pr_manifest *m, unsigned version)
{
	char data[128], got[128];
	const struct pr_entry *e;
	struct stat st;
	size_t i, bad = 0;
	ssize_t n;
	int f;

	for (i = 0; i < m->nentries; i++) {
		e = &m->entries[i];
		if (fstatat(fd, e->path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_mtim.tv_sec != e->mtime.sec) {
			bad++;
			continue;
		}
		if (e->type != PR_FILE)
			continue;
		/* fNNN0 changed in version 2 */
		content(e->path, version > 1 &&
		    e->path[e->path_len - 1] == '0' ? version : 1, data,
		    sizeof(data));
		if ((f = openat(fd, e->path, O_RDONLY | O_CLOEXEC)) < 0) {
			bad++;
			continue;
		}
		n = read(f, got, sizeof(got));
		close(f);
		if (n != (ssize_t)strlen(data) || memcmp(got, data,
		    (size_t)n) != 0)
			bad++;
	}
	return bad;
}

static int
mkdir_open(const char *base, const char *name, char path[4096])
{
	unit_pjoin(path, 4096, base, name);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void
test_wide(void)
{
	struct pr_manifest *m1, *m2;
	struct nd_build_stats st;
	struct nd_build_src src = { .prevfd = -1, .sparefd = -1 };
	struct pd_error err = { 0 };
	char *tmp = unit_tmpdir(), stagedir[4096], path[4096];
	size_t files = 0, changed = 0, touched = 0, d, f;
	int stagefd, fd1, fd2;

	for (d = 0; d < NELEM(dirs); d++)
		for (f = 0; f < dirs[d].files; f++) {
			files++;
			changed += f % 10 == 0;
			touched += f % 10 != 0 &&
			    strcmp(dirs[d].dir, "c/sub") == 0;
		}
	stagefd = mkdir_open(tmp, "stage", stagedir);
	fd1 = mkdir_open(tmp, "v1", path);
	fd2 = mkdir_open(tmp, "v2", path);
	CU_ASSERT_FATAL(stagefd >= 0 && fd1 >= 0 && fd2 >= 0);
	m1 = wide(1, stagedir);
	src.stagefd = stagefd;
	CU_ASSERT_EQUAL(nd_build(fd1, m1, &src, &st, &err), PD_OK);
	CU_ASSERT_EQUAL(err.code, PD_OK);
	CU_ASSERT_EQUAL(st.written, files);
	CU_ASSERT_EQUAL(problems(fd1, m1, 1), 0);
	/* Over v1: unchanged files are links; the new content and the
	 * files with only a new mtime are new inodes. */
	m2 = wide(2, stagedir);
	src.prev = m1;
	src.prevfd = fd1;
	CU_ASSERT_EQUAL(nd_build(fd2, m2, &src, &st, &err), PD_OK);
	CU_ASSERT_EQUAL(err.code, PD_OK);
	CU_ASSERT_EQUAL(st.linked, files - changed - touched);
	CU_ASSERT_EQUAL(st.written + st.copied, changed + touched);
	CU_ASSERT_EQUAL(problems(fd2, m2, 2), 0);
	CU_ASSERT_EQUAL(problems(fd1, m1, 1), 0);
	if (err.code != PD_OK)
		fprintf(stderr, "\nbuild: %s\n", err.msg);
	close(stagefd);
	close(fd1);
	close(fd2);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	unit_rmdir(tmp);
}

static int
add_build_wide(void)
{
	static const struct unit_test tests[] = {
		{ "a wide tree, cut between workers", test_wide },
	};

	return UNIT_SUITE("build_wide", NULL, NULL, tests);
}

UNIT_REGISTER("build_wide", add_build_wide)
