/*
 * Manifests written to the catalog in pieces (cat_manifest_begin and
 * the rest): what a pull does with a manifest rebuilt from a patch.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../catalog/catalog.h"
#include "../../common/hex.h"
#include "../../common/sha256.h"
#include "../../protocol/manifest.h"
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

/* Resident KiB of the mapping that starts at addr (/proc/self/smaps). */
static long
map_rss_kib(const void *addr)
{
	char line[512];
	unsigned long start;
	long kib = -1;
	bool in = false;
	FILE *f;

	if ((f = fopen("/proc/self/smaps", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-", &start) == 1 && strchr(line, ' ') !=
		    NULL && strchr(line, '-') < strchr(line, ' '))
			in = start == (unsigned long)(uintptr_t)addr;
		else if (in && sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/*
 * A manifest of 100,000 entries (about 12 MB) written in pieces, mapped
 * back and parsed from the map: the map's pages go back as the parser
 * passes them, where a plain parse leaves them all resident.
 */
static void
test_parse_map(void)
{
	enum { N = 100000 };
	char *tmp = unit_tmpdir(), data[4096], path[64];
	unsigned char d1[PD_SHA256_LEN], d2[PD_SHA256_LEN];
	struct pr_manifest *m, *a = NULL, *b = NULL;
	struct cat_mwriter *w;
	struct pr_key *key = NULL;
	struct pr_entry e;
	struct cat *c;
	struct pd_error err;
	struct pd_buf out;
	const void *p;
	size_t len, i;
	long kib;

	unit_pjoin(data, sizeof(data), tmp, "data");
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&key, NULL), PD_OK);
	m = pr_manifest_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "big");
	m->version = 1;
	m->created = 1700000000;
	CU_ASSERT_EQUAL_FATAL(pr_key_id(key, m->keyid, NULL), PD_OK);
	for (i = 0; i < N; i++) {
		memset(&e, 0, sizeof(e));
		snprintf(path, sizeof(path), "a-driver-source-file-%06zu.c", i);
		e.type = PR_FILE;
		e.path = path;
		e.path_len = (uint32_t)strlen(path);
		e.mode = 0644;
		e.mtime.sec = 1700000000 + (int64_t)i;
		e.size = i;
		memcpy(e.sha, &i, sizeof(i));
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
	}
	pd_buf_init(&out, 64 << 20);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_sign(m, key, &out, NULL), PD_OK);
	CU_ASSERT_TRUE_FATAL(out.len > 8u << 20);

	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_manifest_begin(c, &w, NULL), PD_OK);
	for (i = 0; i < out.len; i += 65536)
		CU_ASSERT_EQUAL_FATAL(cat_manifest_write(w, out.data + i,
		    out.len - i < 65536 ? out.len - i : 65536, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_manifest_written(w, &p, &len, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(len, out.len);
	CU_ASSERT_EQUAL(memcmp(p, out.data, len), 0);
	/* Mapped: nothing more goes in. */
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(cat_manifest_write(w, "x", 1, &err), PD_ERR_USAGE);

	/* The plain parse reads every page and leaves them resident... */
	CU_ASSERT_EQUAL_FATAL(pr_manifest_parse(p, len, &a, NULL), PD_OK);
	kib = map_rss_kib(p);
	CU_ASSERT_TRUE(kib >= (long)(len / 1024) * 9 / 10);
	/* ...the mapped one gives them back: about a pass (1 MiB) stays. */
	CU_ASSERT_EQUAL_FATAL(pr_manifest_parse_mapped(p, len, &b, d1, NULL),
	    PD_OK);
	kib = map_rss_kib(p);
	CU_ASSERT_TRUE(kib >= 0 && kib <= 1024 + 8);
	CU_ASSERT_EQUAL(a->nentries, (size_t)N);
	CU_ASSERT_EQUAL(b->nentries, (size_t)N);
	CU_ASSERT_EQUAL(memcmp(a->id, m->id, sizeof(m->id)), 0);
	CU_ASSERT_EQUAL(memcmp(b->id, m->id, sizeof(m->id)), 0);
	CU_ASSERT_EQUAL(pr_manifest_content_digest(out.data, out.len, d2,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL(memcmp(d1, d2, sizeof(d1)), 0);
	CU_ASSERT_STRING_EQUAL(b->entries[N - 1].path,
	    m->entries[N - 1].path);
	CU_ASSERT_EQUAL(cat_manifest_end(w, m->id, NULL), PD_OK);
	cat_close(c);
	pr_manifest_free(a);
	pr_manifest_free(b);
	pr_manifest_free(m);
	pr_key_free(key);
	pd_buf_free(&out);
	unit_rmdir(tmp);
}

static int
add_mwriter(void)
{
	static const struct unit_test tests[] = {
		{ "a manifest saved in pieces", test_pieces },
		{ "a big manifest parsed from its map", test_parse_map },
	};

	return UNIT_SUITE("mwriter", NULL, NULL, tests);
}

UNIT_REGISTER("mwriter", add_mwriter)
