/*
 * Unit tests of common/: errors, allocation, buffers, hex, SHA-256, the
 * file-system helpers, the worker pool and the string arena.
 *
 * The tests run as root in CI containers, where permission bits stop
 * nothing.  Where a test is about permission bits it runs in a child
 * that has dropped CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so root is
 * held to the bits like anyone else.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/capability.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/arena.h"
#include "../../common/buf.h"
#include "../../common/crypto.h"
#include "../../common/dso.h"
#include "../../common/err.h"
#include "../../common/fsx.h"
#include "../../common/hex.h"
#include "../../common/log.h"
#include "../../common/mem.h"
#include "../../common/pool.h"
#include "../../common/sha256.h"
#include "unit.h"

/* FIPS 180-2 examples. */
#define SHA_ABC	\
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_448	\
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

/* Deterministic filler so hashes over large inputs are repeatable. */
static void
fill(unsigned char *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245U + 12345U;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* err.h */

static void
test_err_first_wins(void)
{
	struct pd_error e;

	pd_error_clear(&e);
	CU_ASSERT_EQUAL(e.code, PD_OK);
	CU_ASSERT_STRING_EQUAL(e.msg, "");
	CU_ASSERT_EQUAL(pd_fail(&e, PD_ERR_PARSE, "first %d", 1),
	    PD_ERR_PARSE);
	CU_ASSERT_EQUAL(pd_fail(&e, PD_ERR_IO, "second"), PD_ERR_IO);
	CU_ASSERT_EQUAL(pd_fail_errno(&e, PD_ERR_NOMEM, ENOENT, "third"),
	    PD_ERR_NOMEM);
	CU_ASSERT_EQUAL(e.code, PD_ERR_PARSE);
	CU_ASSERT_STRING_EQUAL(e.msg, "first 1");
	/* A NULL error still reports the code, for "return pd_fail()". */
	CU_ASSERT_EQUAL(pd_fail(NULL, PD_ERR_LIMIT, "x"), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(pd_fail_errno(NULL, PD_ERR_IO, EIO, "x"), PD_ERR_IO);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(pd_fail(&e, PD_ERR_DB, "again"), PD_ERR_DB);
	CU_ASSERT_STRING_EQUAL(e.msg, "again");
}

static void
test_err_errno_prefix(void)
{
	struct pd_error e;
	char want[PD_ERRMSG_MAX];

	pd_error_clear(&e);
	CU_ASSERT_EQUAL(pd_prefix(&e, "nothing to prefix"), PD_OK);
	CU_ASSERT_EQUAL(e.code, PD_OK);
	CU_ASSERT_STRING_EQUAL(e.msg, "");

	CU_ASSERT_EQUAL(pd_fail_errno(&e, PD_ERR_IO, ENOENT, "open %s", "f"),
	    PD_ERR_IO);
	snprintf(want, sizeof(want), "open f: %s", strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(e.msg, want);
	CU_ASSERT_EQUAL(pd_prefix(&e, "tree %s", "t"), PD_ERR_IO);
	snprintf(want, sizeof(want), "tree t: open f: %s", strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(e.msg, want);
	CU_ASSERT_EQUAL(pd_prefix(NULL, "x"), PD_OK);

	/* errnum 0 appends nothing. */
	pd_error_clear(&e);
	(void)pd_fail_errno(&e, PD_ERR_IO, 0, "plain");
	CU_ASSERT_STRING_EQUAL(e.msg, "plain");
}

static void
test_err_truncate(void)
{
	struct pd_error e;
	char big[3 * PD_ERRMSG_MAX];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pd_error_clear(&e);
	(void)pd_fail_errno(&e, PD_ERR_IO, EIO, "%s", big);
	CU_ASSERT_EQUAL(strlen(e.msg), PD_ERRMSG_MAX - 1);
	(void)pd_prefix(&e, "%s", big);
	CU_ASSERT_EQUAL(strlen(e.msg), PD_ERRMSG_MAX - 1);
	CU_ASSERT_EQUAL(e.code, PD_ERR_IO);
}

static void
test_err_names(void)
{
	enum pd_err a, b;

	CU_ASSERT_STRING_EQUAL(pd_strerror(PD_OK), "success");
	CU_ASSERT_STRING_EQUAL(pd_strerror(PD_ERR_NOTFOUND), "not found");
	CU_ASSERT_STRING_EQUAL(pd_strerror(PD_ERR_CONFLICT), "conflict");
	CU_ASSERT_STRING_EQUAL(pd_strerror((enum pd_err)999),
	    "unknown error");
	/* Every code has its own name, so logs tell them apart. */
	for (a = PD_OK; a <= PD_ERR_UNSAFE; a++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(pd_strerror(a));
		CU_ASSERT_STRING_NOT_EQUAL(pd_strerror(a), "unknown error");
		for (b = a + 1; b <= PD_ERR_UNSAFE; b++)
			CU_ASSERT_STRING_NOT_EQUAL(pd_strerror(a),
			    pd_strerror(b));
	}
}

/* log.h */

static void
test_log_levels(void)
{
	enum pd_log_level l = PD_LOG_ERROR;

	CU_ASSERT_EQUAL(pd_log_parse_level("debug", &l), PD_OK);
	CU_ASSERT_EQUAL(l, PD_LOG_DEBUG);
	CU_ASSERT_EQUAL(pd_log_parse_level("warn", &l), PD_OK);
	CU_ASSERT_EQUAL(l, PD_LOG_WARN);
	CU_ASSERT_EQUAL(pd_log_parse_level("WARN", &l), PD_ERR_USAGE);
	CU_ASSERT_EQUAL(pd_log_parse_level("", &l), PD_ERR_USAGE);
	CU_ASSERT_EQUAL(l, PD_LOG_WARN);
}

/* mem.h */

static void
test_mem_fail_at(void)
{
	void *p, *q;
	char *s;

	pd_mem_fail_at(pd_mem_allocations() + 2);
	p = pd_malloc(10);
	q = pd_malloc(10);		/* the second from now fails */
	s = pd_strdup("abc");
	pd_mem_fail_at(0);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_PTR_NOT_NULL(s);
	pd_free(p);
	pd_free(s);

	pd_mem_fail_at(pd_mem_allocations() + 1);
	CU_ASSERT_PTR_NULL(pd_calloc(2, 8));
	pd_mem_fail_at(pd_mem_allocations() + 1);
	CU_ASSERT_PTR_NULL(pd_strdup("abc"));
	pd_mem_fail_at(0);

	/* Counting goes on with injection off. */
	p = pd_malloc(1);
	CU_ASSERT_PTR_NOT_NULL(p);
	pd_free(p);
}

static void
test_mem_overflow(void)
{
	unsigned char *p, *q;
	char *s;

	CU_ASSERT_PTR_NULL(pd_reallocarray(NULL, SIZE_MAX / 2 + 1, 2));
	CU_ASSERT_PTR_NULL(pd_reallocarray(NULL, 2, SIZE_MAX / 2 + 1));
	p = pd_reallocarray(NULL, 16, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 0x5a, 16);
	/* A refused resize leaves the old block as it was. */
	q = pd_reallocarray(p, SIZE_MAX / 8, 16);
	CU_ASSERT_PTR_NULL(q);
	CU_ASSERT_EQUAL(p[0], 0x5a);
	CU_ASSERT_EQUAL(p[15], 0x5a);
	q = pd_reallocarray(p, 32, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(q[15], 0x5a);
	pd_free(q);

	s = pd_memdup0("ab\0cd", 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(memcmp(s, "ab\0cd", 6), 0);
	pd_free(s);
	CU_ASSERT_PTR_NULL(pd_memdup0("x", SIZE_MAX));
}

/* buf.h */

static void
test_buf_cap(void)
{
	struct pd_buf b;

	pd_buf_init(&b, 8);
	CU_ASSERT_EQUAL(pd_buf_adds(&b, "12345"), PD_OK);
	CU_ASSERT_EQUAL(pd_buf_adds(&b, "6789"), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(b.len, 5);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "12345");
	CU_ASSERT_EQUAL(pd_buf_add(&b, "678", 3), PD_OK);
	CU_ASSERT_EQUAL(b.len, 8);
	CU_ASSERT_EQUAL(pd_buf_addc(&b, '9'), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(pd_buf_printf(&b, "%d", 1), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(pd_buf_reserve(&b, 1), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(pd_buf_reserve(&b, SIZE_MAX), PD_ERR_LIMIT);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "12345678");
	CU_ASSERT_EQUAL(pd_buf_add(&b, "", 0), PD_OK);

	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_PTR_NOT_NULL(b.data);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "");
	CU_ASSERT_EQUAL(pd_buf_adds(&b, "abc"), PD_OK);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "abc");
	pd_buf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
}

static void
test_buf_printf_take(void)
{
	struct pd_buf b;
	unsigned char *p;
	size_t len, i;
	char piece[16];
	bool ok = true;

	pd_buf_init(&b, 1 << 20);
	CU_ASSERT_EQUAL(pd_buf_printf(&b, "%s=%d;", "a", 42), PD_OK);
	CU_ASSERT_EQUAL(pd_buf_printf(&b, "%05u", 7U), PD_OK);
	CU_ASSERT_EQUAL(b.len, 10);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "a=42;00007");

	/* Growth across many reallocations keeps every byte. */
	pd_buf_reset(&b);
	for (i = 0; i < 20000; i++)
		if (pd_buf_printf(&b, "%05zu", i) != PD_OK)
			ok = false;
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(b.len, 100000);
	for (i = 0; i < 20000 && ok; i++) {
		snprintf(piece, sizeof(piece), "%05zu", i);
		ok = memcmp(b.data + 5 * i, piece, 5) == 0;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(b.data[b.len], '\0');

	p = pd_buf_take(&b, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(len, 100000);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(b.size, 0);
	CU_ASSERT_EQUAL(memcmp(p, "0000000001", 10), 0);
	pd_free(p);

	/* A taken buffer is empty and usable; the cap stays. */
	CU_ASSERT_EQUAL(pd_buf_adds(&b, "again"), PD_OK);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "again");
	CU_ASSERT_EQUAL(b.cap, 1 << 20);
	pd_buf_free(&b);
}

static void
test_buf_nomem(void)
{
	struct pd_buf b;

	pd_buf_init(&b, 1 << 20);
	CU_ASSERT_EQUAL(pd_buf_adds(&b, "keep"), PD_OK);
	pd_mem_fail_at(pd_mem_allocations() + 1);
	/* Bigger than the first block, so it must reallocate. */
	CU_ASSERT_EQUAL(pd_buf_reserve(&b, 4096), PD_ERR_NOMEM);
	pd_mem_fail_at(0);
	CU_ASSERT_EQUAL(b.len, 4);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "keep");
	pd_buf_free(&b);
}

/* hex.h */

static void
test_hex(void)
{
	const unsigned char in[] = { 0x00, 0x01, 0x9f, 0xa0, 0xff };
	unsigned char out[sizeof(in)];
	char hex[2 * sizeof(in) + 1];

	pd_hex_encode(in, sizeof(in), hex);
	CU_ASSERT_STRING_EQUAL(hex, "00019fa0ff");
	memset(out, 0, sizeof(out));
	CU_ASSERT_TRUE(pd_hex_decode(hex, sizeof(in), out));
	CU_ASSERT_EQUAL(memcmp(in, out, sizeof(in)), 0);
	/* One spelling per value: uppercase is not it. */
	CU_ASSERT_FALSE(pd_hex_decode("00019FA0ff", sizeof(in), out));
	CU_ASSERT_FALSE(pd_hex_decode("0g", 1, out));
	CU_ASSERT_FALSE(pd_hex_decode("g0", 1, out));
	CU_ASSERT_FALSE(pd_hex_decode(" 0", 1, out));
	CU_ASSERT_FALSE(pd_hex_decode("0", 1, out));	/* NUL is not hex */
	CU_ASSERT_TRUE(pd_hex_decode("", 0, out));
	pd_hex_encode(in, 0, hex);
	CU_ASSERT_STRING_EQUAL(hex, "");
}

/* sha256.h */

static void
check_sha(const void *p, size_t n, const char *want)
{
	unsigned char d[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX];

	CU_ASSERT_EQUAL_FATAL(pd_sha256(p, n, d), PD_OK);
	pd_hex_encode(d, sizeof(d), hex);
	CU_ASSERT_STRING_EQUAL(hex, want);
}

static void
test_sha256_vectors(void)
{
	static const char m448[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct pd_sha256 *h;
	unsigned char d[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX];

	check_sha("abc", 3, SHA_ABC);
	check_sha("", 0, SHA_EMPTY);
	check_sha(m448, strlen(m448), SHA_448);

	h = pd_sha256_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	/* A fresh context needs no init; a final one needs init again. */
	CU_ASSERT_EQUAL(pd_sha256_update(h, "ab", 2), PD_OK);
	CU_ASSERT_EQUAL(pd_sha256_update(h, "c", 1), PD_OK);
	CU_ASSERT_EQUAL(pd_sha256_final(h, d), PD_OK);
	pd_hex_encode(d, sizeof(d), hex);
	CU_ASSERT_STRING_EQUAL(hex, SHA_ABC);
	CU_ASSERT_EQUAL(pd_sha256_init(h), PD_OK);
	CU_ASSERT_EQUAL(pd_sha256_final(h, d), PD_OK);
	pd_hex_encode(d, sizeof(d), hex);
	CU_ASSERT_STRING_EQUAL(hex, SHA_EMPTY);
	pd_sha256_free(h);
	pd_sha256_free(NULL);
}

static void
test_sha256_stream(void)
{
	const size_t n = 1000003;
	unsigned char *p, one[PD_SHA256_LEN], two[PD_SHA256_LEN];
	struct pd_sha256 *h;
	size_t off, step;
	int round;

	p = pd_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	fill(p, n, 7);
	CU_ASSERT_EQUAL_FATAL(pd_sha256(p, n, one), PD_OK);
	h = pd_sha256_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	/* Odd piece sizes cross the 64-byte block boundary every way. */
	for (round = 0; round < 3; round++) {
		CU_ASSERT_EQUAL(pd_sha256_init(h), PD_OK);
		for (off = 0, step = 1; off < n; off += step,
		    step = step * 3 % 9973 + 1) {
			if (step > n - off)
				step = n - off;
			CU_ASSERT_EQUAL(pd_sha256_update(h, p + off, step),
			    PD_OK);
		}
		memset(two, 0, sizeof(two));
		CU_ASSERT_EQUAL(pd_sha256_final(h, two), PD_OK);
		CU_ASSERT_EQUAL(memcmp(one, two, sizeof(one)), 0);
	}
	/* One byte changed, another digest. */
	p[n / 2] ^= 1;
	CU_ASSERT_EQUAL(pd_sha256(p, n, two), PD_OK);
	CU_ASSERT_NOT_EQUAL(memcmp(one, two, sizeof(one)), 0);
	pd_sha256_free(h);
	pd_free(p);
}

/* fsx.h */

/* Names in dir that start with prefix. */
static int
count_prefixed(const char *dir, const char *prefix)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void
check_content(const char *path, const char *want)
{
	struct pd_buf b;

	pd_buf_init(&b, 1 << 20);
	CU_ASSERT_EQUAL_FATAL(pd_read_file(path, 1 << 20, &b, NULL), PD_OK);
	CU_ASSERT_EQUAL(b.len, strlen(want));
	CU_ASSERT(b.len == strlen(want) &&
	    memcmp(b.data, want, b.len) == 0);
	pd_buf_free(&b);
}

static void
test_fsx_write_file(void)
{
	char *d = unit_tmpdir(), path[4096];
	struct pd_error e;
	struct stat st;
	mode_t old;

	unit_pjoin(path, sizeof(path), d, "f");
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(pd_write_file(path, "one", 3, 0640, PD_WRITE_EXCL,
	    &e), PD_OK);
	CU_ASSERT_EQUAL(e.code, PD_OK);
	check_content(path, "one");
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);

	/* Exclusive: refused, and the old bytes and mode stay. */
	CU_ASSERT_EQUAL(pd_write_file(path, "two!", 4, 0600, PD_WRITE_EXCL,
	    &e), PD_ERR_EXISTS);
	CU_ASSERT_EQUAL(e.code, PD_ERR_EXISTS);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
	check_content(path, "one");
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
	CU_ASSERT_EQUAL(count_prefixed(d, ".pd-tmp"), 0);

	/* Not exclusive: replaced, with the new mode despite the umask. */
	old = umask(077);
	CU_ASSERT_EQUAL(pd_write_file(path, "three", 5, 0755, 0, NULL),
	    PD_OK);
	umask(old);
	check_content(path, "three");
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0755);

	/* Empty content; and a missing directory fails naming it. */
	unit_pjoin(path, sizeof(path), d, "empty");
	CU_ASSERT_EQUAL(pd_write_file(path, "", 0, 0600, 0, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 0);
	unit_pjoin(path, sizeof(path), d, "nodir/f");
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(pd_write_file(path, "x", 1, 0600, 0, &e), PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "nodir"));
	CU_ASSERT_EQUAL(count_prefixed(d, ".pd-tmp"), 0);
	unit_rmdir(d);
}

static void
test_fsx_read_file(void)
{
	const size_t n = 200001;	/* more than one read chunk */
	char *d = unit_tmpdir(), path[4096];
	unsigned char *p;
	struct pd_error e;
	struct pd_buf b;

	p = pd_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	fill(p, n, 3);
	unit_write(d, "big", p, n);
	unit_pjoin(path, sizeof(path), d, "big");

	pd_buf_init(&b, SIZE_MAX);
	CU_ASSERT_EQUAL(pd_read_file(path, n, &b, NULL), PD_OK);
	CU_ASSERT_EQUAL(b.len, n);
	CU_ASSERT(b.len == n && memcmp(b.data, p, n) == 0);

	pd_buf_reset(&b);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(pd_read_file(path, n - 1, &b, &e), PD_ERR_LIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));

	/* The buffer's own cap is honoured too. */
	pd_buf_free(&b);
	pd_buf_init(&b, 1000);
	CU_ASSERT_EQUAL(pd_read_file(path, n, &b, NULL), PD_ERR_LIMIT);
	CU_ASSERT(b.len <= 1000);
	pd_buf_free(&b);

	/* Appending to what is there. */
	unit_write(d, "small", "tail", 4);
	unit_pjoin(path, sizeof(path), d, "small");
	pd_buf_init(&b, 100);
	CU_ASSERT_EQUAL(pd_buf_adds(&b, "head-"), PD_OK);
	CU_ASSERT_EQUAL(pd_read_file(path, 100, &b, NULL), PD_OK);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "head-tail");

	unit_pjoin(path, sizeof(path), d, "missing");
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(pd_read_file(path, 100, &b, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "missing"));
	pd_buf_free(&b);
	pd_free(p);
	unit_rmdir(d);
}

static void
test_fsx_mkdirs(void)
{
	char *d = unit_tmpdir(), path[4096];
	struct pd_error e;
	struct stat st;

	unit_pjoin(path, sizeof(path), d, "a/b/c/d");
	CU_ASSERT_EQUAL(pd_mkdirs(path, 0755, NULL), PD_OK);
	CU_ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	/* Again: everything exists, which is fine. */
	CU_ASSERT_EQUAL(pd_mkdirs(path, 0755, NULL), PD_OK);
	unit_pjoin(path, sizeof(path), d, "a/b/e/");
	CU_ASSERT_EQUAL(pd_mkdirs(path, 0755, NULL), PD_OK);
	CU_ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));

	/* A file in the way. */
	unit_write(d, "file", "x", 1);
	unit_pjoin(path, sizeof(path), d, "file/sub");
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(pd_mkdirs(path, 0755, &e), PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "file/sub"));
	unit_rmdir(d);
}

/*
 * A tree with a read-only directory (holding a file and a subdirectory)
 * and a symbolic link to a directory outside it.  Removal runs in a
 * child without the root bypass, so the read-only bits count.
 */
static void
test_fsx_remove_tree(void)
{
	char *d = unit_tmpdir(), path[4096], t[4096];
	struct stat st;
	pid_t pid;
	int dfd, rc;

	unit_pjoin(path, sizeof(path), d, "tree/ro/sub");
	CU_ASSERT_EQUAL_FATAL(pd_mkdirs(path, 0755, NULL), PD_OK);
	unit_pjoin(path, sizeof(path), d, "outside");
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	CU_ASSERT_EQUAL(chmod(path, 0751), 0);
	unit_write(d, "outside/keep", "keep", 4);
	unit_write(d, "tree/ro/file", "f", 1);
	unit_write(d, "tree/ro/sub/file", "g", 1);
	unit_write(d, "tree/top", "t", 1);
	unit_pjoin(t, sizeof(t), d, "outside");
	unit_pjoin(path, sizeof(path), d, "tree/ro/out");
	CU_ASSERT_EQUAL(symlink(t, path), 0);
	unit_pjoin(path, sizeof(path), d, "tree/rel-out");
	CU_ASSERT_EQUAL(symlink("../outside", path), 0);
	unit_pjoin(path, sizeof(path), d, "tree/ro/sub/file");
	CU_ASSERT_EQUAL(chmod(path, 0), 0);
	/* Mode 0000: not even its owner may open it to list it. */
	unit_pjoin(path, sizeof(path), d, "tree/ro/sub");
	CU_ASSERT_EQUAL(chmod(path, 0), 0);
	unit_pjoin(path, sizeof(path), d, "tree/ro");
	CU_ASSERT_EQUAL(chmod(path, 0500), 0);

	dfd = open(d, O_RDONLY | O_DIRECTORY);
	CU_ASSERT_FATAL(dfd >= 0);
	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		if (unit_drop_dac_caps() < 0)
			_exit(10);
		/* Prove the bits would stop a plain unlink here. */
		if (unlinkat(dfd, "tree/ro/file", 0) == 0 || errno != EACCES)
			_exit(11);
		_exit(pd_remove_tree_at(dfd, "tree", NULL) == PD_OK ? 0 : 12);
	}
	rc = unit_child_status(pid);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		fprintf(stderr, "remove_tree child: %d\n", rc);
	CU_ASSERT_EQUAL(fstatat(dfd, "tree", &st, AT_SYMLINK_NOFOLLOW), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	/* Untouched, not even the chmod that makes removal possible. */
	CU_ASSERT_EQUAL(fstatat(dfd, "outside", &st, 0), 0);
	CU_ASSERT(S_ISDIR(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0751);
	unit_pjoin(path, sizeof(path), d, "outside/keep");
	check_content(path, "keep");

	/* Missing is not an error; a plain file is removed too. */
	CU_ASSERT_EQUAL(pd_remove_tree_at(dfd, "tree", NULL), PD_OK);
	CU_ASSERT_EQUAL(pd_remove_tree_at(dfd, "outside/keep", NULL), PD_OK);
	CU_ASSERT_EQUAL(fstatat(dfd, "outside/keep", &st, 0), -1);
	close(dfd);
	unit_rmdir(d);
}

static void
test_fsx_open_beneath(void)
{
	char *d = unit_tmpdir(), path[4096], t[4096], got[16];
	int dfd, fd;
	ssize_t n;

	unit_pjoin(path, sizeof(path), d, "root/sub/dir");
	CU_ASSERT_EQUAL_FATAL(pd_mkdirs(path, 0755, NULL), PD_OK);
	unit_write(d, "root/sub/dir/file", "inside", 6);
	unit_write(d, "x", "outside", 7);
	unit_pjoin(path, sizeof(path), d, "root/lnk");
	CU_ASSERT_EQUAL(symlink("sub", path), 0);
	unit_pjoin(path, sizeof(path), d, "root/flink");
	CU_ASSERT_EQUAL(symlink("sub/dir/file", path), 0);
	unit_pjoin(t, sizeof(t), d, "root/sub/dir/file");
	unit_pjoin(path, sizeof(path), d, "root/abs");
	CU_ASSERT_EQUAL(symlink(t, path), 0);
	unit_pjoin(path, sizeof(path), d, "root");
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	CU_ASSERT_FATAL(dfd >= 0);

	fd = pd_open_beneath(dfd, "sub/dir/file", O_RDONLY, 0);
	CU_ASSERT(fd >= 0);
	if (fd >= 0) {
		n = read(fd, got, sizeof(got));
		CU_ASSERT(n == 6 && memcmp(got, "inside", 6) == 0);
		close(fd);
	}

	errno = 0;
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "../x", O_RDONLY, 0), -1);
	CU_ASSERT(errno == EXDEV || errno == ELOOP);
	errno = 0;
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "sub/../../x", O_RDONLY, 0), -1);
	CU_ASSERT(errno == EXDEV || errno == ELOOP);
	errno = 0;
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, t, O_RDONLY, 0), -1);
	CU_ASSERT(errno == EXDEV || errno == ELOOP);
	/* Through a link to a directory inside the tree: still refused. */
	errno = 0;
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "lnk/dir/file", O_RDONLY, 0), -1);
	CU_ASSERT(errno == ELOOP || errno == EXDEV);
	errno = 0;
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "flink", O_RDONLY, 0), -1);
	CU_ASSERT(errno == ELOOP || errno == EXDEV);
	errno = 0;
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "abs", O_RDONLY, 0), -1);
	CU_ASSERT(errno == ELOOP || errno == EXDEV);
	errno = 0;
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "sub/nope", O_RDONLY, 0), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);

	/* Creating beneath honours flags and mode. */
	fd = pd_open_beneath(dfd, "sub/new", O_WRONLY | O_CREAT | O_EXCL,
	    0600);
	CU_ASSERT(fd >= 0);
	if (fd >= 0) {
		struct stat st;

		CU_ASSERT_EQUAL(fstat(fd, &st), 0);
		CU_ASSERT(S_ISREG(st.st_mode));
		CU_ASSERT_EQUAL(st.st_mode & 0077, 0);
		close(fd);
	}
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "sub/new", O_WRONLY | O_CREAT |
	    O_EXCL, 0600), -1);
	CU_ASSERT_EQUAL(errno, EEXIST);
	/* A link as the file to create is not followed either. */
	CU_ASSERT_EQUAL(pd_open_beneath(dfd, "flink", O_WRONLY | O_CREAT,
	    0600), -1);
	unit_pjoin(path, sizeof(path), d, "x");
	check_content(path, "outside");
	unit_pjoin(path, sizeof(path), d, "root/sub/dir/file");
	check_content(path, "inside");
	close(dfd);
	unit_rmdir(d);
}

/* pool.h */

struct pool_round {
	atomic_uint	*hits;
	atomic_uint	 bad_worker;
	unsigned	 nworkers;
	size_t		 cancel_at;	/* SIZE_MAX: never */
	atomic_bool	 cancelled;
	struct pd_pool	*pool;
};

static void
pool_fn(void *arg, size_t i, unsigned worker)
{
	struct pool_round *r = arg;

	atomic_fetch_add(&r->hits[i], 1);
	if (worker >= r->nworkers)
		atomic_fetch_add(&r->bad_worker, 1);
	if (r->cancel_at == SIZE_MAX)
		return;
	if (i == r->cancel_at) {
		pd_pool_cancel(r->pool);
		atomic_store(&r->cancelled, true);
	} else if (i > r->cancel_at) {
		/*
		 * Hold later items until the cancel, so that however the
		 * threads are scheduled each worker has at most the one
		 * item in hand when it lands.
		 */
		while (!atomic_load(&r->cancelled))
			sched_yield();
	}
}

/* Run one round of n items; returns how many items ran exactly once. */
static size_t
pool_round(struct pd_pool *pool, size_t n, size_t cancel_at,
    size_t *twice)
{
	struct pool_round r;
	size_t i, once = 0;

	memset(&r, 0, sizeof(r));
	r.hits = pd_calloc(n ? n : 1, sizeof(*r.hits));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.hits);
	for (i = 0; i < n; i++)
		atomic_init(&r.hits[i], 0);
	atomic_init(&r.bad_worker, 0);
	atomic_init(&r.cancelled, false);
	r.nworkers = pd_pool_size(pool);
	r.cancel_at = cancel_at;
	r.pool = pool;
	pd_pool_for(pool, n, pool_fn, &r);
	*twice = 0;
	for (i = 0; i < n; i++) {
		once += atomic_load(&r.hits[i]) == 1;
		*twice += atomic_load(&r.hits[i]) > 1;
	}
	CU_ASSERT_EQUAL(atomic_load(&r.bad_worker), 0);
	pd_free(r.hits);
	return once;
}

static void
test_pool_for(void)
{
	static const size_t sizes[] = { 100000, 0, 1, 3, 4, 5, 7919, 64 };
	struct pd_pool *pool = NULL;
	size_t i, twice;
	long ncpu;

	CU_ASSERT_EQUAL_FATAL(pd_pool_new(4, &pool), PD_OK);
	CU_ASSERT_EQUAL(pd_pool_size(pool), 4);
	/* One pool, many rounds: each index once, whatever n. */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CU_ASSERT_EQUAL(pool_round(pool, sizes[i], SIZE_MAX, &twice),
		    sizes[i]);
		CU_ASSERT_EQUAL(twice, 0);
	}
	pd_pool_free(pool);
	pd_pool_free(NULL);

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	CU_ASSERT_EQUAL_FATAL(pd_pool_new(0, &pool), PD_OK);
	CU_ASSERT_EQUAL(pd_pool_size(pool), ncpu > 0 ? (unsigned)ncpu : 1);
	CU_ASSERT_EQUAL(pool_round(pool, 1000, SIZE_MAX, &twice), 1000);
	pd_pool_free(pool);

	CU_ASSERT_EQUAL_FATAL(pd_pool_new(1, &pool), PD_OK);
	CU_ASSERT_EQUAL(pd_pool_size(pool), 1);
	CU_ASSERT_EQUAL(pool_round(pool, 10, SIZE_MAX, &twice), 10);
	pd_pool_free(pool);
}

static void
test_pool_cancel(void)
{
	struct pd_pool *pool = NULL;
	size_t once, twice;

	CU_ASSERT_EQUAL_FATAL(pd_pool_new(3, &pool), PD_OK);
	/*
	 * Cancelled at the first item: each worker finishes at most the
	 * item it already took, so no more items run than there are
	 * workers, none twice.
	 */
	once = pool_round(pool, 100000, 0, &twice);
	CU_ASSERT(once >= 1);
	CU_ASSERT(once <= pd_pool_size(pool));
	CU_ASSERT_EQUAL(twice, 0);
	once = pool_round(pool, 100000, 50000, &twice);
	CU_ASSERT(once > 50000);	/* items go out in order */
	CU_ASSERT(once <= 50000 + pd_pool_size(pool));
	CU_ASSERT_EQUAL(twice, 0);
	/* The next round starts uncancelled. */
	CU_ASSERT_EQUAL(pool_round(pool, 5000, SIZE_MAX, &twice), 5000);
	CU_ASSERT_EQUAL(twice, 0);
	pd_pool_free(pool);
}

/* arena.h */

static void
test_arena(void)
{
	struct pd_arena a = PD_ARENA_INIT;
	const size_t n = 20000, bign = 1 << 20;
	char **v, name[64], *big, *p;
	size_t i;
	bool ok = true;

	v = pd_calloc(n, sizeof(*v));
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "dir/%zu/%.*s", i, (int)(i % 40),
		    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
		if ((v[i] = pd_arena_copy(&a, name, strlen(name))) == NULL)
			ok = false;
	}
	CU_ASSERT_FATAL(ok);
	/* Earlier strings stay put while later chunks are added. */
	for (i = 0; i < n && ok; i++) {
		snprintf(name, sizeof(name), "dir/%zu/%.*s", i, (int)(i % 40),
		    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
		ok = strcmp(v[i], name) == 0;
	}
	CU_ASSERT(ok);

	/* Larger than the largest chunk. */
	big = pd_malloc(bign);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	fill((unsigned char *)big, bign, 11);
	p = pd_arena_copy(&a, big, bign);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(memcmp(p, big, bign), 0);
	CU_ASSERT_EQUAL(p[bign], '\0');
	p = pd_arena_copy(&a, "a\0b", 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(memcmp(p, "a\0b", 4), 0);
	p = pd_arena_copy(&a, "", 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p, "");
	CU_ASSERT_STRING_EQUAL(v[0], "dir/0/");
	CU_ASSERT_PTR_NULL(pd_arena_copy(&a, "x", SIZE_MAX));
	pd_arena_free(&a);
	CU_ASSERT_PTR_NULL(a.head);
	pd_arena_free(&a);

	/* A failed chunk allocation is NULL, and the arena stays usable. */
	pd_mem_fail_at(pd_mem_allocations() + 1);
	p = pd_arena_copy(&a, "x", 1);
	pd_mem_fail_at(0);
	CU_ASSERT_PTR_NULL(p);
	p = pd_arena_copy(&a, "y", 1);
	CU_ASSERT_PTR_NOT_NULL(p);
	pd_arena_free(&a);
	pd_free(big);
	pd_free(v);
}

/* Strings kept by another arena outlive theirs, in either order. */
static void
test_arena_keep(void)
{
	struct pd_arena a = PD_ARENA_INIT, b = PD_ARENA_INIT;
	struct pd_arena c = PD_ARENA_INIT;
	char name[64], *s[3000], *own;
	size_t i;
	bool ok = true;

	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "kept/%zu", i);
		s[i] = pd_arena_copy(&a, name, strlen(name));
		CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
	}
	CU_ASSERT_TRUE_FATAL(pd_arena_keep(&b, &a));
	own = pd_arena_copy(&b, "own", 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(own);
	/* c keeps what b keeps: a's chunks, and b's own. */
	CU_ASSERT_TRUE_FATAL(pd_arena_keep(&c, &b));
	pd_arena_free(&a);
	unit_scribble();
	for (i = 0; i < 3000 && ok; i++) {
		snprintf(name, sizeof(name), "kept/%zu", i);
		ok = strcmp(s[i], name) == 0;
	}
	CU_ASSERT_TRUE(ok);
	pd_arena_free(&b);
	unit_scribble();
	CU_ASSERT_STRING_EQUAL(own, "own");
	CU_ASSERT_STRING_EQUAL(s[2999], "kept/2999");
	pd_arena_free(&c);
	CU_ASSERT_PTR_NULL(c.head);
	CU_ASSERT_PTR_NULL(c.kept);

	/* Freed the other way round. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(pd_arena_copy(&a, "first", 5));
	CU_ASSERT_TRUE_FATAL(pd_arena_keep(&b, &a));
	pd_arena_free(&b);
	CU_ASSERT_STRING_EQUAL(a.head != NULL ? "ok" : "", "ok");
	pd_arena_free(&a);
	/* Out of memory: b keeps what it got, and lets it go when freed. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(pd_arena_copy(&a, "x", 1));
	pd_mem_fail_at(pd_mem_allocations() + 1);
	CU_ASSERT_FALSE(pd_arena_keep(&b, &a));
	pd_mem_fail_at(0);
	pd_arena_free(&b);
	pd_arena_free(&a);
}


/* What pd_dso_load fills, as libc has it. */
struct dso_table {
	size_t	 (*len)(const char *);	/* strlen */
	int	 (*num)(const char *);		/* atoi */
};

static void
test_dso_load(void)
{
	static const struct pd_dso_sym libc_syms[] = {
		{ "strlen", offsetof(struct dso_table, len) },
		{ "atoi", offsetof(struct dso_table, num) },
	};
	static const struct pd_dso_sym bad_syms[] = {
		{ "strlen", offsetof(struct dso_table, len) },
		{ "pd_no_such_function", offsetof(struct dso_table, num) },
	};
	struct pd_dso d = { "libc", "libc.so.6", "libc6", "glibc 2.34",
	    libc_syms, 2 };
	struct dso_table t = { NULL, NULL };
	struct pd_error err = { 0 };

	CU_ASSERT_EQUAL_FATAL(pd_dso_load(&d, &t, &err), PD_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t.num);
	CU_ASSERT_EQUAL(t.len("four"), 4);
	CU_ASSERT_EQUAL(t.num("42"), 42);

	/* A missing symbol is named, with what is needed. */
	d.syms = bad_syms;
	CU_ASSERT_EQUAL(pd_dso_load(&d, &t, &err), PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "libc.so.6 has no "
	    "pd_no_such_function: glibc 2.34 is needed"));

	/* A missing library is named, with its package. */
	pd_error_clear(&err);
	d.name = "libnothing";
	d.soname = "libpulpdist-nothing.so.9";
	d.pkg = "libnothing9";
	CU_ASSERT_EQUAL(pd_dso_load(&d, &t, &err), PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot load libnothing "
	    "(libpulpdist-nothing.so.9): "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Debian's package is "
	    "libnothing9"));
}

static int dso_inits;

static enum pd_err
dso_init(void *table, struct pd_error *err)
{
	const struct dso_table *t = table;

	dso_inits++;
	if (t->num("7") != 7)
		return pd_fail(err, PD_ERR_IO, "atoi is not atoi");
	return PD_OK;
}

static enum pd_err
dso_init_fails(void *table, struct pd_error *err)
{
	(void)table;
	dso_inits++;
	return pd_fail(err, PD_ERR_IO, "init refused");
}

static void
test_dso_once(void)
{
	static const struct pd_dso_sym libc_syms[] = {
		{ "strlen", offsetof(struct dso_table, len) },
		{ "atoi", offsetof(struct dso_table, num) },
	};
	static const struct pd_dso libc = { "libc", "libc.so.6", "libc6",
	    "glibc 2.34", libc_syms, 2 };
	static const struct pd_dso none = { "libnothing",
	    "libpulpdist-nothing.so.9", "libnothing9", "", libc_syms, 2 };
	struct pd_dso_once a = PD_DSO_ONCE_INIT, b = PD_DSO_ONCE_INIT,
	    c = PD_DSO_ONCE_INIT;
	struct dso_table t = { NULL, NULL };
	struct pd_error err = { 0 };

	/* Loaded and initialised once, however often asked. */
	dso_inits = 0;
	CU_ASSERT_EQUAL_FATAL(pd_dso_once(&a, &libc, &t, dso_init, &err),
	    PD_OK);
	CU_ASSERT_EQUAL(t.len("four"), 4);
	t.len = NULL;
	CU_ASSERT_EQUAL(pd_dso_once(&a, &libc, &t, dso_init, &err), PD_OK);
	CU_ASSERT_PTR_NULL(t.len);		/* not looked up again */
	CU_ASSERT_EQUAL(dso_inits, 1);

	/* A missing library: the same error every time, not tried again. */
	CU_ASSERT_EQUAL(pd_dso_once(&b, &none, &t, dso_init, &err),
	    PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "libpulpdist-nothing.so.9"));
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pd_dso_once(&b, &libc, &t, dso_init, &err),
	    PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "libpulpdist-nothing.so.9"));
	CU_ASSERT_EQUAL(dso_inits, 1);

	/* An init that fails is the load's failure, every time. */
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pd_dso_once(&c, &libc, &t, dso_init_fails, &err),
	    PD_ERR_IO);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pd_dso_once(&c, &libc, &t, dso_init, &err),
	    PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "init refused"));
	CU_ASSERT_EQUAL(dso_inits, 2);
}

/* Every field of the libcrypto table filled, from the one library. */
static void
test_crypto_table(void)
{
	struct pd_error err = { 0 };
	size_t i, n = sizeof(pd_cr) / sizeof(void *);
	Dl_info info;
	void *f;

	_Static_assert(sizeof(pd_cr) % sizeof(void *) == 0,
	    "the table holds only pointers");
	CU_ASSERT_EQUAL_FATAL(pd_crypto_load(&err), PD_OK);
	CU_ASSERT_EQUAL(pd_crypto_load(&err), PD_OK);
	CU_ASSERT_TRUE(n > 90);
	for (i = 0; i < n; i++) {
		memcpy(&f, (const char *)&pd_cr + i * sizeof(f), sizeof(f));
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_NOT_EQUAL_FATAL(dladdr(f, &info), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(info.dli_fname,
		    PD_CRYPTO_SONAME));
	}
	/* The pointer calls what the name says. */
	CU_ASSERT_PTR_EQUAL((void *)pd_cr.EVP_sha256(), (void *)EVP_sha256());
}

static int
suite_common(void)
{
	static const struct unit_test tests[] = {
		{ "err: first failure wins", test_err_first_wins },
		{ "err: errno text and prefix", test_err_errno_prefix },
		{ "err: long messages truncated", test_err_truncate },
		{ "err: names", test_err_names },
		{ "log: levels", test_log_levels },
		{ "mem: failure injection", test_mem_fail_at },
		{ "mem: overflow", test_mem_overflow },
		{ "buf: cap", test_buf_cap },
		{ "buf: printf and take", test_buf_printf_take },
		{ "buf: out of memory", test_buf_nomem },
		{ "hex", test_hex },
		{ "sha256: vectors", test_sha256_vectors },
		{ "sha256: streaming", test_sha256_stream },
		{ "fsx: write file", test_fsx_write_file },
		{ "fsx: read file", test_fsx_read_file },
		{ "fsx: mkdirs", test_fsx_mkdirs },
		{ "fsx: remove tree", test_fsx_remove_tree },
		{ "fsx: open beneath", test_fsx_open_beneath },
		{ "pool: for", test_pool_for },
		{ "pool: cancel", test_pool_cancel },
		{ "arena", test_arena },
		{ "arena strings kept by another", test_arena_keep },
		{ "dso: load a table, name what is missing", test_dso_load },
		{ "dso: once per process, the same answer after",
		    test_dso_once },
		{ "crypto: libcrypto's table, whole", test_crypto_table },
	};

	return UNIT_SUITE("common", NULL, NULL, tests);
}
UNIT_REGISTER("common", suite_common)
