/*
 * Manifests written to the catalog in pieces (cat_manifest_begin and
 * the rest): what a pull does with a manifest rebuilt from a patch.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "../../catalog/catalog.h"
#include "../../common/hex.h"
#include "../../common/sha256.h"
#include "unit.h"

/* Entries of dir, but . and .. */
static size_t
count_dir(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
test_pieces(void)
{
	static const char body[] = "pulpdist-manifest 1\ntree t\n"
	    "the rest of a manifest, in three pieces\n";
	char *tmp = unit_tmpdir(), data[4096], dir[4096], path[4096];
	char hex[PD_SHA256_HEX];
	unsigned char id[PD_SHA256_LEN];
	struct cat_mwriter *w;
	struct cat_txn *tx;
	struct cat *c;
	struct pd_error e;
	const void *p = NULL;
	size_t len = 0;
	struct stat st;

	unit_pjoin(data, sizeof(data), tmp, "data");
	unit_pjoin(dir, sizeof(dir), data, "manifests");
	CU_ASSERT_EQUAL_FATAL(pd_sha256(body, sizeof(body) - 1, id), PD_OK);
	pd_hex_encode(id, PD_SHA256_LEN, hex);
	unit_pjoin(path, sizeof(path), dir, hex);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, NULL), PD_OK);

	/* Dropped: nothing is left behind. */
	CU_ASSERT_EQUAL_FATAL(cat_manifest_begin(c, &w, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_write(w, body, 10, NULL), PD_OK);
	CU_ASSERT_EQUAL(count_dir(dir), 1);
	cat_manifest_drop(w);
	CU_ASSERT_EQUAL(count_dir(dir), 0);

	/* Ended: the file under its id, whole, and only it. */
	CU_ASSERT_EQUAL_FATAL(cat_manifest_begin(c, &w, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_write(w, body, 7, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_write(w, body + 7, 20, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_write(w, body + 27,
	    sizeof(body) - 1 - 27, NULL), PD_OK);
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	CU_ASSERT_EQUAL(cat_manifest_end(w, id, NULL), PD_OK);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, (off_t)sizeof(body) - 1);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
	CU_ASSERT_EQUAL(count_dir(dir), 1);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_put(tx, id, sizeof(body) - 1, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_get(tx, id, &p, &len, NULL), PD_OK);
	CU_ASSERT(len == sizeof(body) - 1 && memcmp(p, body, len) == 0);
	cat_abort(tx);
	cat_close(c);

	/* A read-only catalog writes nothing. */
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_manifest_begin(c, &w, &e), PD_ERR_USAGE);
	CU_ASSERT_PTR_NULL(w);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "read-only"));
	CU_ASSERT_EQUAL(count_dir(dir), 1);
	cat_close(c);
	unit_rmdir(tmp);
}

static int
add_mwriter(void)
{
	static const struct unit_test tests[] = {
		{ "a manifest saved in pieces", test_pieces },
	};

	return UNIT_SUITE("mwriter", NULL, NULL, tests);
}

UNIT_REGISTER("mwriter", add_mwriter)
