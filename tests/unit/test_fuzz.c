/*
 * Mutation tests of the parsers that read untrusted bytes: the manifest
 * parser, the manifest patch applier, the batch request parser and the
 * request path parser.  Each valid input from spec/vectors (or a valid
 * request) is damaged thousands of ways with a fixed seed: bits flipped,
 * bytes replaced by ones that mean something to the format, ranges cut
 * or repeated, the end cut off.  Every outcome must be either a clear
 * error or a result that keeps the format's promises; under make asan,
 * any out-of-bounds read or leak on the way fails too.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../../common/fsx.h"
#include "../../common/mem.h"
#include "../../common/sha256.h"
#include "../../node/serve.h"
#include "../../protocol/manifest.h"
#include "../../protocol/mpatch.h"
#include "unit.h"

#define ROUNDS	5000	/* mutations of each input */
#define BUF_CAP	(4 << 20)	/* room for any mutation of a vector */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: the same damage every run, so a failure reproduces. */
static uint64_t
next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static size_t
below(size_t n)
{
	return n ? (size_t)(next() % n) : 0;
}

/* One to three mutations of in into out (a fresh buffer). */
static void
mutate(const struct pd_buf *in, struct pd_buf *out)
{
	static const unsigned char meaningful[] = "\n \t0019-%/.=+tfdl:\\";
	size_t k, n, at, len;

	pd_buf_reset(out);
	CU_ASSERT_FATAL(pd_buf_add(out, in->data, in->len) == PD_OK);
	for (k = 0, n = 1 + below(3); k < n && out->len > 0; k++) {
		at = below(out->len);
		switch (below(6)) {
		case 0:
			out->data[at] ^= (unsigned char)(1u << below(8));
			break;
		case 1:
			out->data[at] = meaningful[below(sizeof(meaningful) -
			    1)];
			break;
		case 2:
			out->data[at] = (unsigned char)below(256);
			break;
		case 3:	/* cut a range */
			len = 1 + below(out->len - at < 64 ? out->len - at :
			    64);
			memmove(out->data + at, out->data + at + len,
			    out->len - at - len);
			out->len -= len;
			break;
		case 4:	/* repeat a range (a line, often) */
			len = 1 + below(out->len - at < 80 ? out->len - at :
			    80);
			CU_ASSERT_FATAL(pd_buf_reserve(out, len) == PD_OK);
			memmove(out->data + at + len, out->data + at,
			    out->len - at);
			out->len += len;
			break;
		default:
			out->len = at;
			break;
		}
	}
}

static void
load(const char *name, struct pd_buf *b)
{
	char path[4096];

	unit_pjoin(path, sizeof(path), unit_vectors_dir, name);
	pd_buf_init(b, BUF_CAP);
	CU_ASSERT_EQUAL_FATAL(pd_read_file(path, 1 << 20, b, NULL), PD_OK);
}

/* Names in spec/vectors that start with prefix and end with suffix. */
static size_t
vectors(const char *prefix, const char *suffix, char names[][128],
    size_t max)
{
	DIR *d = opendir(unit_vectors_dir);
	struct dirent *de;
	size_t n = 0, lp = strlen(prefix), ls = strlen(suffix), l;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL && n < max) {
		l = strlen(de->d_name);
		if (l < lp + ls || l >= 128 ||
		    strncmp(de->d_name, prefix, lp) != 0 ||
		    strcmp(de->d_name + l - ls, suffix) != 0)
			continue;
		memcpy(names[n++], de->d_name, l + 1);
	}
	closedir(d);
	return n;
}

/*
 * An accepted manifest is canonical: its body re-encodes to exactly the
 * bytes read, and its id is their SHA-256.
 */
static void
check_accepted(const struct pr_manifest *m, const struct pd_buf *in)
{
	unsigned char id[PD_SHA256_LEN];
	struct pd_buf enc;

	pd_buf_init(&enc, BUF_CAP);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_check(m, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_encode(m, &enc, NULL, NULL), PD_OK);
	CU_ASSERT_FATAL(enc.len <= in->len);
	CU_ASSERT(memcmp(enc.data, in->data, enc.len) == 0);
	CU_ASSERT_EQUAL(pd_sha256(enc.data, enc.len, id), PD_OK);
	CU_ASSERT(memcmp(id, m->id, sizeof(id)) == 0);
	pd_buf_free(&enc);
}

static void
test_manifest_parse(void)
{
	char names[16][128];
	struct pd_buf in, mut;
	struct pr_manifest *m;
	struct pd_error err;
	size_t n, i, r, ok = 0, bad = 0;
	enum pd_err rc;

	n = vectors("good-", ".manifest", names, 16);
	CU_ASSERT_FATAL(n >= 3);
	pd_buf_init(&mut, BUF_CAP);
	for (i = 0; i < n; i++) {
		load(names[i], &in);
		for (r = 0; r < ROUNDS; r++) {
			mutate(&in, &mut);
			pd_error_clear(&err);
			rc = pr_manifest_parse(mut.data, mut.len, &m, &err);
			if (rc == PD_OK) {
				check_accepted(m, &mut);
				pr_manifest_free(m);
				ok++;
				continue;
			}
			CU_ASSERT_PTR_NULL(m);
			CU_ASSERT(err.msg[0] != '\0');
			if (rc != PD_ERR_PARSE && rc != PD_ERR_LIMIT &&
			    rc != PD_ERR_SIGNATURE && rc != PD_ERR_UNSAFE) {
				fprintf(stderr, "\nfuzz: %s: error %d: %s\n",
				    names[i], (int)rc, err.msg);
				CU_FAIL("an unexpected kind of error");
			}
			bad++;
		}
		pd_buf_free(&in);
	}
	pd_buf_free(&mut);
	/* Both outcomes happen: the damage is not all caught by one rule. */
	CU_ASSERT(ok > 0);
	CU_ASSERT(bad > ok);
}

static void
test_mpatch_apply(void)
{
	char names[16][128], base[160];
	struct pd_buf bb, in, mut;
	struct pr_manifest *from, *m;
	struct pd_error err;
	size_t n, i, r, bad = 0;
	enum pd_err rc;

	n = vectors("mpatch-good-", ".patch", names, 16);
	CU_ASSERT_FATAL(n >= 3);
	pd_buf_init(&mut, BUF_CAP);
	for (i = 0; i < n; i++) {
		/* X.base names the vector file of the held manifest. */
		snprintf(base, sizeof(base), "%.*s.base",
		    (int)(strlen(names[i]) - 6), names[i]);
		load(base, &bb);
		while (bb.len > 0 && bb.data[bb.len - 1] == '\n')
			bb.data[--bb.len] = '\0';
		snprintf(base, sizeof(base), "%s", (const char *)bb.data);
		pd_buf_free(&bb);
		load(base, &bb);
		CU_ASSERT_EQUAL_FATAL(pr_manifest_parse(bb.data, bb.len, &from,
		    NULL), PD_OK);
		load(names[i], &in);
		for (r = 0; r < ROUNDS; r++) {
			mutate(&in, &mut);
			pd_error_clear(&err);
			rc = pr_mpatch_apply(from, mut.data, mut.len, &m, NULL,
			    &err);
			if (rc == PD_OK) {
				/* Damage the result's id still vouches for
				 * (the signature line, say) is harmless. */
				CU_ASSERT_EQUAL(pr_manifest_check(m, NULL),
				    PD_OK);
				pr_manifest_free(m);
				continue;
			}
			CU_ASSERT_PTR_NULL(m);
			CU_ASSERT(err.msg[0] != '\0');
			bad++;
		}
		pr_manifest_free(from);
		pd_buf_free(&in);
		pd_buf_free(&bb);
	}
	pd_buf_free(&mut);
	CU_ASSERT(bad > 0);
}

static void
test_batch_parse(void)
{
	static const char body[] = "{\"items\": [[\"o\", \"0123456789abcdef"
	    "0123456789abcdef0123456789abcdef0123456789abcdef\"], [\"d\", "
	    "\"fedcba9876543210fedcba9876543210fedcba9876543210fedcba98765432"
	    "10\", \"0123456789abcdef0123456789abcdef0123456789abcdef01234567"
	    "89abcdef\"]]}";
	struct pd_buf in, mut;
	struct nd_bitem *items;
	struct pd_error err;
	size_t n, r, k;
	enum pd_err rc;

	pd_buf_init(&in, BUF_CAP);
	pd_buf_init(&mut, BUF_CAP);
	CU_ASSERT_FATAL(pd_buf_add(&in, body, sizeof(body) - 1) == PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_batch_parse(in.data, in.len, &items, &n,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 2);
	pd_free(items);
	for (r = 0; r < 4 * ROUNDS; r++) {
		mutate(&in, &mut);
		pd_error_clear(&err);
		rc = nd_batch_parse(mut.data, mut.len, &items, &n, &err);
		if (rc == PD_OK) {
			CU_ASSERT(n >= 1 && n <= ND_BATCH_ITEMS_MAX);
			for (k = 0; k < n; k++)
				CU_ASSERT(items[k].kind == 'o' ||
				    items[k].kind == 'd');
			pd_free(items);
			continue;
		}
		CU_ASSERT(err.msg[0] != '\0');
	}
	pd_buf_free(&in);
	pd_buf_free(&mut);
}

/* Whether some component of path is "." or "..". */
static bool
has_dot_component(const char *path)
{
	const char *p = path, *q;
	size_t n;

	for (;;) {
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' &&
		    p[1] == '.'))
			return true;
		if (q == NULL)
			return false;
		p = q + 1;
	}
}

static void
test_paths(void)
{
	static const char *const good[] = {
		"/v1/trees/docs/versions/12/pack/3",
		"/v1/deltas/0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef/fedcba9876543210fedcba9876543210fedcba98"
		    "76543210fedcba9876543210",
		"/v1/trees/a.b_c-9/versions/9007199254740991/manifest",
	};
	struct pd_buf in, mut;
	struct nd_target t;
	struct pd_error err;
	size_t i, r;

	pd_buf_init(&mut, BUF_CAP);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		pd_buf_init(&in, BUF_CAP);
		CU_ASSERT_FATAL(pd_buf_adds(&in, good[i]) == PD_OK);
		for (r = 0; r < ROUNDS; r++) {
			mutate(&in, &mut);
			/* A path is a C string: stop at a NUL. */
			CU_ASSERT_FATAL(pd_buf_addc(&mut, '\0') == PD_OK);
			pd_error_clear(&err);
			if (nd_target_parse((const char *)mut.data,
			    "from=0123456789abcdef0123456789abcdef0123456789"
			    "abcdef0123456789abcdef", &t, &err) != PD_OK) {
				CU_ASSERT(err.msg[0] != '\0');
				continue;
			}
			/* Accepted: no component climbs or escapes. */
			if (has_dot_component((const char *)mut.data) ||
			    strchr((const char *)mut.data, '%') != NULL) {
				fprintf(stderr, "\nfuzz: accepted %s\n",
				    (const char *)mut.data);
				CU_FAIL("an unsafe path was accepted");
			}
		}
		pd_buf_free(&in);
	}
	pd_buf_free(&mut);
}

static int
suite_fuzz(void)
{
	static const struct unit_test tests[] = {
		{ "damaged manifests: an error, or canonical",
		    test_manifest_parse },
		{ "damaged manifest patches: an error, or a valid manifest",
		    test_mpatch_apply },
		{ "damaged batch requests: an error, or sane items",
		    test_batch_parse },
		{ "damaged request paths: an error, or a safe endpoint",
		    test_paths },
	};

	return UNIT_SUITE("fuzz", NULL, NULL, tests);
}
UNIT_REGISTER("fuzz", suite_fuzz)
