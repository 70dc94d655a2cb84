/*
 * Manifest patches (protocol/mpatch.h): make and apply round trips that
 * must give the very bytes of the signed new manifest, patch sizes,
 * hostile patches, and the mpatch-* vectors of spec/vectors.
 *
 * MPATCH_SIZES=1 in the environment prints the sizes of the large
 * cases' manifests and patches.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/fsx.h"
#include "../../common/hex.h"
#include "../../common/mem.h"
#include "../../protocol/mpatch.h"
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

/* An empty manifest of tree "t", version v. */
static struct pr_manifest *
header(uint64_t v)
{
	struct pr_manifest *m = pr_manifest_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "t");
	m->version = v;
	m->has_parent = v > 1;
	memset(m->parent, 0x11, sizeof(m->parent));
	m->created = 1700000000 + (int64_t)v;
	m->expires = 0;
	CU_ASSERT_EQUAL_FATAL(pr_key_id(key, m->keyid, NULL), PD_OK);
	m->root_mtime.sec = 1700000000 + (int64_t)v;
	return m;
}

/*
 * Add an entry: files have content c (size c, SHA-256 bytes c), links
 * the target "target-c"; link is the hardlink group.
 */
static void
put(struct pr_manifest *m, enum pr_type t, const char *path, int c,
    int64_t mtime, uint32_t link)
{
	struct pr_entry e;
	char target[32];

	memset(&e, 0, sizeof(e));
	e.type = t;
	e.path = path;
	e.path_len = (uint32_t)strlen(path);
	e.mode = t == PR_LINK ? 0777 : t == PR_DIR ? 0755 : 0644;
	e.mtime.sec = mtime;
	e.mtime.nsec = 5;
	e.link = link;
	if (t == PR_FILE) {
		e.size = (uint64_t)c;
		memset(e.sha, c, sizeof(e.sha));
	} else if (t == PR_LINK) {
		snprintf(target, sizeof(target), "target-%d", c);
		e.target = target;
		e.target_len = (uint32_t)strlen(target);
	}
	CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
}

/* Sort and sign m; b gets the signed manifest. */
static void
seal(struct pr_manifest *m, struct pd_buf *b)
{
	struct pd_error err;

	pr_manifest_sort(m);
	pd_buf_init(b, PR_MANIFEST_MAX);
	pd_error_clear(&err);
	if (pr_manifest_sign(m, key, b, &err) != PD_OK)
		fprintf(stderr, "\nseal: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
}

/* A sink that keeps what it gets, and refuses once it has had stop. */
struct pieces {
	struct pd_buf	 b;
	size_t		 calls;
	size_t		 largest;
	size_t		 stop;
};

static enum pd_err
piece_sink(void *arg, const void *data, size_t n)
{
	struct pieces *pc = arg;

	if (pc->b.len >= pc->stop)
		return PD_ERR_IO;
	pc->calls++;
	if (n > pc->largest)
		pc->largest = n;
	return pd_buf_add(&pc->b, data, n);
}

/*
 * pr_mpatch_apply_to(held, p) against the signed bytes bb of manifest
 * b: the same bytes in bounded pieces, the right sums; a sink refusing
 * half-way stops it with the sink's code.
 */
static void
apply_to_sink(const struct pr_manifest *held, const struct pd_buf *p,
    const struct pr_manifest *b, const struct pd_buf *bb)
{
	struct pieces pc = { .stop = SIZE_MAX };
	struct pr_manifest *r = NULL;
	struct pr_msums sums;
	struct pd_error err;
	unsigned char digest[PD_SHA256_LEN];

	pd_error_clear(&err);
	pd_buf_init(&pc.b, PR_MANIFEST_MAX);
	CU_ASSERT_EQUAL(pr_mpatch_apply_to(held, p->data, p->len, &r,
	    piece_sink, &pc, &sums, &err), PD_OK);
	CU_ASSERT_TRUE(pc.b.len == bb->len &&
	    memcmp(pc.b.data, bb->data, bb->len) == 0);
	CU_ASSERT_TRUE(pc.largest <= 64 * 1024 + 2 * PR_LINE_MAX);
	CU_ASSERT_TRUE(pc.calls >= 1 + bb->len / (64 * 1024 +
	    2 * PR_LINE_MAX));
	CU_ASSERT_EQUAL(sums.len, bb->len);
	CU_ASSERT_EQUAL(memcmp(sums.id, b->id, PD_SHA256_LEN), 0);
	CU_ASSERT_EQUAL(pr_manifest_content_digest(bb->data, bb->len, digest,
	    &err), PD_OK);
	CU_ASSERT_EQUAL(memcmp(sums.content, digest, PD_SHA256_LEN), 0);
	CU_ASSERT_TRUE(r != NULL && memcmp(r->id, b->id, PD_SHA256_LEN) ==
	    0);
	pr_manifest_free(r);
	r = NULL;
	pd_buf_reset(&pc.b);
	pc.stop = bb->len / 2;
	CU_ASSERT_EQUAL(pr_mpatch_apply_to(held, p->data, p->len, &r,
	    piece_sink, &pc, &sums, &err), PD_ERR_IO);
	CU_ASSERT_PTR_NULL(r);
	pd_buf_free(&pc.b);
}

/*
 * Make the patch from a to b (both sealed here), apply it to a as a
 * mirror holds it (parsed from its bytes), and require b's signed bytes
 * and a result that verifies.  Returns the patch size; *full, if not
 * NULL, gets the size of b's signed manifest; *patch, if not NULL, gets
 * the patch (caller frees).
 */
static size_t
roundtrip(struct pr_manifest *a, struct pr_manifest *b, size_t *full,
    struct pd_buf *patch)
{
	struct pd_buf ab, bb, p, out, again;
	struct pr_manifest *held = NULL, *r = NULL, *r2 = NULL;
	struct pd_error err;
	size_t n;

	seal(a, &ab);
	seal(b, &bb);
	pd_buf_init(&p, PR_MANIFEST_MAX);
	pd_buf_init(&out, PR_MANIFEST_MAX);
	pd_buf_init(&again, PR_MANIFEST_MAX);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_parse(ab.data, ab.len, &held, &err),
	    PD_OK);
	if (pr_mpatch_make(a, b, &p, &err) != PD_OK)
		fprintf(stderr, "\nmake: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
	if (pr_mpatch_apply(held, p.data, p.len, &r, &out, &err) != PD_OK)
		fprintf(stderr, "\napply: %s\n%s", err.msg, (char *)p.data);
	CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_TRUE(r->is_signed);
	CU_ASSERT_EQUAL(pr_manifest_verify(r, key, &err), PD_OK);
	CU_ASSERT_EQUAL(memcmp(r->id, b->id, sizeof(r->id)), 0);
	CU_ASSERT_EQUAL(r->nentries, b->nentries);
	CU_ASSERT_EQUAL(out.len, bb.len);
	CU_ASSERT_TRUE(out.len == bb.len &&
	    memcmp(out.data, bb.data, bb.len) == 0);
	/* The result signs to the same bytes again; no signed_out works. */
	CU_ASSERT_EQUAL(pr_manifest_sign(r, key, &again, NULL), PD_OK);
	CU_ASSERT_TRUE(again.len == bb.len &&
	    memcmp(again.data, bb.data, bb.len) == 0);
	CU_ASSERT_EQUAL(pr_mpatch_apply(held, p.data, p.len, &r2, NULL,
	    NULL), PD_OK);
	CU_ASSERT_TRUE(r2 != NULL && memcmp(r2->id, b->id, 32) == 0);
	apply_to_sink(held, &p, b, &bb);
	/* The result shares the held manifest's paths, and outlives it. */
	pr_manifest_free(held);
	held = NULL;
	unit_scribble();
	pd_buf_reset(&again);
	CU_ASSERT_EQUAL(pr_manifest_sign(r, key, &again, NULL), PD_OK);
	CU_ASSERT_TRUE(again.len == bb.len &&
	    memcmp(again.data, bb.data, bb.len) == 0);
	n = p.len;
	if (full != NULL)
		*full = bb.len;
	if (patch != NULL)
		*patch = p;
	else
		pd_buf_free(&p);
	pr_manifest_free(held);
	pr_manifest_free(r);
	pr_manifest_free(r2);
	pd_buf_free(&ab);
	pd_buf_free(&bb);
	pd_buf_free(&out);
	pd_buf_free(&again);
	return n;
}

/* Lines of a patch that are ops (not the 12 header lines nor signature). */
static size_t
nops(const struct pd_buf *p)
{
	size_t i, lines = 0;

	for (i = 0; i < p->len; i++)
		lines += p->data[i] == '\n';
	return lines - 13;
}

/* The small tree most cases start from. */
static struct pr_manifest *
small(uint64_t v)
{
	struct pr_manifest *m = header(v);

	put(m, PR_DIR, "a", 0, 100, 0);
	put(m, PR_FILE, "a/one", 1, 100, 0);
	put(m, PR_FILE, "a/two", 2, 100, 0);
	put(m, PR_LINK, "a/ln", 1, 100, 0);
	put(m, PR_DIR, "b", 0, 100, 0);
	put(m, PR_FILE, "b/three", 3, 100, 0);
	put(m, PR_FILE, "file", 4, 100, 0);
	put(m, PR_FILE, "z", 5, 100, 0);
	return m;
}

static void
test_no_change(void)
{
	struct pr_manifest *a = small(1), *b = small(2);
	struct pd_buf p;
	size_t n;

	n = roundtrip(a, b, NULL, &p);
	CU_ASSERT_TRUE(n < 700);
	CU_ASSERT_EQUAL(nops(&p), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data, "\n= 8\nsignature "));
	pd_buf_free(&p);
	/* A manifest against itself. */
	CU_ASSERT_TRUE(roundtrip(a, a, NULL, NULL) < 700);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

static void
test_touch_all(void)
{
	struct pr_manifest *a = small(1), *b = header(2);
	struct pd_buf p;
	size_t i;

	for (i = 0; i < a->nentries; i++) {
		struct pr_entry e = a->entries[i];

		e.mtime.sec = 200;
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(b, &e), PD_OK);
	}
	roundtrip(a, b, NULL, &p);
	CU_ASSERT_EQUAL(nops(&p), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data,
	    "\nt 8 200.000000005\nsignature "));
	pd_buf_free(&p);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

/* Content, mode, target and mtime changes, with exact ops. */
static void
test_changes(void)
{
	struct pr_manifest *a = small(1), *b = header(2);
	struct pd_buf p, want;
	unsigned char sha[PD_SHA256_LEN];
	char nine[PD_SHA256_HEX], five[PD_SHA256_HEX];
	char *ops;

	put(b, PR_DIR, "a", 0, 100, 0);
	put(b, PR_FILE, "a/one", 9, 300, 0);	/* content */
	put(b, PR_FILE, "a/two", 2, 100, 0);
	put(b, PR_LINK, "a/ln", 2, 100, 0);	/* target */
	put(b, PR_DIR, "b", 0, 300, 0);		/* touched */
	put(b, PR_FILE, "b/three", 3, 300, 0);	/* touched */
	put(b, PR_FILE, "file", 4, -7, 0);	/* touched elsewhere */
	put(b, PR_FILE, "z", 5, 100, 0);
	b->entries[7].mode = 0600;		/* mode */
	roundtrip(a, b, NULL, &p);
	ops = strstr((char *)p.data, "\nentries 8\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
	ops += strlen("\nentries 8\n");
	memset(sha, 9, sizeof(sha));
	pd_hex_encode(sha, sizeof(sha), nine);
	memset(sha, 5, sizeof(sha));
	pd_hex_encode(sha, sizeof(sha), five);
	pd_buf_init(&want, 1 << 16);
	CU_ASSERT_EQUAL_FATAL(pd_buf_printf(&want,
	    "= 1\n"
	    "- 2\n"
	    "+ l 100.000000005 a/ln target-2\n"
	    "+ f 0644 300.000000005 9 %s - a/one\n"
	    "= 1\n"
	    "t 2 300.000000005\n"
	    "t 1 -7.000000005\n"
	    "- 1\n"
	    "+ f 0600 100.000000005 5 %s - z\n"
	    "signature ", nine, five), PD_OK);
	CU_ASSERT_EQUAL(strncmp(ops, (char *)want.data, want.len), 0);
	pd_buf_free(&want);
	pd_buf_free(&p);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

static void
test_add_remove_rename(void)
{
	struct pr_manifest *a = small(1), *b = header(2);

	/* a/one renamed to b/one; a/two removed; new files and a dir. */
	put(b, PR_DIR, "a", 0, 100, 0);
	put(b, PR_LINK, "a/ln", 1, 100, 0);
	put(b, PR_DIR, "a0", 0, 100, 0);
	put(b, PR_FILE, "a0/new", 7, 100, 0);
	put(b, PR_DIR, "b", 0, 100, 0);
	put(b, PR_FILE, "b/one", 1, 100, 0);
	put(b, PR_FILE, "b/three", 3, 100, 0);
	put(b, PR_FILE, "file", 4, 100, 0);
	put(b, PR_FILE, "y", 8, 100, 0);
	put(b, PR_FILE, "z", 5, 100, 0);
	put(b, PR_FILE, "zz", 8, 100, 0);
	roundtrip(a, b, NULL, NULL);
	/* And back. */
	roundtrip(b, a, NULL, NULL);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

/* A file becomes a directory with children, and back. */
static void
test_file_to_dir(void)
{
	struct pr_manifest *a = small(1), *b = header(2);

	put(b, PR_DIR, "a", 0, 100, 0);
	put(b, PR_FILE, "a/one", 1, 100, 0);
	put(b, PR_FILE, "a/two", 2, 100, 0);
	put(b, PR_LINK, "a/ln", 1, 100, 0);
	put(b, PR_DIR, "b", 0, 100, 0);
	put(b, PR_FILE, "b/three", 3, 100, 0);
	put(b, PR_DIR, "file", 0, 100, 0);
	put(b, PR_DIR, "file/sub", 0, 100, 0);
	put(b, PR_FILE, "file/sub/x", 4, 100, 0);
	put(b, PR_FILE, "file-", 4, 100, 0);
	put(b, PR_FILE, "file/y", 4, 100, 0);
	put(b, PR_FILE, "z", 5, 100, 0);
	roundtrip(a, b, NULL, NULL);
	roundtrip(b, a, NULL, NULL);
	pr_manifest_free(a);
	pr_manifest_free(b);
}

/* Hardlink groups appear and disappear, so later groups renumber. */
static void
test_hardlinks(void)
{
	struct pr_manifest *a = header(1), *b = header(2), *c = header(3);
	struct pr_manifest *d = header(4);
	struct pd_buf p;
	size_t i;

	put(a, PR_FILE, "a1", 1, 100, 1);
	put(a, PR_FILE, "a2", 1, 100, 1);
	put(a, PR_FILE, "b1", 2, 100, 2);
	put(a, PR_FILE, "b2", 2, 100, 2);
	put(a, PR_FILE, "c1", 3, 100, 3);
	put(a, PR_FILE, "c2", 3, 100, 3);
	put(a, PR_FILE, "d", 4, 100, 0);
	/* Group a gone (a2 removed): b and c become 1 and 2. */
	put(b, PR_FILE, "a1", 1, 100, 0);
	put(b, PR_FILE, "b1", 2, 100, 1);
	put(b, PR_FILE, "b2", 2, 100, 1);
	put(b, PR_FILE, "c1", 3, 100, 2);
	put(b, PR_FILE, "c2", 3, 100, 2);
	put(b, PR_FILE, "d", 4, 100, 0);
	roundtrip(a, b, NULL, &p);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data, "\n- 6\n"));
	pd_buf_free(&p);
	/* A new group before them: they move up again; d is unchanged. */
	put(c, PR_FILE, "0a", 9, 100, 1);
	put(c, PR_FILE, "0b", 9, 100, 1);
	put(c, PR_FILE, "a1", 1, 100, 0);
	put(c, PR_FILE, "b1", 2, 100, 2);
	put(c, PR_FILE, "b2", 2, 100, 2);
	put(c, PR_FILE, "c1", 3, 100, 3);
	put(c, PR_FILE, "c2", 3, 100, 3);
	put(c, PR_FILE, "d", 4, 100, 0);
	roundtrip(b, c, NULL, &p);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data, "\n= 1\n- 4\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data, "\n= 1\nsignature "));
	pd_buf_free(&p);
	/* Touching every member of the groups is one "t". */
	for (i = 0; i < c->nentries; i++) {
		struct pr_entry e = c->entries[i];

		e.mtime.sec = 300;
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(d, &e), PD_OK);
	}
	roundtrip(c, d, NULL, &p);
	CU_ASSERT_EQUAL(nops(&p), 1);
	pd_buf_free(&p);
	/* And back to the start. */
	roundtrip(d, a, NULL, NULL);
	pr_manifest_free(a);
	pr_manifest_free(b);
	pr_manifest_free(c);
	pr_manifest_free(d);
}

static void
test_empty(void)
{
	struct pr_manifest *e1 = header(1), *full = small(2), *e3 = header(3);
	struct pd_buf p;

	roundtrip(e1, full, NULL, &p);
	CU_ASSERT_EQUAL(nops(&p), 8);		/* eight "+" lines */
	pd_buf_free(&p);
	roundtrip(full, e3, NULL, &p);
	CU_ASSERT_EQUAL(nops(&p), 1);		/* "- 8" */
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data, "\n- 8\nsignature "));
	pd_buf_free(&p);
	roundtrip(e1, e3, NULL, &p);
	CU_ASSERT_EQUAL(nops(&p), 0);
	pd_buf_free(&p);
	pr_manifest_free(e1);
	pr_manifest_free(full);
	pr_manifest_free(e3);
}

/*
 * A source-release-like tree: 100 directories of 199 files (20,000
 * entries).  Every changed_every-th file has other content in version 2.
 */
static struct pr_manifest *
big(uint64_t v, int64_t mtime, size_t changed_every)
{
	struct pr_manifest *m = header(v);
	struct pr_entry e;
	char path[64];
	size_t d, f, n = 0;

	for (d = 0; d < 100; d++) {
		snprintf(path, sizeof(path), "drivers-%03zu", d);
		put(m, PR_DIR, path, 0, mtime, 0);
		m->entries[m->nentries - 1].mtime.nsec = 0;
		for (f = 0; f < 199; f++, n++) {
			memset(&e, 0, sizeof(e));
			snprintf(path, sizeof(path),
			    "drivers-%03zu/source-file-%05zu.c", d, n);
			e.type = PR_FILE;
			e.path = path;
			e.path_len = (uint32_t)strlen(path);
			e.mode = 0644;
			e.mtime.sec = mtime;
			e.size = 1000 + n;
			memcpy(e.sha, &n, sizeof(n));
			if (changed_every != 0 && n % changed_every == 0)
				e.sha[31] = 1;
			CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
		}
	}
	return m;
}

static void
test_sizes(void)
{
	struct pr_manifest *a = big(1, 1700000000, 0);
	struct pr_manifest *same = big(2, 1700000000, 0);
	struct pr_manifest *touched = big(2, 1710000000, 0);
	struct pr_manifest *release = big(2, 1710000000, 50);
	size_t full, nsame, ntouch, nrel;

	CU_ASSERT_EQUAL(a->nentries, 20000);
	nsame = roundtrip(a, same, &full, NULL);
	ntouch = roundtrip(a, touched, &full, NULL);
	nrel = roundtrip(a, release, &full, NULL);
	if (getenv("MPATCH_SIZES") != NULL)
		fprintf(stderr, "\n20000 entries, full manifest %zu bytes; "
		    "patch: unchanged %zu, all touched %zu (%.3f%%), touched "
		    "and 2%% changed %zu (%.2f%%)\n", full, nsame, ntouch,
		    100.0 * (double)ntouch / (double)full, nrel,
		    100.0 * (double)nrel / (double)full);
	CU_ASSERT_TRUE(nsame < 700);
	CU_ASSERT_TRUE(ntouch * 50 < full);		/* under 2% */
	CU_ASSERT_TRUE(nrel * 100 < full * 5);		/* under 5% */
	pr_manifest_free(a);
	pr_manifest_free(same);
	pr_manifest_free(touched);
	pr_manifest_free(release);
}

/*
 * Hostile patches against the small tree.  The good patch from small(1)
 * to a version 2 with a/two changed and everything touched is
 *
 *	line 1-3	magic, from, to
 *	line 4-12	header ("entries 8" on line 12)
 *	line 13		t 3 200.000000005	(a, a/ln, a/one)
 *	line 14		- 1
 *	line 15		+ f 0644 200.000000005 6 0606... - a/two
 *	line 16		t 4 200.000000005	(b, b/three, file, z)
 *	line 17		signature ...
 */
struct hostile {
	struct pr_manifest	*held;
	char			 fromhex[PD_SHA256_HEX];
	char			 tohex[PD_SHA256_HEX];
	char			 header[1024];	/* lines 4-11 */
	char			 sig[200];	/* line 17 with its LF */
	char			 sha6[PD_SHA256_HEX];
};

static void
hostile_init(struct hostile *h)
{
	struct pr_manifest *a = small(1), *b = header(2);
	struct pd_buf ab, bb, p;
	const char *s, *e;
	size_t i;
	unsigned char sha[32];

	for (i = 0; i < a->nentries; i++) {
		struct pr_entry en = a->entries[i];

		en.mtime.sec = 200;
		if (strcmp(en.path, "a/two") == 0) {
			en.size = 6;
			memset(en.sha, 6, sizeof(en.sha));
		}
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(b, &en), PD_OK);
	}
	seal(a, &ab);
	seal(b, &bb);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_parse(ab.data, ab.len, &h->held,
	    NULL), PD_OK);
	pd_hex_encode(a->id, 32, h->fromhex);
	pd_hex_encode(b->id, 32, h->tohex);
	memset(sha, 6, sizeof(sha));
	pd_hex_encode(sha, 32, h->sha6);
	/* Header lines 4-11 (without "entries") and the signature line. */
	e = strstr((char *)bb.data, "entries ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	snprintf(h->header, sizeof(h->header), "%.*s",
	    (int)(e - (char *)bb.data), (char *)bb.data);
	s = strstr((char *)bb.data, "signature ");
	snprintf(h->sig, sizeof(h->sig), "%s", s);
	/* make writes the patch described above. */
	pd_buf_init(&p, 1 << 20);
	CU_ASSERT_EQUAL_FATAL(pr_mpatch_make(a, b, &p, NULL), PD_OK);
	CU_ASSERT_EQUAL(nops(&p), 4);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data, "\nentries 8\n"
	    "t 3 200.000000005\n- 1\n+ f 0644 200.000000005 6 "));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)p.data, " - a/two\n"
	    "t 4 200.000000005\nsignature "));
	pd_buf_free(&p);
	pr_manifest_free(a);
	pr_manifest_free(b);
	pd_buf_free(&ab);
	pd_buf_free(&bb);
}

/*
 * Build a patch: magic, from, to, header with "entries COUNT", ops
 * (each line with its LF), signature line.  NULL from/to: the real ids.
 */
static void
hostile_build(const struct hostile *h, struct pd_buf *b, const char *from,
    const char *to, const char *count, const char *ops)
{
	pd_buf_reset(b);
	CU_ASSERT_EQUAL_FATAL(pd_buf_printf(b, "%s\nfrom %s\nto %s\n%s"
	    "entries %s\n%s%s", PR_MPATCH_MAGIC, from ? from : h->fromhex,
	    to ? to : h->tohex, h->header, count, ops, h->sig), PD_OK);
}

/* Apply; require failure with code and exactly want, *out NULL and
 * signed_out untouched. */
static void
hostile_check(const struct hostile *h, const void *p, size_t len,
    enum pd_err code, const char *want)
{
	static struct pr_manifest dummy;
	struct pr_manifest *r = &dummy;
	struct pd_buf so;
	struct pd_error err;

	pd_buf_init(&so, PR_MANIFEST_MAX);
	CU_ASSERT_EQUAL_FATAL(pd_buf_adds(&so, "kept"), PD_OK);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_mpatch_apply(h->held, p, len, &r, &so, &err),
	    code);
	if (err.code != code || strcmp(err.msg, want) != 0)
		fprintf(stderr, "\nhostile: got %d \"%s\", want %d \"%s\"\n",
		    err.code, err.msg, code, want);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(so.len, 4);
	CU_ASSERT_STRING_EQUAL((char *)so.data, "kept");
	pd_buf_free(&so);
}

/* A well-formed patch whose result is not what its "to" names. */
static void
hostile_corrupt(const struct hostile *h, const struct pd_buf *b)
{
	struct pr_manifest *r = NULL;
	struct pd_error err;
	const char *want = "manifest patch: rebuilt manifest has id ";

	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_mpatch_apply(h->held, b->data, b->len, &r, NULL,
	    &err), PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(strncmp(err.msg, want, strlen(want)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, h->tohex));
	CU_ASSERT_PTR_NULL(r);
}

#define T200	"200.000000005"

static void
test_hostile(void)
{
	static const struct {
		const char	*count;
		const char	*ops;
		enum pd_err	 code;
		const char	*want;
	} cases[] = {
		{ "8", "= 9\n", PD_ERR_PARSE,
		  "manifest patch line 13: copy past the end of the old "
		  "manifest" },
		{ "8", "- 9\n", PD_ERR_PARSE,
		  "manifest patch line 13: drop past the end of the old "
		  "manifest" },
		{ "8", "t 9 " T200 "\n", PD_ERR_PARSE,
		  "manifest patch line 13: touch past the end of the old "
		  "manifest" },
		{ "8", "= 3\n= 5\n= 1\n", PD_ERR_PARSE,
		  "manifest patch line 15: copy past the end of the old "
		  "manifest" },
		{ "8", "= 18446744073709551615\n", PD_ERR_PARSE,
		  "manifest patch line 13: copy past the end of the old "
		  "manifest" },
		{ "8", "= 18446744073709551616\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad count" },
		{ "8", "= 99999999999999999999999\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad count" },
		{ "8", "= 7\n", PD_ERR_PARSE,
		  "manifest patch line 14: old manifest entries left "
		  "unconsumed" },
		{ "8", "= 7\n- 0\n", PD_ERR_PARSE,
		  "manifest patch line 14: bad count" },
		{ "8", "= 01\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad count" },
		{ "8", "= +1\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad count" },
		{ "8", "= 1 \n", PD_ERR_PARSE,
		  "manifest patch line 13: empty field" },
		{ "8", "= 1 1\n", PD_ERR_PARSE,
		  "manifest patch line 13: \"=\" line needs 1 field" },
		{ "8", "t 8\n", PD_ERR_PARSE,
		  "manifest patch line 13: \"t\" line needs 2 fields" },
		{ "8", "t 8 0200.000000005\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad mtime" },
		{ "8", "t 8 200.5\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad mtime" },
		{ "8", "=1\n", PD_ERR_PARSE,
		  "manifest patch line 13: unknown operation" },
		{ "8", "x 1\n", PD_ERR_PARSE,
		  "manifest patch line 13: unknown operation" },
		{ "8", "+\n", PD_ERR_PARSE,
		  "manifest patch line 13: \"+\" line needs an entry" },
		{ "8", "+ \n", PD_ERR_PARSE,
		  "manifest patch line 13: empty field" },
		{ "8", "+  d 0755 " T200 " a0\n", PD_ERR_PARSE,
		  "manifest patch line 13: empty field" },
		{ "8", "= 8\r\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad count" },
		{ "8", "\n", PD_ERR_PARSE,
		  "manifest patch line 13: empty field" },
		{ "8", "+ d 0755 " T200 " 0\n+ d 0755 " T200 " 0\n",
		  PD_ERR_PARSE,
		  "manifest patch line 14: entry 0: duplicate path" },
		{ "8", "t 8 " T200 "\n", PD_ERR_CORRUPT, NULL },
		{ "9", "t 8 " T200 "\n", PD_ERR_PARSE,
		  "manifest patch line 14: fewer entries than the count "
		  "says" },
		{ "7", "t 8 " T200 "\n", PD_ERR_PARSE,
		  "manifest patch line 13: more entries than the count "
		  "says" },
		{ "8", "t 8 " T200 "\n+ d 0755 " T200 " zz\n", PD_ERR_PARSE,
		  "manifest patch line 14: more entries than the count "
		  "says" },
		{ "0", "- 8\n", PD_ERR_CORRUPT, NULL },
		{ "10000001", "- 8\n", PD_ERR_LIMIT,
		  "manifest patch line 12: 10000001 entries, more than "
		  "10000000" },
		{ "08", "= 8\n", PD_ERR_PARSE,
		  "manifest patch line 12: bad entry count" },
		/* An inserted entry out of order, and after one. */
		{ "9", "t 2 " T200 "\n+ d 0755 " T200 " 0\n- 1\n",
		  PD_ERR_PARSE,
		  "manifest patch line 14: entry 0: paths out of order" },
		{ "9", "+ d 0755 " T200 " b0\nt 2 " T200 "\n", PD_ERR_PARSE,
		  "manifest patch line 14: entry a: paths out of order" },
		/* Entry lines as strict as in a manifest. */
		{ "8", "+ f 0644 " T200 " 1 AB - x\n", PD_ERR_PARSE,
		  "manifest patch line 13: bad SHA-256" },
		{ "8", "+ d 0755 " T200 " a%2Fb\n", PD_ERR_PARSE,
		  "manifest patch line 13: path not canonically escaped" },
		{ "8", "+ d 0755 " T200 " a b c\n", PD_ERR_PARSE,
		  "manifest patch line 13: directory entry needs 4 fields" },
		{ "8", "+ q 0755 " T200 " a\n", PD_ERR_PARSE,
		  "manifest patch line 13: unknown entry type" },
		/* A result that breaks a manifest rule. */
		{ "9", "= 7\n+ f 0644 " T200 " 1 0101010101010101010101010101"
		  "010101010101010101010101010101010101 - file/x\n= 1\n",
		  PD_ERR_UNSAFE,
		  "manifest patch: entry file/x: parent is not a directory" },
		{ "8", "= 7\n- 1\n+ f 0644 100.000000005 5 050505050505050505"
		  "0505050505050505050505050505050505050505050505 3 z\n",
		  PD_ERR_PARSE,
		  "manifest patch: entry z: hardlink group out of order" },
	};
	struct hostile h;
	struct pd_buf b;
	char want[512];
	size_t i;

	hostile_init(&h);
	pd_buf_init(&b, 1 << 20);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hostile_build(&h, &b, NULL, NULL, cases[i].count,
		    cases[i].ops);
		if (cases[i].want != NULL) {
			hostile_check(&h, b.data, b.len, cases[i].code,
			    cases[i].want);
			continue;
		}
		/* Well formed, but not the manifest "to" names. */
		hostile_corrupt(&h, &b);
	}

	/* Wrong from and to ids. */
	hostile_build(&h, &b, h.tohex, NULL, "8", "- 8\n");
	snprintf(want, sizeof(want), "manifest patch line 2: patch applies "
	    "to manifest %s, not to the held manifest %s", h.tohex,
	    h.fromhex);
	hostile_check(&h, b.data, b.len, PD_ERR_CORRUPT, want);
	hostile_build(&h, &b, NULL, h.fromhex, "8", "t 3 " T200 "\n- 1\n"
	    "+ f 0644 " T200 " 6 0606060606060606060606060606060606060606"
	    "060606060606060606060606 - a/two\nt 4 " T200 "\n");
	snprintf(want, sizeof(want), "manifest patch: rebuilt manifest has "
	    "id %s, not the \"to\" id %s", h.tohex, h.fromhex);
	hostile_check(&h, b.data, b.len, PD_ERR_CORRUPT, want);
	hostile_build(&h, &b, "0", NULL, "8", "- 8\n");
	hostile_check(&h, b.data, b.len, PD_ERR_PARSE,
	    "manifest patch line 2: bad \"from\" manifest id");
	hostile_build(&h, &b, NULL, "", "8", "- 8\n");
	hostile_check(&h, b.data, b.len, PD_ERR_PARSE,
	    "manifest patch line 3: empty field");

	/* Framing: trailing data, no final newline, cut short, magic. */
	hostile_build(&h, &b, NULL, NULL, "8", "t 8 " T200 "\n");
	CU_ASSERT_EQUAL_FATAL(pd_buf_adds(&b, "x\n"), PD_OK);
	hostile_check(&h, b.data, b.len, PD_ERR_PARSE,
	    "manifest patch line 14: data after the signature");
	hostile_check(&h, b.data, b.len - 3, PD_ERR_PARSE,
	    "manifest patch line 14: missing newline at end");
	hostile_check(&h, b.data, b.len - strlen(h.sig) - 2, PD_ERR_PARSE,
	    "manifest patch line 14: unexpected end of manifest patch");
	hostile_check(&h, "pulpdist-manifest 1\n", 20, PD_ERR_PARSE,
	    "manifest patch line 1: not a pulpdist manifest patch "
	    "(version 1)");
	hostile_check(&h, "", 0, PD_ERR_PARSE,
	    "manifest patch line 1: unexpected end of manifest patch");
	hostile_check(&h, b.data, PR_MANIFEST_MAX + 1, PD_ERR_LIMIT,
	    "manifest patch of 2147483649 bytes, more than 2147483648");

	/* A line over PR_LINE_MAX. */
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL_FATAL(pd_buf_printf(&b, "%s\nfrom %s\nto %s\n%s"
	    "entries 9\n= 8\n+ d 0755 " T200 " ", PR_MPATCH_MAGIC, h.fromhex,
	    h.tohex, h.header), PD_OK);
	for (i = 0; i < PR_LINE_MAX; i++)
		CU_ASSERT_EQUAL_FATAL(pd_buf_addc(&b, 'z'), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_buf_printf(&b, "\n%s", h.sig), PD_OK);
	hostile_check(&h, b.data, b.len, PD_ERR_PARSE,
	    "manifest patch line 14: line too long");

	pd_buf_free(&b);
	pr_manifest_free(h.held);
}

/* No single flipped byte or cut gives a manifest that verifies. */
static void
test_every_byte(void)
{
	struct hostile h;
	struct pr_manifest *r;
	struct pd_buf b;
	size_t i, accepted = 0;

	hostile_init(&h);
	pd_buf_init(&b, 1 << 20);
	hostile_build(&h, &b, NULL, NULL, "8", "t 3 " T200 "\n- 1\n"
	    "+ f 0644 " T200 " 6 0606060606060606060606060606060606060606"
	    "060606060606060606060606 - a/two\nt 4 " T200 "\n");
	r = NULL;
	CU_ASSERT_EQUAL_FATAL(pr_mpatch_apply(h.held, b.data, b.len, &r, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_manifest_verify(r, key, NULL), PD_OK);
	pr_manifest_free(r);
	for (i = 0; i < b.len; i++) {
		b.data[i] ^= 0x01;
		r = NULL;
		if (pr_mpatch_apply(h.held, b.data, b.len, &r, NULL,
		    NULL) == PD_OK && pr_manifest_verify(r, key, NULL) == PD_OK)
			accepted++;
		pr_manifest_free(r);
		b.data[i] ^= 0x01;
		r = NULL;
		if (pr_mpatch_apply(h.held, b.data, i, &r, NULL,
		    NULL) == PD_OK)
			accepted++;
		pr_manifest_free(r);
	}
	CU_ASSERT_EQUAL(accepted, 0);
	pd_buf_free(&b);
	pr_manifest_free(h.held);
}

/* Every allocation that fails is reported, leaks nothing, sets nothing. */
static void
test_out_of_memory(void)
{
	struct pr_manifest *a = small(1), *b = small(2), *held = NULL, *r;
	struct pd_buf ab, bb, p, so;
	uint64_t n;
	enum pd_err rc;

	put(b, PR_FILE, "new", 7, 100, 0);
	seal(a, &ab);
	seal(b, &bb);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_parse(ab.data, ab.len, &held,
	    NULL), PD_OK);
	pd_buf_init(&p, 1 << 20);
	pd_buf_init(&so, PR_MANIFEST_MAX);
	for (n = 1; n < 1000; n++) {
		pd_buf_reset(&p);
		pd_mem_fail_at(pd_mem_allocations() + n);
		rc = pr_mpatch_make(a, b, &p, NULL);
		pd_mem_fail_at(0);
		if (rc == PD_OK)
			break;
		CU_ASSERT_EQUAL(rc, PD_ERR_NOMEM);
		CU_ASSERT_EQUAL(p.len, 0);
	}
	CU_ASSERT_EQUAL_FATAL(rc, PD_OK);
	for (n = 1; n < 1000; n++) {
		pd_buf_free(&so);
		r = NULL;
		pd_mem_fail_at(pd_mem_allocations() + n);
		rc = pr_mpatch_apply(held, p.data, p.len, &r, &so, NULL);
		pd_mem_fail_at(0);
		if (rc == PD_OK)
			break;
		CU_ASSERT_EQUAL(rc, PD_ERR_NOMEM);
		CU_ASSERT_PTR_NULL(r);
		CU_ASSERT_EQUAL(so.len, 0);
	}
	CU_ASSERT_EQUAL_FATAL(rc, PD_OK);
	CU_ASSERT_TRUE(so.len == bb.len &&
	    memcmp(so.data, bb.data, bb.len) == 0);
	pr_manifest_free(r);
	pr_manifest_free(held);
	pr_manifest_free(a);
	pr_manifest_free(b);
	pd_buf_free(&ab);
	pd_buf_free(&bb);
	pd_buf_free(&p);
	pd_buf_free(&so);
}

/* Misuse: unsigned manifests, a manifest changed after signing. */
static void
test_usage(void)
{
	struct pr_manifest *a = small(1), *b = small(2), *r = NULL;
	struct pd_buf ab, bb, p;
	struct pd_error err;

	pd_buf_init(&p, 1 << 20);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_mpatch_make(a, b, &p, &err), PD_ERR_USAGE);
	CU_ASSERT_STRING_EQUAL(err.msg,
	    "manifest patch: the old manifest is not signed");
	CU_ASSERT_EQUAL(pr_mpatch_apply(a, "x", 1, &r, NULL, NULL),
	    PD_ERR_USAGE);
	CU_ASSERT_PTR_NULL(r);
	seal(a, &ab);
	seal(b, &bb);
	b->entries[0].mtime.sec++;
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_mpatch_make(a, b, &p, &err), PD_ERR_USAGE);
	CU_ASSERT_STRING_EQUAL(err.msg, "manifest patch: the new manifest "
	    "(t version 2) changed after it was signed");
	CU_ASSERT_EQUAL(p.len, 0);
	/* A patch bigger than out's cap. */
	b->entries[0].mtime.sec--;
	p.cap = 100;
	CU_ASSERT_EQUAL(pr_mpatch_make(a, b, &p, NULL), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(p.len, 0);
	pr_manifest_free(a);
	pr_manifest_free(b);
	pd_buf_free(&ab);
	pd_buf_free(&bb);
	pd_buf_free(&p);
}

/*
 * spec/vectors: mpatch-X.patch applies to the manifest named in
 * mpatch-X.base (which must parse and verify with test.pub).  A good
 * patch must rebuild mpatch-X.out byte for byte, and pr_mpatch_make from
 * the base to mpatch-X.out must write the patch's very bytes; a bad one
 * must fail with exactly the text of mpatch-X.err.
 */
static bool
vread(const char *name, struct pd_buf *b)
{
	char path[4096];

	unit_pjoin(path, sizeof(path), unit_vectors_dir, name);
	pd_buf_reset(b);
	return pd_read_file(path, 64 << 20, b, NULL) == PD_OK;
}

static void
chomp(struct pd_buf *b)
{
	while (b->len > 0 && b->data[b->len - 1] == '\n')
		b->data[--b->len] = '\0';
}

/* Parse and verify the vector manifest called name. */
static struct pr_manifest *
vmanifest(const char *name, const struct pr_key *pub)
{
	struct pr_manifest *m = NULL;
	struct pd_buf b;
	struct pd_error err;

	pd_buf_init(&b, 64 << 20);
	pd_error_clear(&err);
	CU_ASSERT_TRUE_FATAL(vread(name, &b));
	if (pr_manifest_parse(b.data, b.len, &m, &err) != PD_OK ||
	    pr_manifest_verify(m, pub, &err) != PD_OK)
		fprintf(stderr, "\n%s: %s\n", name, err.msg);
	CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
	pd_buf_free(&b);
	return m;
}

static void
check_patch_vector(const char *name, const struct pr_key *pub, int *ngood,
    int *nbad)
{
	struct pd_buf patch, side, out, made;
	struct pr_manifest *base, *r = NULL, *want = NULL;
	struct pd_error err;
	char sname[512];
	bool good = strncmp(name, "mpatch-good-", 12) == 0;
	int n = (int)(strlen(name) - strlen(".patch"));

	pd_buf_init(&patch, 64 << 20);
	pd_buf_init(&side, 64 << 20);
	pd_buf_init(&out, 64 << 20);
	pd_buf_init(&made, 64 << 20);
	pd_error_clear(&err);
	CU_ASSERT_TRUE_FATAL(vread(name, &patch));
	snprintf(sname, sizeof(sname), "%.*s.base", n, name);
	CU_ASSERT_TRUE_FATAL(vread(sname, &side));
	chomp(&side);
	base = vmanifest((char *)side.data, pub);
	if (pr_mpatch_apply(base, patch.data, patch.len, &r, &out,
	    &err) == PD_OK && pr_manifest_verify(r, pub, &err) != PD_OK)
		CU_ASSERT_FALSE(good);
	snprintf(sname, sizeof(sname), "%.*s.%s", n, name,
	    good ? "out" : "err");
	CU_ASSERT_TRUE_FATAL(vread(sname, &side));
	if (good) {
		(*ngood)++;
		if (err.code != PD_OK)
			fprintf(stderr, "\n%s: %s\n", name, err.msg);
		CU_ASSERT_EQUAL_FATAL(err.code, PD_OK);
		CU_ASSERT_TRUE(out.len == side.len &&
		    memcmp(out.data, side.data, side.len) == 0);
		want = vmanifest(sname, pub);
		CU_ASSERT_EQUAL(pr_mpatch_make(base, want, &made, NULL),
		    PD_OK);
		CU_ASSERT_TRUE(made.len == patch.len &&
		    memcmp(made.data, patch.data, patch.len) == 0);
	} else {
		(*nbad)++;
		chomp(&side);
		if (err.code == PD_OK ||
		    strcmp(err.msg, (char *)side.data) != 0)
			fprintf(stderr, "\n%s: got \"%s\", want \"%s\"\n", name,
			    err.code == PD_OK ? "(accepted)" : err.msg,
			    (char *)side.data);
		CU_ASSERT_NOT_EQUAL(err.code, PD_OK);
		CU_ASSERT_STRING_EQUAL(err.msg, (char *)side.data);
		CU_ASSERT_PTR_NULL(r);
		CU_ASSERT_EQUAL(out.len, 0);
	}
	pr_manifest_free(base);
	pr_manifest_free(r);
	pr_manifest_free(want);
	pd_buf_free(&patch);
	pd_buf_free(&side);
	pd_buf_free(&out);
	pd_buf_free(&made);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_vectors(void)
{
	struct pr_key *pub = NULL;
	struct dirent *de;
	char path[4096], **names = NULL, **nn;
	size_t n = 0, i, len;
	int ngood = 0, nbad = 0;
	DIR *d;

	unit_pjoin(path, sizeof(path), unit_vectors_dir, "test.pub");
	CU_ASSERT_EQUAL_FATAL(pr_key_load(path, &pub, NULL), PD_OK);
	d = opendir(unit_vectors_dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (strncmp(de->d_name, "mpatch-", 7) != 0 || len < 13 ||
		    strcmp(de->d_name + len - 6, ".patch") != 0)
			continue;
		nn = pd_reallocarray(names, n + 1, sizeof(*names));
		CU_ASSERT_PTR_NOT_NULL_FATAL(nn);
		names = nn;
		names[n++] = pd_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		check_patch_vector(names[i], pub, &ngood, &nbad);
		pd_free(names[i]);
	}
	pd_free(names);
	/* The folder must really hold the vectors, good and hostile. */
	CU_ASSERT_TRUE(ngood >= 4);
	CU_ASSERT_TRUE(nbad >= 15);
	CU_ASSERT_EQUAL((size_t)(ngood + nbad), n);
	pr_key_free(pub);
}

static int
suite_mpatch(void)
{
	static const struct unit_test tests[] = {
		{ "no change", test_no_change },
		{ "every mtime changed", test_touch_all },
		{ "content, mode, target, mtime", test_changes },
		{ "additions, deletions, renames", test_add_remove_rename },
		{ "file becomes a directory", test_file_to_dir },
		{ "hardlink groups renumbered", test_hardlinks },
		{ "empty to full to empty", test_empty },
		{ "sizes on 20,000 entries", test_sizes },
		{ "hostile patches", test_hostile },
		{ "every byte is covered", test_every_byte },
		{ "allocation failures", test_out_of_memory },
		{ "misuse", test_usage },
		{ "spec/vectors mpatch-*", test_vectors },
	};

	return UNIT_SUITE("mpatch", init_key, free_key, tests);
}
UNIT_REGISTER("mpatch", suite_mpatch)
