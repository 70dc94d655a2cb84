/*
 * librsync deltas and patches (delta/delta.h) and zstd streams
 * (delta/zstd.h).
 *
 * Round trips for the shapes that matter (same, empty, appended, a few
 * scattered edits, all different); interoperation with Debian's rdiff
 * both ways; hostile deltas (copies past the basis, truncation, garbage,
 * output over the cap); hostile zstd streams (truncated, too large, a
 * window over the cap); and a bound on the memory a 256 MiB patch needs.
 *
 * Uses /usr/bin/rdiff and /usr/bin/zstd (contrib/install-deps).
 * DELTA_SIZES=1 in the environment prints the 256 MiB delta's size and
 * the growth of peak RSS.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "../../common/buf.h"
#include "../../common/fsx.h"
#include "../../common/mem.h"
#include "../../delta/delta.h"
#include "../../delta/zstd.h"
#include "unit.h"

#define RDIFF		"/usr/bin/rdiff"
#define MIB		(1024 * 1024)
#define OP_END		0x00
#define OP_LITERAL_N1	0x41
#define OP_COPY_N1_N1	0x45
#define OP_COPY_N8_N8	0x54

extern char **environ;

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

static int
open_in(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	unit_pjoin(path, sizeof(path), dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

static int
open_out(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	unit_pjoin(path, sizeof(path), dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

static uint64_t
file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	unit_pjoin(path, sizeof(path), dir, name);
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	return (uint64_t)st.st_size;
}

/* Whether two files hold the same bytes. */
static bool
same_files(const char *dir, const char *a, const char *b)
{
	static unsigned char x[MIB], y[MIB];
	int fa = open_in(dir, a), fb = open_in(dir, b);
	ssize_t na, nb;
	bool same = true;

	do {
		na = pd_read_full(fa, x, sizeof(x));
		nb = pd_read_full(fb, y, sizeof(y));
		if (na != nb || na < 0 || memcmp(x, y, (size_t)na) != 0)
			same = false;
	} while (same && na == (ssize_t)sizeof(x));
	close(fa);
	close(fb);
	return same;
}

/* dl_delta of dir/basis and dir/new into dir/delta. */
static enum pd_err
make_delta(const char *dir, uint64_t *dlen, struct pd_error *err)
{
	int b = open_in(dir, "basis"), n = open_in(dir, "new");
	int d = open_out(dir, "delta");
	enum pd_err rc;

	rc = dl_delta(b, n, d, dlen, err);
	close(b);
	close(n);
	close(d);
	return rc;
}

/* dl_patch of dir/basis with dir/DELTA into dir/out. */
static enum pd_err
apply(const char *dir, const char *delta, uint64_t basis_size,
    uint64_t max_out, uint64_t *olen, struct pd_error *err)
{
	int b = open_in(dir, "basis"), d = open_in(dir, delta);
	int o = open_out(dir, "out");
	enum pd_err rc;

	rc = dl_patch(b, basis_size, d, o, max_out, olen, err);
	close(b);
	close(d);
	close(o);
	return rc;
}

/*
 * Delta and patch basis -> new in a fresh directory; the result must be
 * new.  Returns the delta's size.
 */
static uint64_t
round_trip(const void *basis, size_t bn, const void *nw, size_t nn)
{
	char *dir = unit_tmpdir();
	struct pd_error err;
	uint64_t dlen = 0, olen = 0;

	unit_write(dir, "basis", basis, bn);
	unit_write(dir, "new", nw, nn);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(make_delta(dir, &dlen, &err), PD_OK);
	CU_ASSERT_EQUAL(dlen, file_size(dir, "delta"));
	CU_ASSERT_EQUAL(apply(dir, "delta", bn, nn, &olen, &err), PD_OK);
	CU_ASSERT_EQUAL(olen, nn);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	unit_rmdir(dir);
	return dlen;
}

static void
test_round_trips(void)
{
	size_t n = 300000, i;
	unsigned char *a = gen(n + 5000, 1), *b = gen(n, 2), *c;
	uint64_t dlen;

	/* Identical: a few copy commands. */
	dlen = round_trip(a, n, a, n);
	CU_ASSERT(dlen < 100);
	/* Empty basis: all literal. */
	dlen = round_trip("", 0, a, n);
	CU_ASSERT(dlen > n && dlen < n + n / 100);
	/* Empty new file: magic and END. */
	CU_ASSERT_EQUAL(round_trip(a, n, "", 0), 5);
	CU_ASSERT_EQUAL(round_trip("", 0, "", 0), 5);
	/* Appended. */
	dlen = round_trip(a, n, a, n + 5000);
	/* The short last block of the basis matches only at the end. */
	CU_ASSERT(dlen > 5000 && dlen < 5000 + 512 + 100);
	/* Completely different. */
	dlen = round_trip(a, n, b, n);
	CU_ASSERT(dlen > n);
	/* Shorter, and a basis not a multiple of the block length. */
	round_trip(a, n - 777, a + 1000, n - 3000);
	/* Tiny files. */
	round_trip("x", 1, "y", 1);
	round_trip("abc", 3, "abcabc", 6);
	/* Every byte changed in place, one in each 1000. */
	c = pd_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memcpy(c, a, n);
	for (i = 0; i < n; i += 1000)
		c[i] ^= 0x5a;
	round_trip(a, n, c, n);
	pd_free(a);
	pd_free(b);
	pd_free(c);
}

static void
test_scattered_edits(void)
{
	size_t n = 8 * MIB, i, off;
	unsigned char *a = gen(n, 3), *b = pd_malloc(n + 4096);
	uint64_t seed = 99, dlen;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, a, n);
	/* 20 small edits: overwrite, and an insertion near the middle. */
	for (i = 0; i < 20; i++) {
		off = (size_t)(rnd(&seed) % (n - 64));
		memset(b + off, (int)i, 1 + i);
	}
	memmove(b + n / 2 + 100, b + n / 2, n / 2);
	memset(b + n / 2, 'I', 100);
	dlen = round_trip(a, n, b, n + 100);
	CU_ASSERT(dlen < (n + 100) / 20);
	/* In fact about one block of literal per edit. */
	CU_ASSERT(dlen < 22 * 3000 + 4096);
	pd_free(a);
	pd_free(b);
}

/* Run argv (argv[0] a path); its exit status, or -1. */
static int
run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	CU_ASSERT_FATAL(posix_spawn_file_actions_init(&fa) == 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	return unit_child_status(pid);
}

static void
path_in(char *out, const char *dir, const char *name)
{
	unit_pjoin(out, 4096, dir, name);
}

static void
test_rdiff(void)
{
	char *dir = unit_tmpdir();
	char basis[4096], nw[4096], delta[4096], sig[4096], out[4096];
	char rdelta[4096];
	size_t n = 500000;
	unsigned char *a = gen(n, 5), *b = gen(n, 5);
	struct pd_error err;
	uint64_t dlen, olen, slen;
	int sfd, nfd, dfd, bfd;

	if (access(RDIFF, X_OK) != 0) {
		CU_FAIL("rdiff is not installed (contrib/install-deps)");
		goto out;
	}
	memcpy(b + 1000, "changed", 7);
	memcpy(b + 300000, b + 100, 2000);
	unit_write(dir, "basis", a, n);
	unit_write(dir, "new", b, n);
	path_in(basis, dir, "basis");
	path_in(nw, dir, "new");
	path_in(delta, dir, "delta");
	path_in(sig, dir, "sig");
	path_in(out, dir, "out");
	path_in(rdelta, dir, "rdelta");

	/* Ours, applied by rdiff. */
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(make_delta(dir, &dlen, &err), PD_OK);
	CU_ASSERT_EQUAL(run((char *[]){ RDIFF, "patch", basis, delta, out,
	    NULL }), 0);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));

	/* rdiff's, applied by us. */
	CU_ASSERT_EQUAL(run((char *[]){ RDIFF, "signature", basis, sig,
	    NULL }), 0);
	CU_ASSERT_EQUAL(run((char *[]){ RDIFF, "-f", "delta", sig, nw,
	    rdelta, NULL }), 0);
	CU_ASSERT_EQUAL(apply(dir, "rdelta", n, n, &olen, &err), PD_OK);
	CU_ASSERT_EQUAL(olen, n);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));

	/* rdiff's signature, our delta from it. */
	sfd = open_in(dir, "sig");
	nfd = open_in(dir, "new");
	dfd = open_out(dir, "delta2");
	CU_ASSERT_EQUAL(dl_delta_sig(sfd, nfd, dfd, &dlen, &err), PD_OK);
	close(sfd);
	close(nfd);
	close(dfd);
	CU_ASSERT_EQUAL(apply(dir, "delta2", n, n, &olen, &err), PD_OK);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));

	/* Our signature, rdiff's delta from it. */
	bfd = open_in(dir, "basis");
	sfd = open_out(dir, "sig");
	CU_ASSERT_EQUAL(dl_sig(bfd, sfd, &slen, &err), PD_OK);
	CU_ASSERT_EQUAL(slen, file_size(dir, "sig"));
	close(bfd);
	close(sfd);
	CU_ASSERT_EQUAL(run((char *[]){ RDIFF, "-f", "delta", sig, nw,
	    rdelta, NULL }), 0);
	CU_ASSERT_EQUAL(apply(dir, "rdelta", n, n, &olen, &err), PD_OK);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	CU_ASSERT_EQUAL(err.code, PD_OK);
out:
	pd_free(a);
	pd_free(b);
	unit_rmdir(dir);
}

/* dl_sig then dl_delta_sig gives the same bytes as dl_delta. */
static void
test_sig_two_steps(void)
{
	char *dir = unit_tmpdir();
	size_t n = 200000;
	unsigned char *a = gen(n, 6), *b = gen(n + 10, 6);
	struct pd_error err;
	uint64_t slen, dlen, d2len;
	int bfd, sfd, nfd, dfd;

	unit_write(dir, "basis", a, n);
	unit_write(dir, "new", b, n + 10);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(make_delta(dir, &dlen, &err), PD_OK);
	bfd = open_in(dir, "basis");
	sfd = open_out(dir, "sig");
	CU_ASSERT_EQUAL(dl_sig(bfd, sfd, &slen, &err), PD_OK);
	/* 12 bytes of header, then 4 + 32 per block of sqrt(n) & ~127. */
	CU_ASSERT_EQUAL(slen, 12 + 36 * ((n + 383) / 384));
	close(bfd);
	CU_ASSERT_EQUAL(lseek(sfd, 0, SEEK_SET), 0);
	nfd = open_in(dir, "new");
	dfd = open_out(dir, "delta2");
	CU_ASSERT_EQUAL(dl_delta_sig(sfd, nfd, dfd, &d2len, &err), PD_OK);
	CU_ASSERT_EQUAL(d2len, dlen);
	close(sfd);
	close(nfd);
	close(dfd);
	CU_ASSERT_TRUE(same_files(dir, "delta", "delta2"));

	/* A file that is not a signature; a truncated signature. */
	unit_write(dir, "junk", "rs\x02\x36junk", 8);
	sfd = open_in(dir, "junk");
	nfd = open_in(dir, "new");
	dfd = open_out(dir, "delta2");
	CU_ASSERT_EQUAL(dl_delta_sig(sfd, nfd, dfd, NULL, &err),
	    PD_ERR_CORRUPT);
	close(sfd);
	unit_write(dir, "short", "rs\x01G\0\0\x01", 7);
	sfd = open_in(dir, "short");
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(dl_delta_sig(sfd, nfd, dfd, NULL, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "signature"));
	close(sfd);
	close(nfd);
	close(dfd);
	pd_free(a);
	pd_free(b);
	unit_rmdir(dir);
}

/* Append a big-endian number of w bytes. */
static void
put(unsigned char *p, size_t *len, uint64_t v, int w)
{
	int i;

	for (i = w - 1; i >= 0; i--)
		p[(*len)++] = (unsigned char)(v >> (8 * i));
}

/* Apply the delta bytes p[0..n) to dir/basis (basis_size) into dir/out. */
static enum pd_err
apply_bytes(const char *dir, const void *p, size_t n, uint64_t basis_size,
    uint64_t max_out, struct pd_error *err)
{
	pd_error_clear(err);
	unit_write(dir, "hand", p, n);
	return apply(dir, "hand", basis_size, max_out, NULL, err);
}

static void
test_hostile_copy(void)
{
	char *dir = unit_tmpdir();
	unsigned char d[64];
	size_t n = 65536, len;
	unsigned char *a = gen(n, 7);
	struct pd_error err;
	uint64_t olen;
	int bfd, ofd;

	/* A valid delta against a 64 KiB basis, applied to half of it. */
	unit_write(dir, "basis", a, n);
	a[100] ^= 1;
	unit_write(dir, "new", a, n);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(make_delta(dir, NULL, &err), PD_OK);
	CU_ASSERT_EQUAL(apply(dir, "delta", n, n, &olen, &err), PD_OK);
	CU_ASSERT_EQUAL(apply(dir, "delta", n / 2, n, NULL, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "past the end of the basis"));
	/* The basis file shorter than the size the caller was promised. */
	unit_write(dir, "basis", a, n / 2);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(apply(dir, "delta", n, n, NULL, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "basis"));

	/* By hand: COPY(10, 20) from a basis of 16 bytes. */
	unit_write(dir, "basis", "0123456789abcdef", 16);
	len = 0;
	put(d, &len, 0x72730236, 4);
	put(d, &len, OP_COPY_N1_N1, 1);
	put(d, &len, 10, 1);
	put(d, &len, 20, 1);
	put(d, &len, OP_END, 1);
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 100, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "past the end of the basis"));
	/* COPY(10, 6) is fine: it ends at the end. */
	d[6] = 6;
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 100, &err), PD_OK);
	CU_ASSERT_EQUAL(file_size(dir, "out"), 6);
	/* COPY(16, 1) is not. */
	d[5] = 16;
	d[6] = 1;
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 100, &err),
	    PD_ERR_CORRUPT);
	/* Positions near 2^63 and lengths that overflow the sum. */
	len = 0;
	put(d, &len, 0x72730236, 4);
	put(d, &len, OP_COPY_N8_N8, 1);
	put(d, &len, INT64_MAX - 2, 8);
	put(d, &len, 16, 8);
	put(d, &len, OP_END, 1);
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 100, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "basis"));
	len = 0;
	put(d, &len, 0x72730236, 4);
	put(d, &len, OP_COPY_N8_N8, 1);
	put(d, &len, 8, 8);
	put(d, &len, INT64_MAX, 8);
	put(d, &len, OP_END, 1);
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, UINT64_MAX, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "past the end of the basis"));
	/* A negative position (librsync refuses it itself). */
	d[5] = 0x80;
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 100, &err),
	    PD_ERR_CORRUPT);
	/* Through the push patcher, and poisoned after. */
	bfd = open_in(dir, "basis");
	ofd = open_out(dir, "out");
	{
		struct dl_patcher *p;

		d[5] = 0;
		pd_error_clear(&err);
		CU_ASSERT_EQUAL_FATAL(dl_patcher_new(bfd, 16, ofd, 100, &p,
		    &err), PD_OK);
		CU_ASSERT_EQUAL(dl_patcher_feed(p, d, len, &err),
		    PD_ERR_CORRUPT);
		CU_ASSERT_EQUAL(dl_patcher_feed(p, d, 1, NULL),
		    PD_ERR_CORRUPT);
		CU_ASSERT_EQUAL(dl_patcher_finish(p, NULL, NULL),
		    PD_ERR_CORRUPT);
		dl_patcher_free(p);
	}
	close(bfd);
	close(ofd);
	pd_free(a);
	unit_rmdir(dir);
}

static void
test_hostile_bytes(void)
{
	char *dir = unit_tmpdir();
	unsigned char d[64], *g = gen(4096, 8), *nw, *full;
	size_t len, i, n;
	struct pd_error err;
	struct pd_buf b;

	unit_write(dir, "basis", "0123456789abcdef", 16);
	/* Garbage, an empty delta, a signature's magic. */
	CU_ASSERT_EQUAL(apply_bytes(dir, g, 4096, 16, 1 << 20, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(apply_bytes(dir, "", 0, 16, 100, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(apply_bytes(dir, "rs\x01G\0", 5, 16, 100, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "magic"));
	/* A reserved command byte; a literal of length 0. */
	CU_ASSERT_EQUAL(apply_bytes(dir, "rs\x02\x36\x55", 5, 16, 100, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(apply_bytes(dir, "rs\x02\x36\x41\0\0", 7, 16, 100,
	    &err), PD_ERR_CORRUPT);
	/* librsync's own words reach the error text. */
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "on LITERAL command"));
	/* Bytes after the END command. */
	CU_ASSERT_EQUAL(apply_bytes(dir, "rs\x02\x36\x02hi\0x", 9, 16, 100,
	    &err), PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(apply_bytes(dir, "rs\x02\x36\x02hi\0", 8, 16, 100,
	    &err), PD_OK);

	/* Output over max_out, by literal and by copy. */
	len = 0;
	put(d, &len, 0x72730236, 4);
	put(d, &len, OP_LITERAL_N1, 1);
	put(d, &len, 20, 1);
	memset(d + len, 'L', 20);
	len += 20;
	put(d, &len, OP_COPY_N1_N1, 1);
	put(d, &len, 0, 1);
	put(d, &len, 16, 1);
	put(d, &len, OP_END, 1);
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 36, &err), PD_OK);
	CU_ASSERT_EQUAL(file_size(dir, "out"), 36);
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 35, &err), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 19, &err), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(file_size(dir, "out"), 0);
	CU_ASSERT_EQUAL(apply_bytes(dir, d, len, 16, 0, &err), PD_ERR_LIMIT);

	/* Every proper prefix of a real delta is refused. */
	n = 6000;
	unit_write(dir, "basis", g, 4096);
	nw = gen(n, 9);
	memcpy(nw + 1000, g, 4096);
	unit_write(dir, "new", nw, n);
	CU_ASSERT_EQUAL_FATAL(make_delta(dir, NULL, &err), PD_OK);
	pd_buf_init(&b, 1 << 20);
	{
		char path[4096];

		unit_pjoin(path, sizeof(path), dir, "delta");
		CU_ASSERT_EQUAL_FATAL(pd_read_file(path, 1 << 20, &b, NULL),
		    PD_OK);
	}
	full = b.data;
	CU_ASSERT_EQUAL(apply_bytes(dir, full, b.len, 4096, n, &err), PD_OK);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	for (i = 0; i < b.len; i++) {
		CU_ASSERT_EQUAL(apply_bytes(dir, full, i, 4096, n, &err),
		    PD_ERR_CORRUPT);
		if (err.code != PD_ERR_CORRUPT)
			break;
	}
	pd_buf_free(&b);
	pd_free(nw);
	pd_free(g);
	unit_rmdir(dir);
}

/* Feed delta bytes to a patcher in pieces of random sizes up to max. */
static enum pd_err
push(const char *dir, const unsigned char *p, size_t n, size_t max,
    uint64_t basis_size, uint64_t max_out, struct pd_error *err)
{
	struct dl_patcher *pt = NULL;
	uint64_t seed = max, olen = 0;
	size_t k;
	int bfd = open_in(dir, "basis"), ofd = open_out(dir, "out");
	enum pd_err rc;

	if ((rc = dl_patcher_new(bfd, basis_size, ofd, max_out, &pt,
	    err)) != PD_OK)
		goto out;
	while (n > 0) {
		k = max == 1 ? 1 : 1 + (size_t)(rnd(&seed) % max);
		if (k > n)
			k = n;
		if ((rc = dl_patcher_feed(pt, p, k, err)) != PD_OK)
			goto out;
		if ((rc = dl_patcher_feed(pt, p, 0, err)) != PD_OK)
			goto out;
		p += k;
		n -= k;
	}
	if ((rc = dl_patcher_finish(pt, &olen, err)) == PD_OK)
		CU_ASSERT_EQUAL(olen, max_out);
out:
	dl_patcher_free(pt);
	close(bfd);
	close(ofd);
	return rc;
}

struct chain {
	struct dl_patcher	*p;
	struct pd_error		*err;
};

static enum pd_err
to_patcher(void *arg, const void *p, size_t n)
{
	struct chain *c = arg;

	return dl_patcher_feed(c->p, p, n, c->err);
}

static enum pd_err
to_buf(void *arg, const void *p, size_t n)
{
	return pd_buf_add(arg, p, n);
}

static void
test_push(void)
{
	char *dir = unit_tmpdir(), path[4096];
	size_t n = 400000;
	unsigned char *a = gen(n, 10), *b = gen(n, 10);
	static const size_t maxes[] = { 1, 2, 3, 17, 1000, 70000, 1 << 20 };
	struct pd_error err;
	struct pd_buf d, z;
	struct dl_zenc *enc;
	struct dl_zdec *dec;
	struct chain c;
	size_t i;
	uint64_t olen;
	int bfd, ofd;

	for (i = 0; i < n; i += 40000)
		memset(b + i, 'e', 10);
	memcpy(b + 200000, "fresh literal bytes here", 24);
	unit_write(dir, "basis", a, n);
	unit_write(dir, "new", b, n);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(make_delta(dir, NULL, &err), PD_OK);
	pd_buf_init(&d, 4 << 20);
	unit_pjoin(path, sizeof(path), dir, "delta");
	CU_ASSERT_EQUAL_FATAL(pd_read_file(path, 4 << 20, &d, NULL), PD_OK);
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		CU_ASSERT_EQUAL(push(dir, d.data, d.len, maxes[i], n, n, &err),
		    PD_OK);
		CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	}
	/* Truncated and capped through the push patcher too. */
	CU_ASSERT_EQUAL(push(dir, d.data, d.len - 1, 1, n, n, &err),
	    PD_ERR_CORRUPT);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(push(dir, d.data, d.len, 1, n, n - 1, &err),
	    PD_ERR_LIMIT);

	/* A zstd-compressed delta, decompressed straight into a patcher. */
	pd_error_clear(&err);
	pd_buf_init(&z, 4 << 20);
	CU_ASSERT_EQUAL_FATAL(dl_zenc_new(DL_ZLEVEL_DEFAULT, false, &enc,
	    &err), PD_OK);
	CU_ASSERT_EQUAL(dl_zenc_feed(enc, d.data, d.len, to_buf, &z, &err),
	    PD_OK);
	CU_ASSERT_EQUAL(dl_zenc_finish(enc, to_buf, &z, &err), PD_OK);
	dl_zenc_free(enc);
	bfd = open_in(dir, "basis");
	ofd = open_out(dir, "out");
	CU_ASSERT_EQUAL_FATAL(dl_patcher_new(bfd, n, ofd, n, &c.p, &err),
	    PD_OK);
	c.err = &err;
	CU_ASSERT_EQUAL_FATAL(dl_zdec_new(d.len, &dec, &err), PD_OK);
	for (i = 0; i < z.len; i += 1000)
		CU_ASSERT_EQUAL(dl_zdec_feed(dec, z.data + i, z.len - i < 1000 ?
		    z.len - i : 1000, to_patcher, &c, &err), PD_OK);
	CU_ASSERT_EQUAL(dl_zdec_finish(dec, &olen, &err), PD_OK);
	CU_ASSERT_EQUAL(olen, d.len);
	CU_ASSERT_EQUAL(dl_patcher_finish(c.p, &olen, &err), PD_OK);
	CU_ASSERT_EQUAL(olen, n);
	CU_ASSERT_EQUAL(err.code, PD_OK);
	dl_zdec_free(dec);
	dl_patcher_free(c.p);
	close(bfd);
	close(ofd);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	pd_buf_free(&z);
	pd_buf_free(&d);
	pd_free(a);
	pd_free(b);
	unit_rmdir(dir);
}

/* Which operation test_nomem runs. */
enum op { OP_DELTA, OP_SIG, OP_DELTA_SIG, OP_PATCH, OP_ZC, OP_ZD };

/* Run op with the k-th allocation from now failing. */
static enum pd_err
one_op(const char *dir, enum op op, uint64_t k, struct pd_error *err)
{
	const char *in1 = op == OP_DELTA_SIG ? "sig" : op == OP_PATCH ?
	    "delta" : op == OP_ZD ? "new.zst" : "basis";
	int a = open_in(dir, in1);
	int b = open_in(dir, op == OP_PATCH ? "basis" : "new");
	int o = open_out(dir, "out");
	enum pd_err rc = PD_ERR_USAGE;

	pd_error_clear(err);
	pd_mem_fail_at(pd_mem_allocations() + k);
	switch (op) {
	case OP_DELTA:
		rc = dl_delta(a, b, o, NULL, err);
		break;
	case OP_SIG:
		rc = dl_sig(a, o, NULL, err);
		break;
	case OP_DELTA_SIG:
		rc = dl_delta_sig(a, b, o, NULL, err);
		break;
	case OP_PATCH:
		rc = dl_patch(b, 4096, a, o, 5000, NULL, err);
		break;
	case OP_ZC:
		rc = dl_zcompress_fd(b, o, 3, NULL, NULL, err);
		break;
	case OP_ZD:
		rc = dl_zdecompress_fd(a, o, 1 << 20, NULL, err);
		break;
	}
	pd_mem_fail_at(0);
	close(a);
	close(b);
	close(o);
	return rc;
}

/*
 * Every allocation of ours that can fail, failing in turn: PD_ERR_NOMEM
 * and nothing leaked (the ASan build checks leaks), until none is left
 * to fail and the operation succeeds.
 */
static void
test_nomem(void)
{
	char *dir = unit_tmpdir();
	unsigned char *a = gen(4096, 14), *b = gen(5000, 14);
	struct pd_error err;
	enum pd_err rc;
	uint64_t k;
	int op, in, fd;

	unit_write(dir, "basis", a, 4096);
	unit_write(dir, "new", b, 5000);
	in = open_in(dir, "basis");
	fd = open_out(dir, "sig");
	CU_ASSERT_EQUAL(dl_sig(in, fd, NULL, NULL), PD_OK);
	close(in);
	close(fd);
	CU_ASSERT_EQUAL(make_delta(dir, NULL, NULL), PD_OK);
	in = open_in(dir, "new");
	fd = open_out(dir, "new.zst");
	CU_ASSERT_EQUAL(dl_zcompress_fd(in, fd, 3, NULL, NULL, NULL), PD_OK);
	close(in);
	close(fd);
	for (op = OP_DELTA; op <= OP_ZD; op++) {
		for (k = 1; k < 100; k++) {
			rc = one_op(dir, (enum op)op, k, &err);
			if (rc == PD_OK)
				break;
			CU_ASSERT_EQUAL(rc, PD_ERR_NOMEM);
			CU_ASSERT_EQUAL(err.code, PD_ERR_NOMEM);
		}
		CU_ASSERT(k > 1 && k < 100);
	}
	pd_free(a);
	pd_free(b);
	unit_rmdir(dir);
}

/* A field of /proc/self/status in KiB, or -1. */
static long
status_kib(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/*
 * A 256 MiB basis and new file, sparse but with a distinct mark in every
 * 64 KiB so that no two blocks are alike, and scattered edits: the peak
 * resident memory of delta plus patch must grow by less than 64 MiB.
 */
static void
test_memory_bound(void)
{
	const off_t size = 256 * MIB;
	char *dir = unit_tmpdir();
	uint64_t seed = 11, dlen, olen, off;
	long base, peak;
	struct pd_error err;
	char mark[32];
	int bfd, nfd, fd, i;

	bfd = open_out(dir, "basis");
	nfd = open_out(dir, "new");
	CU_ASSERT_FATAL(ftruncate(bfd, size) == 0);
	CU_ASSERT_FATAL(ftruncate(nfd, size + 1000) == 0);
	for (off = 0; off < (uint64_t)size; off += 65536) {
		snprintf(mark, sizeof(mark), "%016jx", (uintmax_t)off);
		CU_ASSERT_FATAL(pwrite(bfd, mark, 16, (off_t)off) == 16);
		CU_ASSERT_FATAL(pwrite(nfd, mark, 16, (off_t)off) == 16);
	}
	for (i = 0; i < 32; i++) {
		off = rnd(&seed) % (uint64_t)size;
		CU_ASSERT_FATAL(pwrite(nfd, "edit", 4, (off_t)off) == 4);
	}
	CU_ASSERT_FATAL(pwrite(nfd, "tail", 4, size + 996) == 4);
	close(bfd);
	close(nfd);

	/*
	 * Hand the memory earlier tests freed back to the kernel, so that
	 * reusing it shows as growth, then start the high-water mark from
	 * here (clear_refs 5: Linux 4.0 and later).
	 */
	malloc_trim(0);
	if ((fd = open("/proc/self/clear_refs", O_WRONLY)) < 0 ||
	    write(fd, "5", 1) != 1) {
		CU_FAIL("cannot reset VmHWM through /proc/self/clear_refs");
		if (fd >= 0)
			close(fd);
		unit_rmdir(dir);
		return;
	}
	close(fd);
	base = status_kib("VmRSS");
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(make_delta(dir, &dlen, &err), PD_OK);
	CU_ASSERT_EQUAL(apply(dir, "delta", size, size + 1000, &olen, &err),
	    PD_OK);
	peak = status_kib("VmHWM");
	CU_ASSERT(base > 0 && peak > 0);
	CU_ASSERT(peak - base < 64 * 1024);
	if (getenv("DELTA_SIZES") != NULL)
		fprintf(stderr, "\n256 MiB: delta %ju bytes, peak RSS grew "
		    "%ld KiB\n", (uintmax_t)dlen, peak - base);
	CU_ASSERT(dlen < 1 * MIB);
	CU_ASSERT_EQUAL(olen, (uint64_t)size + 1000);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	unit_rmdir(dir);
}

static int
suite_delta(void)
{
	static const struct unit_test tests[] = {
		{ "round trips", test_round_trips },
		{ "scattered edits in 8 MiB", test_scattered_edits },
		{ "rdiff both ways", test_rdiff },
		{ "signature then delta", test_sig_two_steps },
		{ "copies past the basis", test_hostile_copy },
		{ "garbage, truncation, caps", test_hostile_bytes },
		{ "push patcher chunking", test_push },
		{ "allocation failures", test_nomem },
		{ "memory bound, 256 MiB", test_memory_bound },
	};

	return UNIT_SUITE("delta", NULL, NULL, tests);
}
UNIT_REGISTER("delta", suite_delta)

/* zstd */

/* Compress p[0..n) in pieces of at most max into out. */
static void
zcompress(struct pd_buf *out, const unsigned char *p, size_t n, size_t max,
    int level, bool lng)
{
	struct dl_zenc *z;
	struct pd_error err;
	size_t k;

	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(dl_zenc_new(level, lng, &z, &err), PD_OK);
	for (; n > 0; p += k, n -= k) {
		k = n < max ? n : max;
		CU_ASSERT_EQUAL_FATAL(dl_zenc_feed(z, p, k, to_buf, out, &err),
		    PD_OK);
	}
	CU_ASSERT_EQUAL_FATAL(dl_zenc_finish(z, to_buf, out, &err), PD_OK);
	dl_zenc_free(z);
}

/* Decompress p[0..n) in pieces of at most max into out; finish's code. */
static enum pd_err
zdecompress(struct pd_buf *out, const unsigned char *p, size_t n,
    size_t max, uint64_t max_out, struct pd_error *err)
{
	struct dl_zdec *z;
	uint64_t olen = 0;
	size_t k;
	enum pd_err rc;

	pd_error_clear(err);
	CU_ASSERT_EQUAL_FATAL(dl_zdec_new(max_out, &z, err), PD_OK);
	for (; n > 0; p += k, n -= k) {
		k = n < max ? n : max;
		if ((rc = dl_zdec_feed(z, p, k, to_buf, out, err)) != PD_OK)
			goto out;
	}
	if ((rc = dl_zdec_finish(z, &olen, err)) == PD_OK)
		CU_ASSERT_EQUAL(olen, out->len);
out:
	dl_zdec_free(z);
	return rc;
}

/* Test data: random, text-like and zero stretches. */
static unsigned char *
zdata(size_t n)
{
	unsigned char *p = gen(n, 12);
	size_t i;

	for (i = 0; i + 4096 < n; i += 8192)
		memset(p + i, (int)(i / 8192 % 3), 4096 - i / 8192 % 4000);
	return p;
}

static void
test_z_round_trip(void)
{
	static const size_t chunks[] = { 1, 7, 4096, 131072, 1 << 30 };
	static const int levels[] = { -5, 1, 3 };
	size_t n = 3 * MIB + 17, i;
	unsigned char *p = zdata(n);
	struct pd_error err;
	struct pd_buf c, d;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		pd_buf_init(&c, 8 << 20);
		pd_buf_init(&d, 8 << 20);
		/* One byte at a time over 3 MiB is slow: a shorter input. */
		zcompress(&c, p, chunks[i] == 1 ? 100000 : n, chunks[i],
		    levels[i % 3], i % 2 == 1);
		CU_ASSERT(c.len < n);
		CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, chunks[i],
		    n, &err), PD_OK);
		CU_ASSERT_EQUAL(d.len, chunks[i] == 1 ? 100000 : n);
		CU_ASSERT(memcmp(d.data, p, d.len) == 0);
		pd_buf_free(&c);
		pd_buf_free(&d);
	}
	/* Level 19, and an empty input. */
	pd_buf_init(&c, 8 << 20);
	pd_buf_init(&d, 8 << 20);
	zcompress(&c, p, 200000, 1 << 30, 19, false);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 333, n, &err), PD_OK);
	CU_ASSERT(d.len == 200000 && memcmp(d.data, p, d.len) == 0);
	pd_buf_reset(&c);
	pd_buf_reset(&d);
	zcompress(&c, p, 0, 1, DL_ZLEVEL_DEFAULT, false);
	CU_ASSERT(c.len > 0);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 1, 0, &err), PD_OK);
	CU_ASSERT_EQUAL(d.len, 0);
	pd_buf_free(&c);
	pd_buf_free(&d);
	pd_free(p);
}

/*
 * A decoder reset after any stream (good, corrupt, cut inside a frame)
 * decodes the next one as a new decoder would, under the new cap.
 */
static void
test_z_reset(void)
{
	size_t n = 300000;
	unsigned char *p = zdata(n);
	struct pd_buf c, d, bad;
	struct pd_error err;
	struct dl_zdec *z;
	uint64_t olen;
	int round;

	pd_buf_init(&c, 8 << 20);
	pd_buf_init(&d, 8 << 20);
	pd_buf_init(&bad, 8 << 20);
	zcompress(&c, p, n, 1 << 30, 3, false);
	CU_ASSERT_EQUAL_FATAL(pd_buf_add(&bad, c.data, c.len), PD_OK);
	bad.data[bad.len / 2] ^= 0x55;
	pd_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(dl_zdec_new(n, &z, &err), PD_OK);
	for (round = 0; round < 3; round++) {
		/* Left after a corrupt stream, inside a frame, or (the
		 * last round's) after a whole stream; then reset. */
		if (round == 0) {
			CU_ASSERT_EQUAL(dl_zdec_feed(z, bad.data, bad.len,
			    to_buf, &d, &err), PD_ERR_CORRUPT);
		} else if (round == 1) {
			CU_ASSERT_EQUAL(dl_zdec_feed(z, c.data, c.len / 3,
			    to_buf, &d, &err), PD_OK);
		}
		dl_zdec_reset(z, n);
		pd_buf_reset(&d);
		CU_ASSERT_EQUAL(dl_zdec_feed(z, c.data, c.len, to_buf, &d,
		    &err), PD_OK);
		olen = 0;
		CU_ASSERT_EQUAL(dl_zdec_finish(z, &olen, &err), PD_OK);
		CU_ASSERT_EQUAL(olen, n);
		CU_ASSERT(d.len == n && memcmp(d.data, p, n) == 0);
	}
	/* The cap is the new one: a byte short of the output fails. */
	dl_zdec_reset(z, n - 1);
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL(dl_zdec_feed(z, c.data, c.len, to_buf, &d, &err),
	    PD_ERR_LIMIT);
	/* And a reset decoder that is fed nothing has no stream. */
	dl_zdec_reset(z, n);
	CU_ASSERT_EQUAL(dl_zdec_finish(z, NULL, &err), PD_ERR_CORRUPT);
	dl_zdec_free(z);
	pd_buf_free(&c);
	pd_buf_free(&d);
	pd_buf_free(&bad);
	pd_free(p);
}

static void
test_z_frames(void)
{
	size_t n = 500000;
	unsigned char *p = zdata(n);
	struct pd_error err;
	struct pd_buf c, d;
	struct dl_zenc *z;
	size_t one;

	/* Two encoders' outputs, end to end. */
	pd_buf_init(&c, 8 << 20);
	pd_buf_init(&d, 8 << 20);
	zcompress(&c, p, 1000, 1 << 30, 1, false);
	one = c.len;
	zcompress(&c, p + 1000, n - 1000, 1 << 30, 5, true);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 4096, n, &err), PD_OK);
	CU_ASSERT(d.len == n && memcmp(d.data, p, n) == 0);
	/* A prefix that ends at the frame boundary is a whole stream. */
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, one, 7, n, &err), PD_OK);
	CU_ASSERT_EQUAL(d.len, 1000);

	/* One encoder, finished twice: two frames. */
	pd_buf_reset(&c);
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL_FATAL(dl_zenc_new(3, false, &z, &err), PD_OK);
	CU_ASSERT_EQUAL(dl_zenc_feed(z, p, 1000, to_buf, &c, &err), PD_OK);
	CU_ASSERT_EQUAL(dl_zenc_finish(z, to_buf, &c, &err), PD_OK);
	CU_ASSERT_EQUAL(dl_zenc_feed(z, p + 1000, 1000, to_buf, &c, &err),
	    PD_OK);
	CU_ASSERT_EQUAL(dl_zenc_finish(z, to_buf, &c, &err), PD_OK);
	/* A frame abandoned by reset leaves nothing behind. */
	one = c.len;
	CU_ASSERT_EQUAL(dl_zenc_feed(z, p, n, to_buf, &c, &err), PD_OK);
	c.len = one;
	dl_zenc_reset(z);
	CU_ASSERT_EQUAL(dl_zenc_feed(z, p + 2000, 1000, to_buf, &c, &err),
	    PD_OK);
	CU_ASSERT_EQUAL(dl_zenc_finish(z, to_buf, &c, &err), PD_OK);
	dl_zenc_free(z);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 100, n, &err), PD_OK);
	CU_ASSERT(d.len == 3000 && memcmp(d.data, p, 3000) == 0);
	pd_buf_free(&c);
	pd_buf_free(&d);
	pd_free(p);
}

static void
test_z_hostile(void)
{
	size_t n = 200000, i;
	unsigned char *p = zdata(n), *g = gen(1000, 13);
	struct pd_error err;
	struct pd_buf c, d;
	struct dl_zdec *z;

	pd_buf_init(&c, 8 << 20);
	pd_buf_init(&d, 8 << 20);
	zcompress(&c, p, n, 1 << 30, 3, false);
	/* Every proper prefix: finish fails, nothing else does. */
	for (i = 0; i < c.len; i += i < 64 ? 1 : 997) {
		pd_buf_reset(&d);
		CU_ASSERT_EQUAL(zdecompress(&d, c.data, i, 1 << 30, n, &err),
		    PD_ERR_CORRUPT);
	}
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len - 1, 1 << 30, n, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "truncated"));
	/* Output cap. */
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 1 << 30, n - 1, &err),
	    PD_ERR_LIMIT);
	CU_ASSERT(d.len <= n - 1);
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 1 << 30, n, &err),
	    PD_OK);
	/* A flipped byte near the end (the checksum), and garbage. */
	c.data[c.len - 2] ^= 1;
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 1 << 30, n, &err),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "zstd"));
	pd_buf_reset(&d);
	CU_ASSERT_EQUAL(zdecompress(&d, g, 1000, 100, n, &err),
	    PD_ERR_CORRUPT);
	/* Poisoned after a failure. */
	CU_ASSERT_EQUAL_FATAL(dl_zdec_new(n, &z, &err), PD_OK);
	CU_ASSERT_EQUAL(dl_zdec_feed(z, g, 1000, to_buf, &d, NULL),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(dl_zdec_feed(z, c.data, c.len, to_buf, &d, NULL),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(dl_zdec_finish(z, NULL, NULL), PD_ERR_CORRUPT);
	dl_zdec_free(z);
	/* A sink that refuses. */
	c.data[c.len - 2] ^= 1;
	pd_buf_free(&d);
	pd_buf_init(&d, 1000);
	CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 1 << 30, n, &err),
	    PD_ERR_LIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "refused"));
	pd_buf_free(&c);
	pd_buf_free(&d);
	pd_free(p);
	pd_free(g);
}

/*
 * A frame that declares a 1 GiB window (made with zstd's own API, fed
 * in pieces so that zstd cannot shrink the window to the input) is
 * refused; one with the largest window we allow is fine.
 */
static void
test_z_window(void)
{
	size_t n = 1 << 20;
	unsigned char *p = zdata(n);
	struct pd_error err;
	struct pd_buf c, d;
	ZSTD_CCtx *cc;
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_outBuffer out;
	size_t r;
	int wlog;

	pd_buf_init(&c, 8 << 20);
	pd_buf_init(&d, 8 << 20);
	for (wlog = DL_ZWINDOW_LOG_MAX; wlog <= 30; wlog += 3) {
		cc = ZSTD_createCCtx();
		CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, wlog);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_enableLongDistanceMatching,
		    1);
		pd_buf_reset(&c);
		CU_ASSERT_EQUAL_FATAL(pd_buf_reserve(&c, 4 << 20), PD_OK);
		out.dst = c.data;
		out.size = c.size;
		out.pos = 0;
		in.pos = 0;
		r = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue);
		CU_ASSERT_FALSE(ZSTD_isError(r));
		do
			r = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
		while (r != 0 && !ZSTD_isError(r));
		CU_ASSERT_FALSE(ZSTD_isError(r));
		c.len = out.pos;
		ZSTD_freeCCtx(cc);
		pd_buf_reset(&d);
		if (wlog <= DL_ZWINDOW_LOG_MAX) {
			CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 1000, n,
			    &err), PD_OK);
			CU_ASSERT(d.len == n && memcmp(d.data, p, n) == 0);
		} else {
			CU_ASSERT_EQUAL(zdecompress(&d, c.data, c.len, 1000, n,
			    &err), PD_ERR_LIMIT);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "window"));
			CU_ASSERT_EQUAL(d.len, 0);
		}
	}
	pd_buf_free(&c);
	pd_buf_free(&d);
	pd_free(p);
}

static void
test_z_fd(void)
{
	char *dir = unit_tmpdir(), in[4096], zst[4096];
	size_t n = MIB + 3;
	unsigned char *p = zdata(n);
	struct pd_error err;
	struct dl_zenc *z;
	unsigned char head[18];	/* ZSTD_FRAMEHEADERSIZE_MAX */
	uint64_t ilen, clen, dlen;
	int ifd, cfd, ofd;

	unit_write(dir, "new", p, n);
	pd_error_clear(&err);
	ifd = open_in(dir, "new");
	cfd = open_out(dir, "new.zst");
	CU_ASSERT_EQUAL(dl_zcompress_fd(ifd, cfd, 3, &ilen, &clen, &err),
	    PD_OK);
	CU_ASSERT_EQUAL(ilen, n);
	CU_ASSERT_EQUAL(clen, file_size(dir, "new.zst"));
	close(ifd);
	/* A regular file's size is pledged: the frame header says it. */
	CU_ASSERT_EQUAL(pread(cfd, head, sizeof(head), 0),
	    (ssize_t)sizeof(head));
	CU_ASSERT_EQUAL(ZSTD_getFrameContentSize(head, sizeof(head)), n);
	CU_ASSERT_EQUAL(lseek(cfd, 0, SEEK_SET), 0);
	ofd = open_out(dir, "out");
	CU_ASSERT_EQUAL(dl_zdecompress_fd(cfd, ofd, n, &dlen, &err), PD_OK);
	CU_ASSERT_EQUAL(dlen, n);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	/* The cap, through the descriptors. */
	CU_ASSERT_EQUAL(lseek(cfd, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(dl_zdecompress_fd(cfd, ofd, n - 1, NULL, &err),
	    PD_ERR_LIMIT);
	close(cfd);
	close(ofd);
	/* zstd's command line reads ours. */
	unit_pjoin(in, sizeof(in), dir, "new.zst");
	unit_pjoin(zst, sizeof(zst), dir, "out");
	CU_ASSERT_EQUAL(run((char *[]){ "/usr/bin/zstd", "-q", "-d", "-f",
	    in, "-o", zst, NULL }), 0);
	CU_ASSERT_TRUE(same_files(dir, "out", "new"));
	/* Bad levels. */
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(dl_zenc_new(ZSTD_maxCLevel() + 1, false, &z, &err),
	    PD_ERR_USAGE);
	CU_ASSERT_PTR_NULL(z);
	pd_free(p);
	unit_rmdir(dir);
}

/*
 * Encoders reuse contexts given back (delta/zstd.c): the bytes must be
 * those of a new context, whatever the context did before, since kept
 * files are named and tagged as the one result of their inputs.
 */
static void
test_z_reuse(void)
{
	size_t n = MIB + 5, i;
	unsigned char *p = zdata(n);
	struct dl_zenc *z[6];
	struct pd_error err;
	struct pd_buf first, again;

	pd_error_clear(&err);
	pd_buf_init(&first, 8 << 20);
	zcompress(&first, p, n, 65536, DL_ZLEVEL_KEPT, false);
	for (i = 0; i < 4; i++) {
		/* Between: other levels, a long window, and an encoder
		 * dropped in mid-frame. */
		pd_buf_init(&again, 8 << 20);
		zcompress(&again, p + i, n - i, 4096, i == 0 ? 1 : 19,
		    i == 1);
		pd_buf_free(&again);
		CU_ASSERT_EQUAL_FATAL(dl_zenc_new(3, false, &z[0], &err),
		    PD_OK);
		pd_buf_init(&again, 8 << 20);
		CU_ASSERT_EQUAL(dl_zenc_feed(z[0], p, n / 2, to_buf, &again,
		    &err), PD_OK);
		dl_zenc_free(z[0]);
		pd_buf_free(&again);
		pd_buf_init(&again, 8 << 20);
		zcompress(&again, p, n, 65536, DL_ZLEVEL_KEPT, false);
		CU_ASSERT_EQUAL(again.len, first.len);
		CU_ASSERT(again.len == first.len &&
		    memcmp(again.data, first.data, first.len) == 0);
		pd_buf_free(&again);
	}
	/* More at once than are kept: each still works. */
	for (i = 0; i < 6; i++)
		CU_ASSERT_EQUAL_FATAL(dl_zenc_new(DL_ZLEVEL_KEPT, false, &z[i],
		    &err), PD_OK);
	for (i = 0; i < 6; i++) {
		pd_buf_init(&again, 8 << 20);
		CU_ASSERT_EQUAL(dl_zenc_feed(z[i], p, n, to_buf, &again,
		    &err), PD_OK);
		CU_ASSERT_EQUAL(dl_zenc_finish(z[i], to_buf, &again, &err),
		    PD_OK);
		CU_ASSERT(again.len == first.len &&
		    memcmp(again.data, first.data, first.len) == 0);
		pd_buf_free(&again);
		dl_zenc_free(z[i]);
	}
	pd_buf_free(&first);
	pd_free(p);
}

static int
suite_zstd(void)
{
	static const struct unit_test tests[] = {
		{ "round trips and chunkings", test_z_round_trip },
		{ "concatenated frames", test_z_frames },
		{ "reset after any stream", test_z_reset },
		{ "truncated, capped, corrupt", test_z_hostile },
		{ "window over the cap", test_z_window },
		{ "descriptors", test_z_fd },
		{ "contexts reused, the same bytes", test_z_reuse },
	};

	return UNIT_SUITE("delta-zstd", NULL, NULL, tests);
}
UNIT_REGISTER("delta", suite_zstd)
