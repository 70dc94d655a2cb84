/*
 * The content index through many versions, as a mirror keeping two
 * makes them: contents change, move, are copied, leave and come back.
 * After every step each content of a kept version must be found, named
 * at the newest kept version that has it, and opened intact; a content
 * of retired versions only must be gone.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../catalog/catalog.h"
#include "../../common/fsx.h"
#include "../../common/sha256.h"
#include "../../protocol/manifest.h"
#include "unit.h"

#define VERSIONS	8
#define KEEP		2
#define SLOTS		24
#define POOL		16
#define T0		1700000000

/* Slot i's content in version v (-1: no file there). */
static int
slot(unsigned i, unsigned v)
{
	if ((i + v) % 5 == 0)
		return -1;
	return (int)((i * 3 + (i % 4 == v % 4 ? v : 0)) % POOL);
}

static void
content(int k, char *out, size_t outsz)
{
	snprintf(out, outsz, "content %d\n", k);
}

static void
sha_of(int k, unsigned char *sha)
{
	char data[32];

	content(k, data, sizeof(data));
	CU_ASSERT_EQUAL_FATAL(pd_sha256(data, strlen(data), sha), PD_OK);
}

/* Version v: its manifest, and its files under DATA/versions/t/v. */
static struct pr_manifest *
make_version(const char *data, unsigned v)
{
	struct pr_manifest *m = pr_manifest_new();
	struct pd_error err = { 0 };
	struct pr_entry e;
	char path[32], body[32], dir[4200], sub[4300];
	unsigned i;
	int k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "t");
	m->version = v;
	m->has_parent = v > 1;
	m->root_mode = 0755;
	snprintf(dir, sizeof(dir), "%s/versions/t/%u", data, v);
	for (i = 0; i < 3; i++) {
		memset(&e, 0, sizeof(e));
		snprintf(path, sizeof(path), "d%u", i);
		e.path = path;
		e.path_len = (uint32_t)strlen(path);
		e.type = PR_DIR;
		e.mode = 0755;
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
		unit_pjoin(sub, sizeof(sub), dir, path);
		CU_ASSERT_EQUAL_FATAL(pd_mkdirs(sub, 0755, NULL), PD_OK);
	}
	for (i = 0; i < SLOTS; i++) {
		if ((k = slot(i, v)) < 0)
			continue;
		memset(&e, 0, sizeof(e));
		snprintf(path, sizeof(path), "d%u/f%02u", i % 3, i);
		content(k, body, sizeof(body));
		e.path = path;
		e.path_len = (uint32_t)strlen(path);
		e.type = PR_FILE;
		e.mode = 0644;
		e.mtime.sec = T0 + v;
		e.size = strlen(body);
		sha_of(k, e.sha);
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
		unit_write(dir, path, body, strlen(body));
	}
	pr_manifest_sort(m);
	if (pr_manifest_check(m, &err) != PD_OK)
		fprintf(stderr, "\n%s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
	return m;
}

/* The newest of versions from..to that has content k, 0 for none. */
static unsigned
newest_with(int k, unsigned from, unsigned to)
{
	unsigned v, i;

	for (v = to; v >= from && v > 0; v--)
		for (i = 0; i < SLOTS; i++)
			if (slot(i, v) == k)
				return v;
	return 0;
}

/* Every content against what versions from..to hold. */
static void
check(struct cat *c, unsigned from, unsigned to)
{
	unsigned char sha[PD_SHA256_LEN];
	struct cat_where w;
	struct cat_txn *t;
	uint64_t size;
	unsigned want;
	enum pd_err rc;
	int k, fd;

	for (k = 0; k < POOL; k++) {
		sha_of(k, sha);
		want = newest_with(k, from, to);
		CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
		rc = cat_content_get(t, sha, "t", &w, NULL);
		cat_abort(t);
		if (want == 0) {
			CU_ASSERT_EQUAL(rc, PD_ERR_NOTFOUND);
			CU_ASSERT_FALSE(cat_content_known(c, sha));
			continue;
		}
		CU_ASSERT_EQUAL(rc, PD_OK);
		CU_ASSERT_EQUAL(w.version, want);
		fd = -1;
		CU_ASSERT_EQUAL(cat_content_open(c, sha, CAT_VERIFY, &fd,
		    &size, NULL), PD_OK);
		if (fd >= 0)
			close(fd);
	}
}

static void
test_steps(void)
{
	char *tmp = unit_tmpdir(), data[4096], dir[4200];
	struct pr_manifest *m[VERSIONS + 1] = { NULL };
	struct cat_cstep *step;
	struct cat_tree tr;
	struct cat_txn *t;
	struct cat *c;
	unsigned v;

	unit_pjoin(data, sizeof(data), tmp, "data");
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, NULL), PD_OK);
	memset(&tr, 0, sizeof(tr));
	snprintf(tr.name, sizeof(tr.name), "t");
	for (v = 1; v <= VERSIONS; v++) {
		m[v] = make_version(data, v);
		step = NULL;
		if (v > 1)
			CU_ASSERT_EQUAL_FATAL(cat_content_plan(m[v - 1], m[v],
			    &step, NULL), PD_OK);
		/* The plan is all the index needs of the old manifest. */
		pr_manifest_free(m[v - 1]);
		m[v - 1] = NULL;
		CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
		tr.head = v;
		CU_ASSERT_EQUAL(cat_tree_put(t, &tr, NULL), PD_OK);
		CU_ASSERT_EQUAL(cat_content_index(t, "t", v, step, m[v],
		    NULL), PD_OK);
		cat_content_plan_free(step);
		if (v > KEEP)
			CU_ASSERT_EQUAL(cat_content_forget(t, "t", v - KEEP,
			    NULL), PD_OK);
		CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
		if (v > KEEP) {
			snprintf(dir, sizeof(dir), "%s/versions/t/%u", data,
			    v - KEEP);
			CU_ASSERT_EQUAL(pd_remove_tree_at(AT_FDCWD, dir, NULL),
			    PD_OK);
		}
		check(c, v > KEEP ? v - KEEP + 1 : 1, v);
	}
	/* Reopened, the same. */
	cat_close(c);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	check(c, VERSIONS - KEEP + 1, VERSIONS);
	cat_close(c);
	pr_manifest_free(m[VERSIONS]);
	unit_rmdir(tmp);
}

static int
add_content_step(void)
{
	static const struct unit_test tests[] = {
		{ "eight versions, two kept", test_steps },
	};

	return UNIT_SUITE("content steps", NULL, NULL, tests);
}

UNIT_REGISTER("content steps", add_content_step)
