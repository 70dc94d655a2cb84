/*
 * Manifests: building, encoding, signing, parsing (protocol/manifest.h),
 * and the test vectors of spec/vectors.
 */
#include <sys/mman.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/fsx.h"
#include "../../common/hex.h"
#include "../../common/mem.h"
#include "../../protocol/manifest.h"
#include "unit.h"

static struct pr_key *key;

static int
init_key(void)
{
	return pr_key_generate(&key, NULL) == PD_OK ? 0 : -1;
}

static int
free_key(void)
{
	pr_key_free(key);
	key = NULL;
	return 0;
}

static void
add(struct pr_manifest *m, enum pr_type t, const char *path, uint32_t link)
{
	struct pr_entry e;

	memset(&e, 0, sizeof(e));
	e.type = t;
	e.path = path;
	e.path_len = (uint32_t)strlen(path);
	e.mode = t == PR_LINK ? 0777 : t == PR_DIR ? 0755 : 0644;
	e.mtime.sec = 1700000000;
	e.mtime.nsec = 42;
	e.link = link;
	if (t == PR_FILE) {
		e.size = 5;
		memset(e.sha, 0xab, sizeof(e.sha));
	}
	if (t == PR_LINK) {
		e.target = "../target with space";
		e.target_len = (uint32_t)strlen(e.target);
	}
	CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
}

static struct pr_manifest *
sample(void)
{
	struct pr_manifest *m = pr_manifest_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "sample");
	m->version = 1;
	m->created = 1700000000;
	m->expires = 1800000000;
	CU_ASSERT_EQUAL_FATAL(pr_key_id(key, m->keyid, NULL), PD_OK);
	/* Added out of order: sorting is the caller's job. */
	add(m, PR_FILE, "dir/b", 1);
	add(m, PR_DIR, "dir", 0);
	add(m, PR_FILE, "dir/a", 1);
	add(m, PR_LINK, "link", 0);
	add(m, PR_FILE, "new\nline", 0);
	add(m, PR_DIR, "dir-x", 0);
	pr_manifest_sort(m);
	return m;
}

static void
test_roundtrip(void)
{
	struct pr_manifest *m = sample(), *p = NULL;
	struct pd_buf b, b2;
	struct pd_error err;
	const struct pr_entry *e;

	pd_buf_init(&b, 1 << 20);
	pd_buf_init(&b2, 1 << 20);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_sign(m, key, &b, &err), PD_OK);
	CU_ASSERT_TRUE(m->is_signed);
	/* Sorted: "dir" < "dir-x" < "dir/a" ('-' is before '/'). */
	CU_ASSERT_STRING_EQUAL(m->entries[0].path, "dir");
	CU_ASSERT_STRING_EQUAL(m->entries[1].path, "dir-x");
	CU_ASSERT_STRING_EQUAL(m->entries[2].path, "dir/a");

	CU_ASSERT_EQUAL_FATAL(pr_manifest_parse(b.data, b.len, &p, &err),
	    PD_OK);
	CU_ASSERT_EQUAL(pr_manifest_verify(p, key, &err), PD_OK);
	CU_ASSERT_EQUAL(memcmp(p->id, m->id, sizeof(m->id)), 0);
	CU_ASSERT_EQUAL(p->nentries, m->nentries);
	CU_ASSERT_STRING_EQUAL(p->tree, "sample");
	CU_ASSERT_EQUAL(p->expires, 1800000000);
	e = pr_manifest_find(p, "new\nline", 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->type, PR_FILE);
	e = pr_manifest_find(p, "link", 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_STRING_EQUAL(e->target, "../target with space");
	CU_ASSERT_PTR_NULL(pr_manifest_find(p, "nope", 4));
	/* Parsing and re-signing gives back the same bytes. */
	CU_ASSERT_EQUAL(pr_manifest_sign(p, key, &b2, &err), PD_OK);
	CU_ASSERT_EQUAL(b.len, b2.len);
	CU_ASSERT_EQUAL(memcmp(b.data, b2.data, b.len), 0);

	pr_manifest_free(m);
	pr_manifest_free(p);
	pd_buf_free(&b);
	pd_buf_free(&b2);
}

/*
 * The content digest read from signed bytes is that of what encode marks
 * as content, the same for another version of the same tree, another for
 * other content; bytes without a root line are refused.
 */
static void
test_content_digest(void)
{
	struct pr_manifest *m = sample();
	unsigned char d1[PD_SHA256_LEN], d2[PD_SHA256_LEN];
	unsigned char want[PD_SHA256_LEN];
	struct pd_buf b, body;
	size_t off = 0;

	pd_buf_init(&b, 1 << 20);
	pd_buf_init(&body, 1 << 20);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_encode(m, &body, &off, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_sha256(body.data + off, body.len - off,
	    want), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_sign(m, key, &b, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_manifest_content_digest(b.data, b.len, d1, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(memcmp(d1, want, sizeof(want)), 0);

	m->version = 7;
	m->has_parent = true;
	memset(m->parent, 0x5a, sizeof(m->parent));
	m->created++;
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_sign(m, key, &b, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_manifest_content_digest(b.data, b.len, d2, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(memcmp(d1, d2, sizeof(d1)), 0);

	m->entries[m->nentries - 1].mode = 0700;
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_sign(m, key, &b, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_manifest_content_digest(b.data, b.len, d2, NULL),
	    PD_OK);
	CU_ASSERT_NOT_EQUAL(memcmp(d1, d2, sizeof(d1)), 0);

	CU_ASSERT_EQUAL(pr_manifest_content_digest(body.data, off, d2,
	    NULL), PD_ERR_PARSE);
	CU_ASSERT_EQUAL(pr_manifest_content_digest("x", 1, d2, NULL),
	    PD_ERR_PARSE);
	pr_manifest_free(m);
	pd_buf_free(&b);
	pd_buf_free(&body);
}

/* Flipping any byte of a signed manifest is caught by parse or verify. */
static void
test_every_byte_matters(void)
{
	struct pr_manifest *m = sample(), *p;
	struct pd_buf b;
	size_t i, accepted = 0;

	pd_buf_init(&b, 1 << 20);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_sign(m, key, &b, NULL), PD_OK);
	for (i = 0; i < b.len; i++) {
		b.data[i] ^= 0x01;
		p = NULL;
		if (pr_manifest_parse(b.data, b.len, &p, NULL) == PD_OK &&
		    pr_manifest_verify(p, key, NULL) == PD_OK)
			accepted++;
		pr_manifest_free(p);
		b.data[i] ^= 0x01;
	}
	CU_ASSERT_EQUAL(accepted, 0);
	pr_manifest_free(m);
	pd_buf_free(&b);
}

static void
test_check_rules(void)
{
	struct pr_manifest *m;
	struct pd_buf b;
	struct pd_error err;

	/* A file under a file. */
	m = pr_manifest_new();
	snprintf(m->tree, sizeof(m->tree), "t");
	m->version = 1;
	CU_ASSERT_EQUAL_FATAL(pr_key_id(key, m->keyid, NULL), PD_OK);
	add(m, PR_FILE, "a", 0);
	add(m, PR_FILE, "a/b", 0);
	pd_buf_init(&b, 1 << 16);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_manifest_sign(m, key, &b, &err), PD_ERR_UNSAFE);
	CU_ASSERT_STRING_EQUAL(err.msg, "entry a/b: parent is not a directory");
	CU_ASSERT_EQUAL(b.len, 0);
	pr_manifest_free(m);

	/* Version 2 without a parent; then a wrong signing key. */
	m = pr_manifest_new();
	snprintf(m->tree, sizeof(m->tree), "t");
	m->version = 2;
	CU_ASSERT_EQUAL_FATAL(pr_key_id(key, m->keyid, NULL), PD_OK);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_manifest_check(m, &err), PD_ERR_PARSE);
	m->has_parent = true;
	CU_ASSERT_EQUAL(pr_manifest_check(m, NULL), PD_OK);
	memset(m->keyid, 0, sizeof(m->keyid));
	CU_ASSERT_EQUAL(pr_manifest_sign(m, key, &b, NULL), PD_ERR_USAGE);
	pr_manifest_free(m);

	/* Bad tree names. */
	CU_ASSERT_PTR_NULL(pr_tree_name_check("fedora-39_x86.64"));
	CU_ASSERT_PTR_NOT_NULL(pr_tree_name_check(""));
	CU_ASSERT_PTR_NOT_NULL(pr_tree_name_check(".hidden"));
	CU_ASSERT_PTR_NOT_NULL(pr_tree_name_check("a/b"));
	CU_ASSERT_PTR_NOT_NULL(pr_tree_name_check("a b"));
	CU_ASSERT_PTR_NOT_NULL(pr_tree_name_check(
	    "x234567890123456789012345678901234567890123456789012345678901234"
	    "5"));
	pd_buf_free(&b);
}

static void
test_stats(void)
{
	struct pr_manifest *m = sample();
	struct pr_stats st;

	pr_manifest_stats(m, &st);
	CU_ASSERT_EQUAL(st.files, 3);
	CU_ASSERT_EQUAL(st.dirs, 2);
	CU_ASSERT_EQUAL(st.links, 1);
	CU_ASSERT_EQUAL(st.bytes, 10);	/* the hardlinked pair counts once */
	pr_manifest_free(m);
}

static void
test_path_cmp(void)
{
	CU_ASSERT_TRUE(pr_path_cmp("a", 1, "a/b", 3) < 0);
	CU_ASSERT_TRUE(pr_path_cmp("a-b", 3, "a/b", 3) < 0);
	CU_ASSERT_TRUE(pr_path_cmp("\xff", 1, "a", 1) > 0);
	CU_ASSERT_EQUAL(pr_path_cmp("abc", 3, "abc", 3), 0);
}

static int
suite_manifest(void)
{
	static const struct unit_test tests[] = {
		{ "sign, parse, verify, re-encode", test_roundtrip },
		{ "every byte is covered", test_every_byte_matters },
		{ "validity rules", test_check_rules },
		{ "stats", test_stats },
		{ "content digest of signed bytes", test_content_digest },
		{ "path order", test_path_cmp },
	};

	return UNIT_SUITE("manifest", init_key, free_key, tests);
}
UNIT_REGISTER("manifest", suite_manifest)

/*
 * spec/vectors: good-X.manifest must parse, verify with test.pub, have
 * the id in good-X.id and re-encode (re-signed with test.key) to the same
 * bytes; bad-X.manifest must fail with exactly the text in bad-X.err.
 */
static bool
read_file(const char *name, struct pd_buf *b)
{
	char path[4096];

	unit_pjoin(path, sizeof(path), unit_vectors_dir, name);
	pd_buf_reset(b);
	return pd_read_file(path, 64 << 20, b, NULL) == PD_OK;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The vector parsed again from a read-only map of its file, as the
 * catalog's manifests are: the same manifest or the same error, and the
 * content digest of the same pass equal to pr_manifest_content_digest.
 */
static void
check_mapped(const char *name, const struct pd_buf *b,
    const struct pr_manifest *want, const struct pd_error *werr)
{
	unsigned char d1[PD_SHA256_LEN], d2[PD_SHA256_LEN];
	struct pr_manifest *m = NULL;
	struct pd_error err;
	char path[4096];
	void *map;
	int fd;

	unit_pjoin(path, sizeof(path), unit_vectors_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_TRUE_FATAL(fd >= 0 && b->len > 0);
	map = mmap(NULL, b->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	CU_ASSERT_TRUE_FATAL(map != MAP_FAILED);
	pd_error_clear(&err);
	if (pr_manifest_parse_mapped(map, b->len, &m, d1, &err) == PD_OK) {
		CU_ASSERT_PTR_NOT_NULL(want);
		if (want != NULL) {
			CU_ASSERT_EQUAL(memcmp(m->id, want->id,
			    sizeof(m->id)), 0);
			CU_ASSERT_EQUAL(m->nentries, want->nentries);
		}
		CU_ASSERT_EQUAL(pr_manifest_content_digest(b->data, b->len,
		    d2, NULL), PD_OK);
		CU_ASSERT_EQUAL(memcmp(d1, d2, sizeof(d1)), 0);
	} else {
		CU_ASSERT_PTR_NULL(want);
		CU_ASSERT_EQUAL(err.code, werr->code);
		CU_ASSERT_STRING_EQUAL(err.msg, werr->msg);
	}
	pr_manifest_free(m);
	munmap(map, b->len);
}

static void
check_vector(const char *name, const struct pr_key *pub,
    const struct pr_key *priv, int *ngood, int *nbad)
{
	struct pd_buf b, out, want;
	struct pr_manifest *m = NULL;
	struct pd_error err;
	char side[512], idhex[PD_SHA256_HEX];
	bool good = strncmp(name, "good-", 5) == 0;
	size_t n = strlen(name) - strlen(".manifest");

	pd_buf_init(&b, 64 << 20);
	pd_buf_init(&out, 64 << 20);
	pd_buf_init(&want, 1 << 16);
	pd_error_clear(&err);
	CU_ASSERT_TRUE_FATAL(read_file(name, &b));
	if (pr_manifest_parse(b.data, b.len, &m, &err) == PD_OK) {
		check_mapped(name, &b, m, &err);
		if (pr_manifest_verify(m, pub, &err) != PD_OK)
			CU_ASSERT_FALSE(good);
	} else
		check_mapped(name, &b, NULL, &err);
	snprintf(side, sizeof(side), "%.*s.%s", (int)n, name,
	    good ? "id" : "err");
	CU_ASSERT_TRUE_FATAL(read_file(side, &want));
	while (want.len > 0 && want.data[want.len - 1] == '\n')
		want.data[--want.len] = '\0';
	if (good) {
		(*ngood)++;
		if (err.code != PD_OK)
			fprintf(stderr, "\n%s: %s\n", name, err.msg);
		CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
		pd_hex_encode(m->id, sizeof(m->id), idhex);
		CU_ASSERT_STRING_EQUAL(idhex, (char *)want.data);
		CU_ASSERT_EQUAL(pr_manifest_sign(m, priv, &out, NULL), PD_OK);
		CU_ASSERT_EQUAL(out.len, b.len);
		CU_ASSERT_TRUE(out.len == b.len &&
		    memcmp(out.data, b.data, b.len) == 0);
	} else {
		(*nbad)++;
		if (err.code == PD_OK ||
		    strcmp(err.msg, (char *)want.data) != 0)
			fprintf(stderr, "\n%s: got \"%s\", want \"%s\"\n", name,
			    err.code == PD_OK ? "(accepted)" : err.msg,
			    (char *)want.data);
		CU_ASSERT_NOT_EQUAL(err.code, PD_OK);
		CU_ASSERT_STRING_EQUAL(err.msg, (char *)want.data);
	}
	pr_manifest_free(m);
	pd_buf_free(&b);
	pd_buf_free(&out);
	pd_buf_free(&want);
}

static void
test_vectors(void)
{
	struct pr_key *pub = NULL, *priv = NULL;
	struct dirent *de;
	char path[4096], **names = NULL, **nn;
	size_t n = 0, i, len;
	int ngood = 0, nbad = 0;
	DIR *d;

	unit_pjoin(path, sizeof(path), unit_vectors_dir, "test.pub");
	CU_ASSERT_EQUAL_FATAL(pr_key_load(path, &pub, NULL), PD_OK);
	unit_pjoin(path, sizeof(path), unit_vectors_dir, "test.key");
	CU_ASSERT_EQUAL_FATAL(pr_key_load(path, &priv, NULL), PD_OK);
	d = opendir(unit_vectors_dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 10 || strcmp(de->d_name + len - 9, ".manifest") != 0)
			continue;
		nn = pd_reallocarray(names, n + 1, sizeof(*names));
		CU_ASSERT_PTR_NOT_NULL_FATAL(nn);
		names = nn;
		names[n++] = pd_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		check_vector(names[i], pub, priv, &ngood, &nbad);
		pd_free(names[i]);
	}
	pd_free(names);
	/* The folder must really hold the vectors, good and hostile. */
	CU_ASSERT_TRUE(ngood >= 4);
	CU_ASSERT_TRUE(nbad >= 40);
	CU_ASSERT_EQUAL((size_t)(ngood + nbad), n);
	pr_key_free(pub);
	pr_key_free(priv);
}

static int
suite_vectors(void)
{
	static const struct unit_test tests[] = {
		{ "spec/vectors", test_vectors },
	};

	return UNIT_SUITE("vectors", NULL, NULL, tests);
}
UNIT_REGISTER("vectors", suite_vectors)
