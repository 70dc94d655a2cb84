/*
 * The derived-content cache (node/dcache.h): compressed objects and
 * deltas round trip; "whole" when a delta is not worth it; unknown
 * objects; hits; single flight under 8 threads; damaged, torn or
 * unrecorded files recomputed; deltas put from upstream; stale temp
 * files; and a 64 MiB pair with scattered edits in bounded memory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../catalog/catalog.h"
#include "../../catalog/objstore.h"
#include "../../common/fsx.h"
#include "../../common/hex.h"
#include "../../common/mem.h"
#include "../../common/sha256.h"
#include "../../delta/delta.h"
#include "../../delta/zstd.h"
#include "../../node/dcache.h"
#include "unit.h"

#define MIB		(1024 * 1024)
#define NTHREADS	8

struct fix {
	char		*tmp;
	char		 data[4096];
	struct cat	*c;
	struct nd_dcache *d;
};

static void
fix_open(struct fix *f)
{
	f->tmp = unit_tmpdir();
	unit_pjoin(f->data, sizeof(f->data), f->tmp, "data");
	CU_ASSERT_EQUAL_FATAL(cat_open(f->data, CAT_CREATE, &f->c, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_new(f->c, &f->d, NULL), PD_OK);
}

static void
fix_close(struct fix *f)
{
	nd_dcache_free(f->d);
	cat_close(f->c);
	unit_rmdir(f->tmp);
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* n pseudo-random bytes (caller frees). */
static unsigned char *
gen(size_t n, uint64_t seed)
{
	unsigned char *p = pd_malloc(n ? n : 1);
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	seed = seed * 2654435761U + 1;
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(rnd(&seed) >> 24);
	return p;
}

/* Store the bytes read from fd as an indexed, durable object. */
static void
put_obj_fd(struct cat *c, int fd, unsigned char *sha, bool index)
{
	static unsigned char buf[MIB];
	struct pd_sha256 *h = pd_sha256_new();
	struct cat_objw *w = NULL;
	struct cat_txn *t;
	ssize_t r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_FATAL(pd_sha256_init(h) == PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_objw_new(c, &w, NULL), PD_OK);
	while ((r = pd_read_full(fd, buf, sizeof(buf))) > 0) {
		CU_ASSERT_FATAL(pd_sha256_update(h, buf, (size_t)r) == PD_OK);
		CU_ASSERT_FATAL(cat_objw_write(w, buf, (size_t)r, NULL) ==
		    PD_OK);
	}
	CU_ASSERT_FATAL(r == 0);
	CU_ASSERT_FATAL(pd_sha256_final(h, sha) == PD_OK);
	pd_sha256_free(h);
	CU_ASSERT_EQUAL_FATAL(cat_objw_finish(w, sha, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_obj_sync(c, NULL), PD_OK);
	if (!index)
		return;
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_object_put(t, sha, 0, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
}

/* An anonymous temp file in dir. */
static int
tmp_fd(const char *dir)
{
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

static void
put_obj(struct fix *f, const void *p, size_t n, unsigned char *sha,
    bool index)
{
	int fd = tmp_fd(f->tmp);

	CU_ASSERT_FATAL(pd_write_all(fd, p, n) == PD_OK);
	CU_ASSERT_FATAL(lseek(fd, 0, SEEK_SET) == 0);
	put_obj_fd(f->c, fd, sha, index);
	close(fd);
}

/* The zstd stream in zfd (from offset 0), decompressed to a temp file. */
static int
unzip(struct fix *f, int zfd, uint64_t max, uint64_t *len)
{
	int fd = tmp_fd(f->tmp);

	CU_ASSERT_FATAL(lseek(zfd, 0, SEEK_SET) == 0);
	CU_ASSERT_EQUAL_FATAL(dl_zdecompress_fd(zfd, fd, max, len, NULL),
	    PD_OK);
	CU_ASSERT_FATAL(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

static void
fd_sha(int fd, unsigned char *sha)
{
	static unsigned char buf[MIB];
	struct pd_sha256 *h = pd_sha256_new();
	ssize_t r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_FATAL(lseek(fd, 0, SEEK_SET) == 0);
	CU_ASSERT_FATAL(pd_sha256_init(h) == PD_OK);
	while ((r = pd_read_full(fd, buf, sizeof(buf))) > 0)
		CU_ASSERT_FATAL(pd_sha256_update(h, buf, (size_t)r) == PD_OK);
	CU_ASSERT_FATAL(pd_sha256_final(h, sha) == PD_OK);
	pd_sha256_free(h);
}

static uint64_t
fd_size(int fd)
{
	struct stat st;

	CU_ASSERT_FATAL(fstat(fd, &st) == 0);
	return (uint64_t)st.st_size;
}

/*
 * Decompress the delta, apply it to the object from and check that the
 * result is the object to.
 */
static void
check_delta(struct fix *f, const struct nd_delta *dl,
    const unsigned char *from, const unsigned char *to, uint64_t to_size)
{
	unsigned char got[PD_SHA256_LEN];
	uint64_t plen = 0, olen = 0;
	struct pd_error e;
	int pfd, bfd, ofd;

	CU_ASSERT_EQUAL_FATAL(dl->kind, ND_DELTA_DELTA);
	CU_ASSERT_FATAL(dl->fd >= 0);
	CU_ASSERT_EQUAL(dl->zsize, fd_size(dl->fd));
	pfd = unzip(f, dl->fd, 1ULL << 32, &plen);
	CU_ASSERT_EQUAL(plen, dl->size);
	CU_ASSERT_EQUAL_FATAL(cat_obj_open(f->c, from, &bfd, NULL), PD_OK);
	ofd = tmp_fd(f->tmp);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(dl_patch(bfd, fd_size(bfd), pfd, ofd, to_size, &olen,
	    &e), PD_OK);
	CU_ASSERT_EQUAL(olen, to_size);
	fd_sha(ofd, got);
	CU_ASSERT(memcmp(got, to, PD_SHA256_LEN) == 0);
	close(pfd);
	close(bfd);
	close(ofd);
}

static bool
file_exists(const char *data, const char *area, const unsigned char *a,
    const unsigned char *b)
{
	char ha[PD_SHA256_HEX], hb[PD_SHA256_HEX] = "", path[4096];

	pd_hex_encode(a, PD_SHA256_LEN, ha);
	if (b != NULL)
		pd_hex_encode(b, PD_SHA256_LEN, hb);
	snprintf(path, sizeof(path), "%s/%s/%.2s/%s%s.zst", data, area, ha,
	    ha, hb);
	return access(path, F_OK) == 0;
}

/* Change the file of a cached thing: truncate to len, or fill it. */
static void
damage(const char *data, const char *area, const unsigned char *a,
    const unsigned char *b, off_t len)
{
	char ha[PD_SHA256_HEX], hb[PD_SHA256_HEX] = "", path[4096];
	int fd;

	pd_hex_encode(a, PD_SHA256_LEN, ha);
	if (b != NULL)
		pd_hex_encode(b, PD_SHA256_LEN, hb);
	snprintf(path, sizeof(path), "%s/%s/%.2s/%s%s.zst", data, area, ha,
	    ha, hb);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	if (len >= 0) {
		CU_ASSERT(ftruncate(fd, len) == 0);
	} else {
		CU_ASSERT(pd_write_all(fd, "garbage!", 8) == PD_OK);
	}
	close(fd);
}

/* A base object and an edited copy of it; n bytes each. */
static void
pair(struct fix *f, size_t n, unsigned char *from, unsigned char *to)
{
	unsigned char *a = gen(n, 7);
	size_t i;

	put_obj(f, a, n, from, true);
	for (i = 0; i < 16; i++)
		a[(i * 7919 * 131) % n] ^= 0x5a;
	memcpy(a + n / 3, "an insertion", 12);
	put_obj(f, a, n, to, true);
	pd_free(a);
}

static void
test_zobj(void)
{
	struct fix f;
	struct nd_zobj z;
	struct nd_dcache_stats st;
	unsigned char sha[PD_SHA256_LEN], got[PD_SHA256_LEN];
	unsigned char *body = gen(300000, 1);
	uint64_t len = 0;
	int fd;

	/* Compressible: the second half repeats the first. */
	memcpy(body + 150000, body, 150000);
	fix_open(&f);
	put_obj(&f, body, 300000, sha, true);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, sha, &z, NULL), PD_OK);
	CU_ASSERT_EQUAL(z.size, 300000);
	CU_ASSERT_EQUAL(z.zsize, fd_size(z.fd));
	CU_ASSERT(z.zsize < 200000);
	fd = unzip(&f, z.fd, z.size, &len);
	CU_ASSERT_EQUAL(len, 300000);
	fd_sha(fd, got);
	CU_ASSERT(memcmp(got, sha, sizeof(sha)) == 0);
	close(fd);
	close(z.fd);
	CU_ASSERT(file_exists(f.data, "zobjects", sha, NULL));

	/* A second call is answered from the cache, as is a new handle. */
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, sha, &z, NULL), PD_OK);
	close(z.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.zobj_made, 1);
	CU_ASSERT_EQUAL(st.hits, 1);
	nd_dcache_free(f.d);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_new(f.c, &f.d, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, sha, &z, NULL), PD_OK);
	CU_ASSERT_EQUAL(z.size, 300000);
	close(z.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.zobj_made, 0);
	CU_ASSERT_EQUAL(st.hits, 1);

	/* Random bytes do not shrink: the record says so (zsize >= size)
	 * and no second copy is kept, also when asked again. */
	pd_free(body);
	body = gen(300000, 2);
	put_obj(&f, body, 300000, sha, true);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, sha, &z, NULL), PD_OK);
	CU_ASSERT(z.zsize >= z.size);
	CU_ASSERT_EQUAL(fd_size(z.fd), 0);
	close(z.fd);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, sha, &z, NULL), PD_OK);
	CU_ASSERT(z.zsize >= z.size);
	close(z.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.zobj_made, 1);
	CU_ASSERT_EQUAL(st.hits, 2);
	pd_free(body);
	fix_close(&f);
}

static void
test_delta(void)
{
	struct fix f;
	struct nd_delta dl;
	struct nd_zobj z;
	struct nd_dcache_stats st;
	unsigned char from[PD_SHA256_LEN], to[PD_SHA256_LEN];
	struct cat_delta rec;

	fix_open(&f);
	pair(&f, MIB, from, to);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	check_delta(&f, &dl, from, to, MIB);
	close(dl.fd);
	CU_ASSERT(file_exists(f.data, "deltas", from, to));
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 1);
	CU_ASSERT_EQUAL(st.wholes, 0);
	/* Judging the delta compressed the new object too. */
	CU_ASSERT_EQUAL(st.zobj_made, 1);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, to, &z, NULL), PD_OK);
	CU_ASSERT(dl.zsize * 100 <= z.zsize * ND_DELTA_WORTH_PCT);
	close(z.fd);
	CU_ASSERT_EQUAL_FATAL(cat_delta_lookup(f.c, from, to, &rec, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(rec.kind, CAT_DELTA_DELTA);
	CU_ASSERT_EQUAL(rec.zsize, dl.zsize);
	CU_ASSERT_EQUAL(rec.size, dl.size);

	/* Again: a hit, the same bytes. */
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	check_delta(&f, &dl, from, to, MIB);
	close(dl.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 1);
	CU_ASSERT_EQUAL(st.zobj_made, 1);
	CU_ASSERT_EQUAL(st.hits, 2);

	/* The other way round is another pair. */
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, to, from, &dl, NULL),
	    PD_OK);
	check_delta(&f, &dl, to, from, MIB);
	close(dl.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 2);
	fix_close(&f);
}

static void
test_whole(void)
{
	struct fix f;
	struct nd_delta dl;
	struct nd_dcache_stats st;
	struct cat_delta rec;
	unsigned char from[PD_SHA256_LEN], to[PD_SHA256_LEN];
	unsigned char *a = gen(200000, 3), *b = gen(200000, 4);

	fix_open(&f);
	put_obj(&f, a, 200000, from, true);
	put_obj(&f, b, 200000, to, true);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(dl.kind, ND_DELTA_WHOLE);
	CU_ASSERT_EQUAL(dl.fd, -1);
	CU_ASSERT_FALSE(file_exists(f.data, "deltas", from, to));
	CU_ASSERT_EQUAL_FATAL(cat_delta_lookup(f.c, from, to, &rec, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(rec.kind, CAT_DELTA_WHOLE);
	CU_ASSERT(rec.zsize > 150000);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(dl.kind, ND_DELTA_WHOLE);
	CU_ASSERT_EQUAL(dl.fd, -1);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.wholes, 1);
	CU_ASSERT_EQUAL(st.deltas_made, 0);
	CU_ASSERT_EQUAL(st.hits, 1);
	pd_free(a);
	pd_free(b);
	fix_close(&f);
}

static void
test_notfound(void)
{
	struct fix f;
	struct nd_delta dl;
	struct nd_zobj z;
	struct nd_dcache_stats st;
	struct pd_error e;
	unsigned char held[PD_SHA256_LEN], none[PD_SHA256_LEN];
	unsigned char stray[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX];

	fix_open(&f);
	put_obj(&f, "held", 4, held, true);
	/* In the store but not indexed: not durable, so not held. */
	put_obj(&f, "stray", 5, stray, false);
	memset(none, 0xab, sizeof(none));
	pd_hex_encode(none, sizeof(none), hex);

	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_dcache_zobj(f.d, none, &z, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, hex));
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_dcache_delta(f.d, none, held, &dl, &e),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, hex));
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_dcache_delta(f.d, held, none, &dl, &e),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, hex));
	CU_ASSERT_EQUAL(nd_dcache_zobj(f.d, stray, &z, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(nd_dcache_delta(f.d, held, stray, &dl, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_FALSE(file_exists(f.data, "zobjects", none, NULL));
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.zobj_made + st.deltas_made + st.wholes, 0);
	fix_close(&f);
}

struct racer {
	struct fix	*f;
	const unsigned char *from, *to;
	pthread_barrier_t *go;
	enum pd_err	 rc;
	struct nd_delta	 dl;
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->rc = nd_dcache_delta(r->f->d, r->from, r->to, &r->dl, NULL);
	return NULL;
}

static void
test_single_flight(void)
{
	struct fix f;
	struct racer r[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t go;
	struct nd_dcache_stats st;
	unsigned char from[PD_SHA256_LEN], to[PD_SHA256_LEN];
	int i;

	fix_open(&f);
	pair(&f, 4 * MIB, from, to);
	CU_ASSERT_FATAL(pthread_barrier_init(&go, NULL, NTHREADS) == 0);
	for (i = 0; i < NTHREADS; i++) {
		r[i].f = &f;
		r[i].from = from;
		r[i].to = to;
		r[i].go = &go;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, race, &r[i]) ==
		    0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < NTHREADS; i++) {
		CU_ASSERT_EQUAL(r[i].rc, PD_OK);
		if (r[i].rc != PD_OK)
			continue;
		CU_ASSERT_EQUAL(r[i].dl.zsize, r[0].dl.zsize);
		if (i == NTHREADS - 1)
			check_delta(&f, &r[i].dl, from, to, 4 * MIB);
		close(r[i].dl.fd);
	}
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 1);
	CU_ASSERT_EQUAL(st.zobj_made, 1);
	CU_ASSERT_EQUAL(st.hits + st.waits, NTHREADS - 1);
	if (getenv("DCACHE_VERBOSE") != NULL)
		fprintf(stderr, "\nsingle flight: %ju hits, %ju waits\n",
		    (uintmax_t)st.hits, (uintmax_t)st.waits);
	fix_close(&f);
}

static void
test_recompute(void)
{
	struct fix f;
	struct nd_delta dl;
	struct nd_zobj z;
	struct nd_dcache_stats st;
	unsigned char from[PD_SHA256_LEN], to[PD_SHA256_LEN];
	unsigned char other[PD_SHA256_LEN];
	unsigned char *body = gen(100000, 9);

	/* Compressible (halves alike), so a compressed copy is kept. */
	memcpy(body + 50000, body, 50000);
	char path[4096];
	uint64_t len;
	int fd;

	fix_open(&f);
	pair(&f, MIB, from, to);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	close(dl.fd);

	/* Torn delta: recomputed, and right. */
	damage(f.data, "deltas", from, to, (off_t)dl.zsize / 2);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	check_delta(&f, &dl, from, to, MIB);
	close(dl.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 2);

	/* Longer than its record: recomputed too. */
	damage(f.data, "deltas", from, to, (off_t)dl.zsize + 1);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	check_delta(&f, &dl, from, to, MIB);
	close(dl.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 3);

	/* A record whose file is gone. */
	unit_pjoin(path, sizeof(path), f.data, "deltas");
	CU_ASSERT_EQUAL(pd_remove_tree_at(AT_FDCWD, path, NULL), PD_OK);
	nd_dcache_free(f.d);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_new(f.c, &f.d, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	check_delta(&f, &dl, from, to, MIB);
	close(dl.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 1);
	CU_ASSERT_EQUAL(st.zobj_made, 0);

	/* Files without a record are never trusted. */
	damage(f.data, "deltas", to, from, -1);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, to, from, &dl, NULL),
	    PD_OK);
	check_delta(&f, &dl, to, from, MIB);
	close(dl.fd);
	put_obj(&f, body, 100000, other, true);
	damage(f.data, "zobjects", other, NULL, -1);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, other, &z, NULL), PD_OK);
	CU_ASSERT_EQUAL(z.size, 100000);
	fd = unzip(&f, z.fd, z.size, &len);
	CU_ASSERT_EQUAL(len, 100000);
	close(fd);
	close(z.fd);

	/* A torn compressed object. */
	damage(f.data, "zobjects", other, NULL, 3);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(f.d, other, &z, NULL), PD_OK);
	fd = unzip(&f, z.fd, z.size, &len);
	CU_ASSERT_EQUAL(len, 100000);
	close(fd);
	close(z.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 2);
	CU_ASSERT_EQUAL(st.zobj_made, 3);
	pd_free(body);
	fix_close(&f);
}

static void
test_put_delta(void)
{
	static unsigned char a[MIB], b[MIB];
	struct fix f;
	struct nd_delta dl;
	struct nd_dcache_stats st;
	unsigned char from[PD_SHA256_LEN], to[PD_SHA256_LEN];
	uint64_t plen, len;
	ssize_t na, nb;
	int ffd, tfd, pfd, fd;

	fix_open(&f);
	pair(&f, MIB, from, to);
	CU_ASSERT_EQUAL_FATAL(cat_obj_open(f.c, from, &ffd, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_obj_open(f.c, to, &tfd, NULL), PD_OK);
	pfd = tmp_fd(f.tmp);
	/* Read from the current offset: the prefix is not part of it. */
	CU_ASSERT_FATAL(pd_write_all(pfd, "prefix", 6) == PD_OK);
	CU_ASSERT_EQUAL_FATAL(dl_delta(ffd, tfd, pfd, &plen, NULL), PD_OK);
	close(ffd);
	close(tfd);
	CU_ASSERT_FATAL(lseek(pfd, 6, SEEK_SET) == 6);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_put_delta(f.d, from, to, pfd, NULL),
	    PD_OK);

	/* Served as it came, byte for byte, without computing anything. */
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(dl.kind, ND_DELTA_DELTA);
	CU_ASSERT_EQUAL(dl.size, plen);
	fd = unzip(&f, dl.fd, 1ULL << 32, &len);
	CU_ASSERT_EQUAL(len, plen);
	CU_ASSERT_FATAL(lseek(pfd, 6, SEEK_SET) == 6);
	na = pd_read_full(pfd, a, sizeof(a));
	nb = pd_read_full(fd, b, sizeof(b));
	CU_ASSERT(na == (ssize_t)plen && nb == na &&
	    memcmp(a, b, (size_t)na) == 0);
	check_delta(&f, &dl, from, to, MIB);
	close(fd);
	close(dl.fd);
	close(pfd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made + st.zobj_made + st.wholes, 0);
	CU_ASSERT_EQUAL(st.hits, 1);

	/* A put replaces what was computed. */
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, to, from, &dl, NULL),
	    PD_OK);
	close(dl.fd);
	pfd = tmp_fd(f.tmp);
	CU_ASSERT_EQUAL_FATAL(cat_obj_open(f.c, to, &ffd, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_obj_open(f.c, from, &tfd, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(dl_delta(ffd, tfd, pfd, &plen, NULL), PD_OK);
	close(ffd);
	close(tfd);
	CU_ASSERT_FATAL(pd_write_all(pfd, "", 0) == PD_OK);
	CU_ASSERT_FATAL(lseek(pfd, 0, SEEK_SET) == 0);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_put_delta(f.d, to, from, pfd, NULL),
	    PD_OK);
	close(pfd);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, to, from, &dl, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(dl.size, plen);
	check_delta(&f, &dl, to, from, MIB);
	close(dl.fd);
	fix_close(&f);
}

static void
test_stale_tmp(void)
{
	struct fix f;
	char path[4096], mine[4096], rel[64];
	struct stat st;

	fix_open(&f);
	nd_dcache_free(f.d);
	/* pid_max is at most 2^22: this process cannot exist. */
	unit_write(f.data, "deltas/tmp/99999999.1", "x", 1);
	unit_write(f.data, "zobjects/tmp/99999999.2", "x", 1);
	unit_write(f.data, "zobjects/tmp/x", "x", 1);
	snprintf(rel, sizeof(rel), "zobjects/tmp/%ld.77", (long)getpid());
	unit_write(f.data, rel, "x", 1);
	unit_pjoin(mine, sizeof(mine), f.data, rel);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_new(f.c, &f.d, NULL), PD_OK);
	unit_pjoin(path, sizeof(path), f.data, "deltas/tmp/99999999.1");
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	unit_pjoin(path, sizeof(path), f.data, "zobjects/tmp/99999999.2");
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	/* A live writer's file and a name not of ours stay. */
	CU_ASSERT_EQUAL(stat(mine, &st), 0);
	unit_pjoin(path, sizeof(path), f.data, "zobjects/tmp/x");
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	unit_pjoin(path, sizeof(path), f.data, "deltas/ff");
	CU_ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	fix_close(&f);
}

static long
status_kib(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *fp;

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(fp);
	return v;
}

/*
 * 64 MiB, sparse but with a distinct mark every 64 KiB so that no two
 * blocks are alike, and 32 scattered edits: the delta is small and
 * making it (with the compressed new object) grows peak RSS by far less
 * than the file.
 */
static void
test_large(void)
{
	const off_t size = 64 * MIB;
	struct fix f;
	struct nd_delta dl;
	struct nd_dcache_stats st;
	unsigned char from[PD_SHA256_LEN], to[PD_SHA256_LEN];
	uint64_t seed = 5, off;
	char mark[32];
	long base, peak;
	int a, b, i, fd;

	fix_open(&f);
	a = tmp_fd(f.tmp);
	b = tmp_fd(f.tmp);
	CU_ASSERT_FATAL(ftruncate(a, size) == 0);
	CU_ASSERT_FATAL(ftruncate(b, size) == 0);
	for (off = 0; off < (uint64_t)size; off += 65536) {
		snprintf(mark, sizeof(mark), "%016jx", (uintmax_t)off);
		CU_ASSERT_FATAL(pwrite(a, mark, 16, (off_t)off) == 16);
		CU_ASSERT_FATAL(pwrite(b, mark, 16, (off_t)off) == 16);
	}
	for (i = 0; i < 32; i++) {
		off = rnd(&seed) % (uint64_t)size;
		CU_ASSERT_FATAL(pwrite(b, "edit", 4, (off_t)off) == 4);
	}
	put_obj_fd(f.c, a, from, true);
	put_obj_fd(f.c, b, to, true);
	close(a);
	close(b);

	malloc_trim(0);
	if ((fd = open("/proc/self/clear_refs", O_WRONLY)) < 0 ||
	    write(fd, "5", 1) != 1) {
		CU_FAIL("cannot reset VmHWM through /proc/self/clear_refs");
		if (fd >= 0)
			close(fd);
		fix_close(&f);
		return;
	}
	close(fd);
	base = status_kib("VmRSS");
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(f.d, from, to, &dl, NULL),
	    PD_OK);
	peak = status_kib("VmHWM");
	CU_ASSERT(base > 0 && peak > 0);
	CU_ASSERT(peak - base < 48 * 1024);
	if (getenv("DCACHE_VERBOSE") != NULL)
		fprintf(stderr, "\n64 MiB: delta %ju bytes (%ju compressed), "
		    "peak RSS grew %ld KiB\n", (uintmax_t)dl.size,
		    (uintmax_t)dl.zsize, peak - base);
	CU_ASSERT(dl.zsize < MIB);
	check_delta(&f, &dl, from, to, (uint64_t)size);
	close(dl.fd);
	nd_dcache_stats(f.d, &st);
	CU_ASSERT_EQUAL(st.deltas_made, 1);
	fix_close(&f);
}

static int
suite_dcache(void)
{
	static const struct unit_test tests[] = {
		{ "compressed object", test_zobj },
		{ "delta round trip", test_delta },
		{ "whole when not worth it", test_whole },
		{ "objects not held", test_notfound },
		{ "single flight, 8 threads", test_single_flight },
		{ "damaged files recomputed", test_recompute },
		{ "delta put from upstream", test_put_delta },
		{ "stale temp files", test_stale_tmp },
		{ "64 MiB in bounded memory", test_large },
	};

	return UNIT_SUITE("dcache", NULL, NULL, tests);
}
UNIT_REGISTER("dcache", suite_dcache)
