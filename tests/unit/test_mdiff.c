/*
 * Manifest diff (protocol/mdiff.h).
 */
#include <string.h>

#include "../../protocol/mdiff.h"
#include "unit.h"

/* Entry spec: type, path, content byte (files) or target, mode, mtime. */
static void
put(struct pr_manifest *m, enum pr_type t, const char *path, int content,
    uint32_t mode, int64_t mtime)
{
	static const char *const targets[] = { "t0", "t1", "t2" };
	struct pr_entry e;

	memset(&e, 0, sizeof(e));
	e.type = t;
	e.path = path;
	e.path_len = (uint32_t)strlen(path);
	e.mode = t == PR_LINK ? 0777 : mode;
	e.mtime.sec = mtime;
	if (t == PR_FILE) {
		e.size = 1;
		memset(e.sha, content, sizeof(e.sha));
	} else if (t == PR_LINK) {
		e.target = targets[content];
		e.target_len = 2;
	}
	CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
}

static const struct pr_change *
find(const struct pr_diff *d, const char *path)
{
	const struct pr_entry *e;
	size_t i;

	for (i = 0; i < d->n; i++) {
		e = d->changes[i].new ? d->changes[i].new : d->changes[i].old;
		if (strcmp(e->path, path) == 0)
			return &d->changes[i];
	}
	return NULL;
}

static void
test_kinds(void)
{
	struct pr_manifest *a = pr_manifest_new(), *b = pr_manifest_new();
	const struct pr_change *c;
	struct pr_diff d;

	/* a: the old tree. */
	put(a, PR_FILE, "same", 1, 0644, 10);
	put(a, PR_FILE, "edited", 2, 0644, 10);
	put(a, PR_FILE, "gone", 3, 0644, 10);
	put(a, PR_FILE, "old-name", 4, 0644, 10);
	put(a, PR_FILE, "chmod", 5, 0644, 10);
	put(a, PR_FILE, "touch", 6, 0644, 10);
	put(a, PR_LINK, "link", 0, 0, 10);
	put(a, PR_FILE, "becomes-dir", 7, 0644, 10);
	pr_manifest_sort(a);
	/* b: the new tree. */
	put(b, PR_FILE, "same", 1, 0644, 10);
	put(b, PR_FILE, "edited", 9, 0644, 11);
	put(b, PR_FILE, "new-name", 4, 0644, 10);
	put(b, PR_FILE, "chmod", 5, 0755, 10);
	put(b, PR_FILE, "touch", 6, 0644, 99);
	put(b, PR_LINK, "link", 1, 0, 10);
	put(b, PR_DIR, "becomes-dir", 0, 0755, 10);
	put(b, PR_FILE, "becomes-dir/inner", 8, 0644, 10);
	put(b, PR_FILE, "fresh", 3, 0644, 10);	/* content of "gone" */
	pr_manifest_sort(b);

	CU_ASSERT_EQUAL_FATAL(pr_diff(a, b, &d, NULL), PD_OK);
	CU_ASSERT_PTR_NULL(find(&d, "same"));
	CU_ASSERT_EQUAL(find(&d, "edited")->kind, PR_CHANGED);
	CU_ASSERT_EQUAL(find(&d, "chmod")->kind, PR_MODE);
	CU_ASSERT_EQUAL(find(&d, "touch")->kind, PR_TOUCHED);
	CU_ASSERT_EQUAL(find(&d, "link")->kind, PR_CHANGED);
	CU_ASSERT_EQUAL(find(&d, "becomes-dir")->kind, PR_CHANGED);
	CU_ASSERT_EQUAL(find(&d, "becomes-dir/inner")->kind, PR_ADDED);
	/* Same content under a new path: a rename, paired once. */
	c = find(&d, "new-name");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->kind, PR_RENAMED);
	CU_ASSERT_STRING_EQUAL(c->old->path, "old-name");
	CU_ASSERT_PTR_NULL(find(&d, "old-name"));
	/* "gone" and "fresh" share content too: also a rename. */
	c = find(&d, "fresh");
	CU_ASSERT_EQUAL(c->kind, PR_RENAMED);
	CU_ASSERT_STRING_EQUAL(c->old->path, "gone");
	CU_ASSERT_EQUAL(d.count[PR_ADDED], 1);
	CU_ASSERT_EQUAL(d.count[PR_REMOVED], 0);
	CU_ASSERT_EQUAL(d.count[PR_CHANGED], 3);
	CU_ASSERT_EQUAL(d.count[PR_RENAMED], 2);
	CU_ASSERT_EQUAL(d.count[PR_MODE], 1);
	CU_ASSERT_EQUAL(d.count[PR_TOUCHED], 1);
	CU_ASSERT_EQUAL(d.n, 8);
	pr_diff_free(&d);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

static void
test_against_nothing(void)
{
	struct pr_manifest *b = pr_manifest_new();
	struct pr_diff d;

	put(b, PR_DIR, "d", 0, 0755, 1);
	put(b, PR_FILE, "d/f", 1, 0644, 1);
	CU_ASSERT_EQUAL_FATAL(pr_diff(NULL, b, &d, NULL), PD_OK);
	CU_ASSERT_EQUAL(d.n, 2);
	CU_ASSERT_EQUAL(d.count[PR_ADDED], 2);
	CU_ASSERT_FALSE(d.root_changed);
	pr_diff_free(&d);
	CU_ASSERT_EQUAL_FATAL(pr_diff(b, b, &d, NULL), PD_OK);
	CU_ASSERT_EQUAL(d.n, 0);
	pr_diff_free(&d);
	pr_manifest_free(b);
}

/* Two removed copies of one content and one added: one rename only. */
static void
test_rename_pairs_once(void)
{
	struct pr_manifest *a = pr_manifest_new(), *b = pr_manifest_new();
	struct pr_diff d;

	put(a, PR_FILE, "x1", 5, 0644, 1);
	put(a, PR_FILE, "x2", 5, 0644, 1);
	put(b, PR_FILE, "y", 5, 0644, 1);
	CU_ASSERT_EQUAL_FATAL(pr_diff(a, b, &d, NULL), PD_OK);
	CU_ASSERT_EQUAL(d.count[PR_RENAMED], 1);
	CU_ASSERT_EQUAL(d.count[PR_REMOVED], 1);
	CU_ASSERT_EQUAL(d.n, 2);
	pr_diff_free(&d);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

static int
suite_mdiff(void)
{
	static const struct unit_test tests[] = {
		{ "every kind of change", test_kinds },
		{ "against nothing and itself", test_against_nothing },
		{ "renames pair once", test_rename_pairs_once },
	};

	return UNIT_SUITE("mdiff", NULL, NULL, tests);
}
UNIT_REGISTER("mdiff", suite_mdiff)
