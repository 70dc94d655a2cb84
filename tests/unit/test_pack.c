/*
 * Pack plans (protocol/pack.h): which content a step needs, which of it
 * comes as deltas, and how it is cut into parts.  The origin and every
 * receiver must derive exactly this, so each rule of spec/PROTOCOL.md
 * ("Packs") has a case here.
 */
#include <stdio.h>
#include <string.h>

#include "../../protocol/pack.h"
#include "unit.h"

/* A file whose content is named by one byte (repeated as its hash). */
static void
file(struct pr_manifest *m, const char *path, int content, uint64_t size)
{
	struct pr_entry e;

	memset(&e, 0, sizeof(e));
	e.type = PR_FILE;
	e.path = path;
	e.path_len = (uint32_t)strlen(path);
	e.mode = 0644;
	e.size = size;
	memset(e.sha, content, sizeof(e.sha));
	CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
}

static void
dir(struct pr_manifest *m, const char *path)
{
	struct pr_entry e;

	memset(&e, 0, sizeof(e));
	e.type = PR_DIR;
	e.path = path;
	e.path_len = (uint32_t)strlen(path);
	e.mode = 0755;
	CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
}

static void
test_which_items(void)
{
	struct pr_manifest *a = pr_manifest_new(), *b = pr_manifest_new();
	unsigned char sha[PD_SHA256_LEN];
	struct pr_pack p;

	file(a, "edited", 1, 100);
	file(a, "same", 2, 100);
	file(a, "renamed-from", 3, 100);
	file(a, "was-empty", 0, 0);
	file(a, "becomes-dir", 4, 100);
	file(b, "edited", 11, 100);		/* delta from 1 */
	file(b, "same", 2, 100);		/* held */
	file(b, "renamed-to", 3, 100);		/* held elsewhere */
	file(b, "was-empty", 12, 100);		/* no basis: empty */
	dir(b, "becomes-dir");
	file(b, "becomes-dir/x", 13, 100);	/* whole */
	file(b, "copy-a", 14, 100);		/* whole, once: */
	file(b, "copy-b", 14, 100);		/* first path only */
	file(b, "empty", 0, 0);			/* never an item */
	pr_manifest_sort(a);
	pr_manifest_sort(b);

	CU_ASSERT_EQUAL_FATAL(pr_pack_plan(a, b, &p, NULL), PD_OK);
	/* In b's path order: becomes-dir/x, copy-a, edited, was-empty. */
	CU_ASSERT_EQUAL_FATAL(p.n, 4);
	CU_ASSERT_STRING_EQUAL(p.items[0].e->path, "becomes-dir/x");
	CU_ASSERT_PTR_NULL(p.items[0].basis);
	CU_ASSERT_STRING_EQUAL(p.items[1].e->path, "copy-a");
	CU_ASSERT_PTR_NULL(p.items[1].basis);
	CU_ASSERT_STRING_EQUAL(p.items[2].e->path, "edited");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p.items[2].basis);
	CU_ASSERT_EQUAL(p.items[2].basis->sha[0], 1);
	CU_ASSERT_STRING_EQUAL(p.items[3].e->path, "was-empty");
	CU_ASSERT_PTR_NULL(p.items[3].basis);
	CU_ASSERT_EQUAL(p.nparts, 1);
	memset(sha, 3, sizeof(sha));
	CU_ASSERT_TRUE(pr_pack_held(&p, sha));
	memset(sha, 14, sizeof(sha));
	CU_ASSERT_FALSE(pr_pack_held(&p, sha));
	pr_pack_free(&p);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

static void
test_against_nothing(void)
{
	struct pr_manifest *b = pr_manifest_new();
	struct pr_pack p;

	file(b, "a", 1, 10);
	file(b, "b", 1, 10);
	file(b, "c", 2, 10);
	pr_manifest_sort(b);
	CU_ASSERT_EQUAL_FATAL(pr_pack_plan(NULL, b, &p, NULL), PD_OK);
	CU_ASSERT_EQUAL(p.n, 2);
	CU_ASSERT_PTR_NULL(p.items[0].basis);
	CU_ASSERT_PTR_NULL(p.items[1].basis);
	CU_ASSERT_STRING_EQUAL(p.items[1].e->path, "c");
	pr_pack_free(&p);
	/* A step to the same content needs nothing, and has no parts. */
	CU_ASSERT_EQUAL_FATAL(pr_pack_plan(b, b, &p, NULL), PD_OK);
	CU_ASSERT_EQUAL(p.n, 0);
	CU_ASSERT_EQUAL(p.nparts, 0);
	pr_pack_free(&p);
	pr_manifest_free(b);
}

static void
test_parts(void)
{
	struct pr_manifest *a = pr_manifest_new(), *b = pr_manifest_new();
	struct pr_pack p;
	char path[32];
	size_t i;
	int c;

	/* 3 whole items of 1.5 MiB: over ALONE, in no part. */
	/* 4 whole items of 1 MiB: exactly ALONE, 4 per part by weight. */
	/* 64 deltas of 1 MiB weigh 64 KiB each: 64 fit in one part. */
	for (i = 0, c = 1; i < 3; i++, c++) {
		snprintf(path, sizeof(path), "a-big-%zu", i);
		file(b, path, c, PR_PACK_ALONE + PR_PACK_ALONE / 2);
	}
	for (i = 0; i < 5; i++, c++) {
		snprintf(path, sizeof(path), "b-whole-%zu", i);
		file(b, path, c, PR_PACK_ALONE);
	}
	for (i = 0; i < 64; i++, c++) {
		snprintf(path, sizeof(path), "c-delta-%02zu", i);
		file(a, path, c, PR_PACK_ALONE);
		file(b, path, c + 100, PR_PACK_ALONE);
	}
	pr_manifest_sort(a);
	pr_manifest_sort(b);
	CU_ASSERT_EQUAL_FATAL(pr_pack_plan(a, b, &p, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(p.n, 3 + 5 + 64);
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(p.items[i].part, PR_PACK_NOPART);
	/* 4 MiB of whole content fills part 0; the fifth starts part 1,
	 * where 48 deltas of 64 KiB fill its other 3 MiB. */
	for (i = 3; i < 7; i++)
		CU_ASSERT_EQUAL(p.items[i].part, 0);
	CU_ASSERT_EQUAL(p.items[7].part, 1);
	for (i = 8; i < 8 + 48; i++)
		CU_ASSERT_EQUAL(p.items[i].part, 1);
	for (i = 8 + 48; i < p.n; i++)
		CU_ASSERT_EQUAL(p.items[i].part, 2);
	CU_ASSERT_EQUAL(p.nparts, 3);
	pr_pack_free(&p);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

static void
test_item_cap(void)
{
	struct pr_manifest *b = pr_manifest_new();
	struct pr_pack p;
	char path[32];
	size_t i;

	/* Tiny files: the item count, not the weight, ends a part. */
	for (i = 0; i < 2 * PR_PACK_PART_ITEMS + 1; i++) {
		snprintf(path, sizeof(path), "f%05zu", i);
		file(b, path, 0, 1);
		/* A distinct content per file. */
		b->entries[b->nentries - 1].sha[0] = (unsigned char)(i & 0xff);
		b->entries[b->nentries - 1].sha[1] = (unsigned char)(i >> 8);
		b->entries[b->nentries - 1].sha[2] = 1;
	}
	pr_manifest_sort(b);
	CU_ASSERT_EQUAL_FATAL(pr_pack_plan(NULL, b, &p, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(p.n, 2 * PR_PACK_PART_ITEMS + 1);
	CU_ASSERT_EQUAL(p.items[PR_PACK_PART_ITEMS - 1].part, 0);
	CU_ASSERT_EQUAL(p.items[PR_PACK_PART_ITEMS].part, 1);
	CU_ASSERT_EQUAL(p.items[2 * PR_PACK_PART_ITEMS].part, 2);
	CU_ASSERT_EQUAL(p.nparts, 3);
	pr_pack_free(&p);
	pr_manifest_free(b);
}

static int
suite_pack(void)
{
	static const struct unit_test tests[] = {
		{ "which content is an item, delta or whole",
		    test_which_items },
		{ "against nothing and against itself", test_against_nothing },
		{ "parts cut by weight; large content alone", test_parts },
		{ "parts cut at the item cap", test_item_cap },
	};

	return UNIT_SUITE("pack", NULL, NULL, tests);
}
UNIT_REGISTER("pack", suite_pack)
