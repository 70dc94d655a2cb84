/*
 * The node server's parsers of untrusted request bytes (node/serve.h):
 * paths, Range, Accept-Encoding and batch bodies; the bounded zstd
 * reader; derived files made once.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "../../common/mem.h"
#include "../../node/namer.h"
#include "../../node/serve.h"
#include "unit.h"

#define H64	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"
#define G64	"fedcba9876543210fedcba9876543210" \
		"fedcba9876543210fedcba9876543210"

static enum nd_route
route_of(const char *path, const char *query, struct nd_target *t)
{
	struct pd_error err;

	pd_error_clear(&err);
	if (nd_target_parse(path, query, t, &err) != PD_OK) {
		CU_ASSERT(err.msg[0] != '\0');
		return (enum nd_route)-1;
	}
	return t->route;
}

static void
test_paths_good(void)
{
	struct nd_target t;

	CU_ASSERT_EQUAL(route_of("/v1/trees", NULL, &t), ND_R_TREES);
	CU_ASSERT_EQUAL(route_of("/v1/batch", NULL, &t), ND_R_BATCH);
	CU_ASSERT_EQUAL(route_of("/v1/trees/docs/head", NULL, &t),
	    ND_R_HEAD);
	CU_ASSERT_STRING_EQUAL(t.tree, "docs");
	CU_ASSERT_EQUAL(route_of("/v1/trees/a.b_c-9/versions/12/manifest",
	    NULL, &t), ND_R_MANIFEST);
	CU_ASSERT_STRING_EQUAL(t.tree, "a.b_c-9");
	CU_ASSERT_EQUAL(t.version, 12);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/9007199254740991/"
	    "manifest", NULL, &t), ND_R_MANIFEST);
	CU_ASSERT_EQUAL(t.version, 9007199254740991ULL);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/manifest",
	    "from=" H64, &t), ND_R_PATCH);
	CU_ASSERT_EQUAL(t.a[0], 0x01);
	CU_ASSERT_EQUAL(t.a[31], 0xef);
	CU_ASSERT_EQUAL(route_of("/v1/objects/" H64, NULL, &t), ND_R_OBJECT);
	CU_ASSERT_EQUAL(t.a[1], 0x23);
	CU_ASSERT_EQUAL(route_of("/v1/deltas/" H64 "/" G64, NULL, &t),
	    ND_R_DELTA);
	CU_ASSERT_EQUAL(t.a[0], 0x01);
	CU_ASSERT_EQUAL(t.b[0], 0xfe);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/pack/0",
	    "from=" H64, &t), ND_R_PACK);
	CU_ASSERT_EQUAL(t.version, 3);
	CU_ASSERT_EQUAL(t.part, 0);
	CU_ASSERT_EQUAL(t.a[0], 0x01);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/pack/4294967294",
	    "from=" H64, &t), ND_R_PACK);
	CU_ASSERT_EQUAL(t.part, 4294967294U);
}

/* The node control endpoints, and their queries, exactly. */
static void
test_paths_control(void)
{
	static const char *const badq[] = {
		"", "limit=", "limit=0", "limit=01", "limit=1001", "limit=-1",
		"tree=", "tree=.x", "tree=a/b", "limit=5&limit=6",
		"tree=a&tree=b", "limit=5&", "&limit=5", "x=1", "limit=5&x=1",
		"tree=a%20b",
	};
	struct nd_target t;
	size_t i;

	CU_ASSERT_EQUAL(route_of("/v1/status", NULL, &t), ND_R_STATUS);
	CU_ASSERT_EQUAL(route_of("/v1/tasks", NULL, &t), ND_R_TASKS);
	CU_ASSERT_EQUAL(t.limit, ND_TASKS_LIST_DEFAULT);
	CU_ASSERT_STRING_EQUAL(t.tree, "");
	CU_ASSERT_EQUAL(route_of("/v1/tasks", "limit=7&tree=docs", &t),
	    ND_R_TASKS);
	CU_ASSERT_EQUAL(t.limit, 7);
	CU_ASSERT_STRING_EQUAL(t.tree, "docs");
	CU_ASSERT_EQUAL(route_of("/v1/tasks", "tree=k", &t), ND_R_TASKS);
	CU_ASSERT_STRING_EQUAL(t.tree, "k");
	CU_ASSERT_EQUAL(route_of("/v1/tasks", "limit=1000", &t), ND_R_TASKS);
	CU_ASSERT_EQUAL(t.limit, 1000);
	for (i = 0; i < sizeof(badq) / sizeof(badq[0]); i++)
		if (route_of("/v1/tasks", badq[i], &t) != (enum nd_route)-1)
			CU_FAIL(badq[i]);
	CU_ASSERT_EQUAL(route_of("/v1/tasks/42/cancel", NULL, &t),
	    ND_R_CANCEL);
	CU_ASSERT_EQUAL(t.task, 42);
	CU_ASSERT_EQUAL(route_of("/v1/trees/docs/sync", NULL, &t), ND_R_SYNC);
	CU_ASSERT_STRING_EQUAL(t.tree, "docs");
	CU_ASSERT_EQUAL(route_of("/v1/tasks/0/cancel", NULL, &t),
	    (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/tasks/07/cancel", NULL, &t),
	    (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/tasks/x/cancel", NULL, &t),
	    (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/tasks/1/stop", NULL, &t),
	    (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/status", "x=1", &t), (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/status/", NULL, &t), (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees/../sync", NULL, &t),
	    (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees/docs/sync", "now=1", &t),
	    (enum nd_route)-1);
}

static void
test_paths_bad(void)
{
	static const char *const bad[] = {
		"", "/", "v1/trees", "/v1", "/v1/", "/v2/trees", "/v1/trees/",
		"/v1//trees", "/v1/tree", "/V1/trees", "/v1/trees/x/head/",
		"/v1/trees/.hidden/head", "/v1/trees/-x/head",
		"/v1/trees/a%20b/head", "/v1/trees/../head",
		"/v1/trees/x/versions/0/manifest",
		"/v1/trees/x/versions/01/manifest",
		"/v1/trees/x/versions/-1/manifest",
		"/v1/trees/x/versions/9007199254740992/manifest",
		"/v1/trees/x/versions/1/manifest/",
		"/v1/trees/x/versions//manifest",
		"/v1/trees/x/versions/1",
		"/v1/objects/", "/v1/objects/" H64 "0",
		"/v1/objects/0123456789ABCDEF0123456789abcdef"
		    "0123456789abcdef0123456789abcdef",
		"/v1/objects/0123456789abcdeg0123456789abcdef"
		    "0123456789abcdef0123456789abcdef",
		"/v1/objects/../../etc/passwd",
		"/v1/objects/%2e%2e/%2e%2e/etc/passwd",
		"/v1/objects/" H64 "/x", "/v1/deltas/" H64,
		"/v1/deltas/" H64 "/" H64 "/" H64,
		"/v1/deltas/" H64 "/../../x",
		"/v1/a/b/c/d/e/f/g/h/i/j",
	};
	static const char *const badpack[] = {
		"/v1/trees/t/versions/3/pack/01",
		"/v1/trees/t/versions/3/pack/",
		"/v1/trees/t/versions/3/pack/-1",
		"/v1/trees/t/versions/3/pack/x",
		"/v1/trees/t/versions/3/pack/4294967295",
		"/v1/trees/t/versions/3/pack/99999999999",
		"/v1/trees/t/versions/0/pack/0", "/v1/trees/t/versions/3/pack",
		"/v1/trees/t/versions/3/packs/0", "/v1/trees/t/head/pack/0",
	};
	struct nd_target t;
	char longname[100];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (route_of(bad[i], NULL, &t) != (enum nd_route)-1)
			CU_FAIL(bad[i]);
	for (i = 0; i < sizeof(badpack) / sizeof(badpack[0]); i++)
		if (route_of(badpack[i], "from=" H64, &t) !=
		    (enum nd_route)-1)
			CU_FAIL(badpack[i]);
	/* A pack names the manifest it starts from, in exactly one form. */
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/pack/0", NULL, &t),
	    (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/pack/0",
	    "from=" G64 "&x=1", &t), (enum nd_route)-1);
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "/v1/trees/", 10);
	memcpy(longname + 10 + 65, "/head", 6);
	CU_ASSERT_EQUAL(route_of(longname, NULL, &t), (enum nd_route)-1);
	memcpy(longname + 10 + 64, "/head", 6);
	CU_ASSERT_EQUAL(route_of(longname, NULL, &t), ND_R_HEAD);
	/* Queries only where the spec has one, in exactly its form. */
	CU_ASSERT_EQUAL(route_of("/v1/trees", "x=1", &t), (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees", "", &t), (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/objects/" H64, "from=" H64, &t),
	    (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/manifest",
	    "from=" H64 "&x=1", &t), (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/manifest",
	    "to=" H64, &t), (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/versions/3/manifest",
	    "from=", &t), (enum nd_route)-1);
	CU_ASSERT_EQUAL(route_of("/v1/trees/t/head", "from=" H64, &t),
	    (enum nd_route)-1);
}

static int
resolve(const char *hdr, uint64_t size, uint64_t *off, uint64_t *len)
{
	struct nd_range r;

	nd_range_parse(hdr, &r);
	if (r.kind == ND_RANGE_NONE)
		return 200;
	return nd_range_resolve(&r, size, off, len);
}

static void
test_range(void)
{
	uint64_t off = 0, len = 0;

	CU_ASSERT_EQUAL(resolve(NULL, 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes=0-", 10, &off, &len), 206);
	CU_ASSERT(off == 0 && len == 10);
	CU_ASSERT_EQUAL(resolve("bytes=3-", 10, &off, &len), 206);
	CU_ASSERT(off == 3 && len == 7);
	CU_ASSERT_EQUAL(resolve("bytes=3-4", 10, &off, &len), 206);
	CU_ASSERT(off == 3 && len == 2);
	CU_ASSERT_EQUAL(resolve("bytes=9-9", 10, &off, &len), 206);
	CU_ASSERT(off == 9 && len == 1);
	CU_ASSERT_EQUAL(resolve("bytes=5-100", 10, &off, &len), 206);
	CU_ASSERT(off == 5 && len == 5);
	CU_ASSERT_EQUAL(resolve("bytes=-3", 10, &off, &len), 206);
	CU_ASSERT(off == 7 && len == 3);
	CU_ASSERT_EQUAL(resolve("bytes=-30", 10, &off, &len), 206);
	CU_ASSERT(off == 0 && len == 10);
	CU_ASSERT_EQUAL(resolve("bytes=10-", 10, &off, &len), 416);
	CU_ASSERT_EQUAL(resolve("bytes=10-20", 10, &off, &len), 416);
	CU_ASSERT_EQUAL(resolve("bytes=-0", 10, &off, &len), 416);
	CU_ASSERT_EQUAL(resolve("bytes=0-", 0, &off, &len), 416);
	CU_ASSERT_EQUAL(resolve("bytes=-5", 0, &off, &len), 416);
	CU_ASSERT_EQUAL(resolve("bytes=9999999999999999999-", 10, &off,
	    &len), 416);
	/* Not one well-formed byte range: ignored, the whole content. */
	CU_ASSERT_EQUAL(resolve("bytes=4-3", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes=0-1,3-4", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes=a-", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes=-", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes= 1-2", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bits=1-2", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes=+1-2", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes=1-2x", 10, &off, &len), 200);
	CU_ASSERT_EQUAL(resolve("bytes=99999999999999999999-", 10, &off,
	    &len), 200);
}

static void
test_accept_encoding(void)
{
	CU_ASSERT_FALSE(nd_accepts_zstd(NULL));
	CU_ASSERT_FALSE(nd_accepts_zstd(""));
	CU_ASSERT_TRUE(nd_accepts_zstd("zstd"));
	CU_ASSERT_TRUE(nd_accepts_zstd("ZStd"));
	CU_ASSERT_TRUE(nd_accepts_zstd("deflate, gzip, br, zstd"));
	CU_ASSERT_TRUE(nd_accepts_zstd("gzip,zstd;q=0.5"));
	CU_ASSERT_TRUE(nd_accepts_zstd("zstd ; q=1"));
	CU_ASSERT_TRUE(nd_accepts_zstd("zstd;q=0.001"));
	CU_ASSERT_FALSE(nd_accepts_zstd("zstd;q=0"));
	CU_ASSERT_FALSE(nd_accepts_zstd("zstd;q=0.000"));
	CU_ASSERT_FALSE(nd_accepts_zstd("gzip, br"));
	CU_ASSERT_FALSE(nd_accepts_zstd("zstdx, xzstd"));
	CU_ASSERT_FALSE(nd_accepts_zstd("*"));
}

static enum pd_err
parse_batch(const char *s, size_t *n, struct nd_bitem **items)
{
	struct pd_error err;
	enum pd_err rc;

	pd_error_clear(&err);
	rc = nd_batch_parse(s, strlen(s), items, n, &err);
	CU_ASSERT((rc == PD_OK) == (err.msg[0] == '\0'));
	return rc;
}

static void
test_batch_parse(void)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"items\": []}", "{\"items\": {}}",
		"{\"items\": [[\"o\", \"" H64 "\"]], \"x\": 1}",
		"{\"items\": [[\"o\", \"" H64 "\"]], \"items\": []}",
		"{\"items\": [[\"o\", \"" H64 "\"]]} x",
		"{\"items\": [[\"o\"]]}",
		"{\"items\": [[\"o\", \"" H64 "\", \"" H64 "\"]]}",
		"{\"items\": [[\"d\", \"" H64 "\"]]}",
		"{\"items\": [[\"x\", \"" H64 "\"]]}",
		"{\"items\": [[\"oo\", \"" H64 "\"]]}",
		"{\"items\": [[\"o\\u0000\", \"" H64 "\"]]}",
		"{\"items\": [[1, \"" H64 "\"]]}",
		"{\"items\": [[\"o\", \"" H64 "0\"]]}",
		"{\"items\": [[\"o\", \"0123456789ABCDEF0123456789abcdef"
		    "0123456789abcdef0123456789abcdef\"]]}",
		"{\"items\": [[\"o\", 5]]}",
		"{\"items\": [\"o\"]}",
		"{\"items\": [[\"o\", \"" H64 "\"], null]}",
	};
	struct nd_bitem *items = NULL;
	size_t n, i;

	CU_ASSERT_EQUAL(parse_batch("{\"items\": [[\"o\", \"" H64 "\"], "
	    "[\"d\", \"" H64 "\", \"" G64 "\"], [\"o\", \"" G64 "\"]]}", &n,
	    &items), PD_OK);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(items[0].kind, 'o');
	CU_ASSERT_EQUAL(items[0].a[0], 0x01);
	CU_ASSERT_EQUAL(items[1].kind, 'd');
	CU_ASSERT_EQUAL(items[1].b[0], 0xfe);
	CU_ASSERT_EQUAL(items[2].a[0], 0xfe);
	pd_free(items);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		items = NULL;
		if (parse_batch(bad[i], &n, &items) != PD_ERR_PARSE)
			CU_FAIL(bad[i]);
		CU_ASSERT_PTR_NULL(items);
	}
}

static void
test_batch_limits(void)
{
	struct nd_bitem *items = NULL;
	struct pd_error err;
	char *big;
	size_t n, i, len;

	pd_error_clear(&err);
	big = pd_malloc(ND_BATCH_BODY_MAX + 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	for (n = 4096; n <= 4097; n++) {
		len = (size_t)snprintf(big, 16, "{\"items\": [");
		for (i = 0; i < n; i++)
			len += (size_t)snprintf(big + len, 80,
			    "%s[\"o\", \"%s\"]", i ? "," : "", H64);
		len += (size_t)snprintf(big + len, 4, "]}");
		pd_error_clear(&err);
		CU_ASSERT_EQUAL(nd_batch_parse(big, len, &items, &i, &err),
		    n == 4096 ? PD_OK : PD_ERR_LIMIT);
		CU_ASSERT_EQUAL(i, n == 4096 ? 4096 : 0);
		pd_free(items);
		items = NULL;
	}
	memset(big, ' ', ND_BATCH_BODY_MAX + 1);
	CU_ASSERT_EQUAL(nd_batch_parse(big, ND_BATCH_BODY_MAX + 1, &items,
	    &n, &err), PD_ERR_LIMIT);
	pd_free(big);
}

/* A file holding the zstd frame of len bytes of c. */
static int
zfile(char c, size_t len, size_t *zlen)
{
	char *plain, *z;
	size_t zcap = ZSTD_compressBound(len);
	int fd;

	plain = pd_malloc(len + 1);
	z = pd_malloc(zcap);
	CU_ASSERT_FATAL(plain != NULL && z != NULL);
	memset(plain, c, len);
	*zlen = ZSTD_compress(z, zcap, plain, len, 3);
	CU_ASSERT_FATAL(!ZSTD_isError(*zlen));
	fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, z, *zlen) == (ssize_t)*zlen);
	pd_free(plain);
	pd_free(z);
	return fd;
}

static void
test_zread(void)
{
	struct nd_zread *z;
	struct evbuffer *out = evbuffer_new();
	struct pd_error err;
	size_t zlen, pieces = 0, len = 64 << 20;
	bool done = false;
	int fd;

	pd_error_clear(&err);
	/* 64 MiB of one byte: a few KiB compressed, read 256 KiB a time. */
	fd = zfile('z', len, &zlen);
	CU_ASSERT(zlen < 65536);
	CU_ASSERT_EQUAL_FATAL(nd_zread_new(fd, zlen, len, &z, &err), PD_OK);
	while (!done) {
		if (nd_zread_get(z, out, ND_CHUNK, &done, &err) != PD_OK) {
			fprintf(stderr, "%s\n", err.msg);
			CU_FAIL_FATAL("nd_zread_get");
		}
		CU_ASSERT(evbuffer_get_length(out) <= ND_CHUNK);
		evbuffer_drain(out, evbuffer_get_length(out));
		pieces++;
	}
	CU_ASSERT(pieces >= len / ND_CHUNK);
	nd_zread_free(z);

	/* Promised more, or fewer, bytes than it holds: refused. */
	CU_ASSERT_EQUAL_FATAL(nd_zread_new(fd, zlen, len + 1, &z, &err),
	    PD_OK);
	do {
		pd_error_clear(&err);
	} while (nd_zread_get(z, out, ND_CHUNK, &done, &err) == PD_OK &&
	    !done);
	CU_ASSERT_EQUAL(err.code, PD_ERR_CORRUPT);
	CU_ASSERT_FALSE(done);
	nd_zread_free(z);
	evbuffer_drain(out, evbuffer_get_length(out));
	CU_ASSERT_EQUAL_FATAL(nd_zread_new(fd, zlen, len - 1, &z, &err),
	    PD_OK);
	do {
		pd_error_clear(&err);
	} while (nd_zread_get(z, out, ND_CHUNK, &done, &err) == PD_OK &&
	    !done);
	CU_ASSERT_EQUAL(err.code, PD_ERR_CORRUPT);
	nd_zread_free(z);
	evbuffer_drain(out, evbuffer_get_length(out));

	/* Cut short: the stream ends inside its frame. */
	CU_ASSERT_EQUAL_FATAL(nd_zread_new(fd, zlen - 1, len, &z, &err),
	    PD_OK);
	do {
		pd_error_clear(&err);
	} while (nd_zread_get(z, out, ND_CHUNK, &done, &err) == PD_OK &&
	    !done);
	CU_ASSERT_EQUAL(err.code, PD_ERR_CORRUPT);
	nd_zread_free(z);
	close(fd);
	evbuffer_free(out);
}

struct maker {
	int	 calls;
	bool	 keep;
};

static enum pd_err
make_hello(void *arg, int fd, bool *keep, struct pd_error *err)
{
	struct maker *m = arg;

	(void)err;
	m->calls++;
	*keep = m->keep;
	return write(fd, "hello", 5) == 5 ? PD_OK : PD_ERR_IO;
}

static void
test_derived(void)
{
	struct maker m = { 0, false };
	struct pd_error err;
	struct cat *cat = NULL;
	char *dir = unit_tmpdir(), buf[16], path[4200];
	bool kept;
	int fd;

	pd_error_clear(&err);
	unit_pjoin(path, sizeof(path), dir, "data");
	CU_ASSERT_EQUAL_FATAL(cat_open(path, CAT_CREATE, &cat, &err), PD_OK);
	/* Not kept: made again next time. */
	CU_ASSERT_EQUAL(nd_derived(cat, NULL, "things", "abcd", make_hello, &m,
	    &fd, &kept, &err), PD_OK);
	CU_ASSERT_FALSE(kept);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 5);
	close(fd);
	m.keep = true;
	CU_ASSERT_EQUAL(nd_derived(cat, NULL, "things", "abcd", make_hello, &m,
	    &fd, &kept, &err), PD_OK);
	CU_ASSERT_TRUE(kept);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 5);
	close(fd);
	CU_ASSERT_EQUAL(m.calls, 2);
	/* Kept: opened, not made. */
	CU_ASSERT_EQUAL(nd_derived(cat, NULL, "things", "abcd", make_hello, &m,
	    &fd, &kept, &err), PD_OK);
	CU_ASSERT_TRUE(kept);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 5);
	CU_ASSERT_EQUAL(memcmp(buf, "hello", 5), 0);
	close(fd);
	CU_ASSERT_EQUAL(m.calls, 2);
	snprintf(path, sizeof(path), "%s/data/things/ab/abcd", dir);
	CU_ASSERT_EQUAL(access(path, R_OK), 0);
	cat_close(cat);
	unit_rmdir(dir);
}

/* With a namer: served at once, named once durable. */
static void
test_derived_later(void)
{
	struct maker m = { 0, true };
	struct nd_namer_stats st;
	struct nd_namer *nm = NULL;
	struct pd_error err;
	struct cat *cat = NULL;
	char *dir = unit_tmpdir(), buf[16], path[4200];
	bool kept;
	int fd, i;

	pd_error_clear(&err);
	unit_pjoin(path, sizeof(path), dir, "data");
	CU_ASSERT_EQUAL_FATAL(cat_open(path, CAT_CREATE, &cat, &err), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_namer_new(&nm, &err), PD_OK);
	snprintf(path, sizeof(path), "%s/data/things/ab/abcd", dir);
	/* Two makers before the name: both serve, one file is kept. */
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(nd_derived(cat, nm, "things", "abcd",
		    make_hello, &m, &fd, &kept, &err), PD_OK);
		CU_ASSERT_TRUE(kept);
		CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 5);
		CU_ASSERT_EQUAL(memcmp(buf, "hello", 5), 0);
		close(fd);
	}
	nd_namer_wait(nm);
	CU_ASSERT_EQUAL(access(path, R_OK), 0);
	nd_namer_stats(nm, &st);
	CU_ASSERT_EQUAL(st.named, 2);
	CU_ASSERT_EQUAL(st.refused, 0);
	CU_ASSERT_EQUAL(st.failed, 0);
	CU_ASSERT_EQUAL(m.calls, 2);
	/* Named: opened, not made. */
	CU_ASSERT_EQUAL(nd_derived(cat, nm, "things", "abcd", make_hello, &m,
	    &fd, &kept, &err), PD_OK);
	CU_ASSERT_TRUE(kept);
	close(fd);
	CU_ASSERT_EQUAL(m.calls, 2);
	/* What waits when the namer stops is named all the same. */
	CU_ASSERT_EQUAL(nd_derived(cat, nm, "things", "efgh", make_hello, &m,
	    &fd, &kept, &err), PD_OK);
	close(fd);
	nd_namer_free(nm);
	snprintf(path, sizeof(path), "%s/data/things/ef/efgh", dir);
	CU_ASSERT_EQUAL(access(path, R_OK), 0);
	cat_close(cat);
	unit_rmdir(dir);
}

static int
suite_server(void)
{
	static const struct unit_test tests[] = {
		{ "paths of every endpoint", test_paths_good },
		{ "malformed paths and queries", test_paths_bad },
		{ "node control paths", test_paths_control },
		{ "Range", test_range },
		{ "Accept-Encoding", test_accept_encoding },
		{ "batch request shapes", test_batch_parse },
		{ "batch request limits", test_batch_limits },
		{ "bounded zstd reader", test_zread },
		{ "derived files made once", test_derived },
		{ "derived files named later", test_derived_later },
	};

	return UNIT_SUITE("server", NULL, NULL, tests);
}
UNIT_REGISTER("server", suite_server)
