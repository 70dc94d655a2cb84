/*
 * Unit tests of node/ import, verify and load, on a real source tree.
 *
 * The tests share one fixture, built by the first test and used in
 * order: a source tree with every kind of entry, two keys and a catalog.
 * Building it waits once until every file is old enough for the stat
 * cache (the import never caches a file whose mtime or ctime is within
 * two seconds of its start, and ctime cannot be set back), so that the
 * re-import tests can count what the cache saved.
 *
 * Permission-bit cases run in a child without CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH, so they hold as root too.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../catalog/catalog.h"
#include "../../catalog/objstore.h"
#include "../../common/fsx.h"
#include "../../common/mem.h"
#include "../../common/sha256.h"
#include "../../node/import.h"
#include "../../node/load.h"
#include "../../node/scan.h"
#include "../../node/verify.h"
#include "../../protocol/sign.h"
#include "unit.h"

#define TREE		"t"
#define BIG_LEN		300001	/* more than one read of ND_HASH_BUF */
#define MAX_WARN	16
#define MAX_BAD		16

/*
 * The source tree.  Types: f file, b the big file, d directory, l
 * symbolic link (data is the target), h hardlink to the file named by
 * data, p fifo.  Parents come before children.
 */
struct srcent {
	const char	*path;
	char		 type;
	unsigned	 mode;
	const char	*data;
};

static const struct srcent srcents[] = {
	{ "a.txt", 'f', 0644, "hello\n" },
	{ "bad\xffname", 'f', 0644, "not UTF-8\n" },
	{ "big.bin", 'b', 0600, NULL },
	{ "dir", 'd', 0750, NULL },
	{ "dir/nested", 'd', 0755, NULL },
	{ "dir/nested/deep.txt", 'f', 0444, "deep\n" },
	{ "dup.txt", 'f', 0644, "hello\n" },
	{ "empty", 'f', 0600, "" },
	{ "emptydir", 'd', 0700, NULL },
	{ "exec.sh", 'f', 0755, "#!/bin/sh\necho hi\n" },
	{ "fifo", 'p', 0644, NULL },
	{ "hl1", 'f', 0640, "linked content\n" },
	{ "dir/hl2", 'h', 0, "hl1" },
	{ "ln-abs", 'l', 0, "/etc/passwd" },
	{ "ln-dangling", 'l', 0, "does/not/exist" },
	{ "ln-dir", 'l', 0, "dir" },
	{ "ln-rel", 'l', 0, "dir/nested/deep.txt" },
	{ "new\nline", 'f', 0644, "newline\n" },
	{ "outside-linked", 'f', 0644, "other link outside\n" },
	{ "sgid", 'f', 02750, "setgid\n" },
};
#define NSRC	(sizeof(srcents) / sizeof(srcents[0]))

static struct {
	char		*tmp;
	char		 src[4096];
	char		 data[4096];
	struct cat	*cat;
	struct pr_key	*key;
	struct pr_key	*key2;		/* another origin's key */
	struct pr_key	*key2pub;	/* its public half only */
	unsigned char	 big[BIG_LEN];
	unsigned char	 v1_id[PD_SHA256_LEN];
	bool		 ready;
	int64_t		 newest;	/* newest mtime or ctime in src */
} fx;

static char	*warnings[MAX_WARN];
static size_t	 nwarn;

static void
warn_cb(void *arg, const char *msg)
{
	(void)arg;
	if (nwarn < MAX_WARN)
		warnings[nwarn++] = pd_strdup(msg);
}

static void
clear_warnings(void)
{
	while (nwarn > 0)
		pd_free(warnings[--nwarn]);
}

/* The warning containing all of a and b, or NULL. */
static const char *
find_warning(const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < nwarn; i++)
		if (warnings[i] && strstr(warnings[i], a) &&
		    strstr(warnings[i], b))
			return warnings[i];
	return NULL;
}

static const struct srcent *
srcent(const char *path)
{
	size_t i;

	for (i = 0; i < NSRC; i++)
		if (strcmp(srcents[i].path, path) == 0)
			return &srcents[i];
	return NULL;
}

/* Content of a file entry (following a hardlink to its target). */
static const void *
content(const struct srcent *s, size_t *len)
{
	if (s->type == 'h')
		s = srcent(s->data);
	if (s->type == 'b') {
		*len = BIG_LEN;
		return fx.big;
	}
	*len = strlen(s->data);
	return s->data;
}

static bool
is_file(const struct srcent *s)
{
	return s->type == 'f' || s->type == 'b' || s->type == 'h';
}

static void
sha_of(const struct srcent *s, unsigned char *sha)
{
	const void *p;
	size_t n;

	p = content(s, &n);
	CU_ASSERT_EQUAL_FATAL(pd_sha256(p, n, sha), PD_OK);
}

static void
import_opts(struct nd_import_opts *o, const char *tree, const char *src,
    const struct pr_key *key)
{
	memset(o, 0, sizeof(*o));
	o->tree = tree;
	o->src = src;
	o->key = key;
	o->threads = 2;
	o->warn = warn_cb;
}

static int
newest_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	if (st->st_mtim.tv_sec > fx.newest)
		fx.newest = st->st_mtim.tv_sec;
	if (st->st_ctim.tv_sec > fx.newest)
		fx.newest = st->st_ctim.tv_sec;
	return 0;
}

/* Sleep until time(NULL) reaches t, in short steps. */
static void
wait_until(int64_t t)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	while ((int64_t)time(NULL) < t)
		nanosleep(&ts, NULL);
}

static void
make_tree(const char *root)
{
	const struct srcent *s;
	char path[4096], target[4096];
	const void *p;
	size_t i, n;

	CU_ASSERT_EQUAL_FATAL(mkdir(root, 0755), 0);
	for (i = 0; i < NSRC; i++) {
		s = &srcents[i];
		unit_pjoin(path, sizeof(path), root, s->path);
		switch (s->type) {
		case 'd':
			CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
			break;
		case 'f':
		case 'b':
			p = content(s, &n);
			unit_write(root, s->path, p, n);
			break;
		case 'h':
			unit_pjoin(target, sizeof(target), root, s->data);
			CU_ASSERT_EQUAL_FATAL(link(target, path), 0);
			break;
		case 'l':
			CU_ASSERT_EQUAL_FATAL(symlink(s->data, path), 0);
			break;
		case 'p':
			CU_ASSERT_EQUAL_FATAL(mkfifo(path, s->mode), 0);
			break;
		}
	}
	/* Modes last, so a read-only directory did not stop its children. */
	for (i = NSRC; i-- > 0; ) {
		s = &srcents[i];
		unit_pjoin(path, sizeof(path), root, s->path);
		if (s->type == 'd' || s->type == 'f' || s->type == 'b')
			CU_ASSERT_EQUAL(chmod(path, s->mode), 0);
	}
}

/* Test 0: the fixture. */
static void
test_fixture(void)
{
	unsigned char raw[PR_PUBKEY_LEN];
	char path[4096], twin[4096];
	struct pd_error e;
	struct stat st;
	size_t i;
	uint32_t seed = 1;

	memset(&fx, 0, sizeof(fx));
	fx.tmp = unit_tmpdir();
	unit_pjoin(fx.src, sizeof(fx.src), fx.tmp, "src");
	unit_pjoin(fx.data, sizeof(fx.data), fx.tmp, "data");
	for (i = 0; i < BIG_LEN; i++) {
		seed = seed * 1103515245U + 12345U;
		fx.big[i] = (unsigned char)(seed >> 16);
	}
	make_tree(fx.src);
	/* A file with two links, only one of them in the tree. */
	unit_pjoin(path, sizeof(path), fx.src, "outside-linked");
	unit_pjoin(twin, sizeof(twin), fx.tmp, "outside-twin");
	CU_ASSERT_EQUAL_FATAL(link(path, twin), 0);
	CU_ASSERT(lstat(path, &st) == 0 && st.st_nlink == 2);

	pd_error_clear(&e);
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&fx.key, &e), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&fx.key2, &e), PD_OK);
	pr_key_public(fx.key2, raw);
	CU_ASSERT_EQUAL_FATAL(pr_key_from_public(raw, &fx.key2pub, &e),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_open(fx.data, CAT_CREATE, &fx.cat, &e),
	    PD_OK);

	/* Old enough for the stat cache: newest + RACY_SECS + 1. */
	CU_ASSERT_EQUAL_FATAL(nftw(fx.src, newest_cb, 16, FTW_PHYS), 0);
	CU_ASSERT_FATAL(fx.newest > 0);
	wait_until(fx.newest + 3);
	fx.ready = true;
}

static void
check_entry(const struct pr_manifest *m, const struct srcent *s)
{
	const struct pr_entry *e;
	unsigned char sha[PD_SHA256_LEN];
	char path[4096], target[4096];
	struct stat st;
	ssize_t n;
	size_t len;

	unit_pjoin(path, sizeof(path), fx.src, s->path);
	e = pr_manifest_find(m, s->path, strlen(s->path));
	if (s->type == 'p') {
		CU_ASSERT_PTR_NULL(e);
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL_FATAL(lstat(path, &st), 0);
	CU_ASSERT_EQUAL(e->path_len, strlen(s->path));
	CU_ASSERT_EQUAL(e->mtime.sec, (int64_t)st.st_mtim.tv_sec);
	CU_ASSERT_EQUAL(e->mtime.nsec, (uint32_t)st.st_mtim.tv_nsec);
	switch (s->type) {
	case 'd':
		CU_ASSERT_EQUAL(e->type, PR_DIR);
		CU_ASSERT_EQUAL(e->mode, s->mode);
		CU_ASSERT_EQUAL(e->size, 0);
		break;
	case 'l':
		CU_ASSERT_EQUAL(e->type, PR_LINK);
		CU_ASSERT_EQUAL(e->mode, 0777);
		n = readlink(path, target, sizeof(target));
		CU_ASSERT_EQUAL_FATAL(n, (ssize_t)strlen(s->data));
		CU_ASSERT_EQUAL(e->target_len, (uint32_t)n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e->target);
		CU_ASSERT_EQUAL(memcmp(e->target, s->data, (size_t)n), 0);
		break;
	default:
		CU_ASSERT_EQUAL(e->type, PR_FILE);
		CU_ASSERT_EQUAL(e->mode, st.st_mode & 07777);
		if (s->type != 'h')
			CU_ASSERT_EQUAL(e->mode, s->mode);
		content(s, &len);
		CU_ASSERT_EQUAL(e->size, len);
		CU_ASSERT_EQUAL(e->size, (uint64_t)st.st_size);
		sha_of(s, sha);
		CU_ASSERT_EQUAL(memcmp(e->sha, sha, sizeof(sha)), 0);
		CU_ASSERT_PTR_NULL(e->target);
		break;
	}
}

/* Test 1. */
static void
test_first_import(void)
{
	struct nd_import_opts o;
	struct nd_import_result res;
	struct pr_manifest *m = NULL;
	struct cat_tree tree;
	struct cat_version v;
	const struct pr_entry *h1, *h2, *ol;
	unsigned char raw[PR_PUBKEY_LEN], kid[PR_KEYID_LEN];
	unsigned char shas[NSRC][PD_SHA256_LEN];
	struct pd_error e;
	struct stat st;
	uint64_t files = 0, dirs = 0, links = 0, bytes = 0, ents = 0;
	uint64_t distinct = 0;
	unsigned char *buf;
	size_t i, j, len;

	CU_ASSERT_FATAL(fx.ready);
	import_opts(&o, TREE, fx.src, fx.key);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL_FATAL(nd_import(fx.cat, &o, &res, &e), PD_OK);
	CU_ASSERT_FALSE(res.unchanged);
	CU_ASSERT_EQUAL(res.version.number, 1);
	CU_ASSERT_EQUAL(res.skipped, 1);

	/* What the tree holds, counted from the table. */
	for (i = 0; i < NSRC; i++) {
		const struct srcent *s = &srcents[i];

		if (s->type == 'p')
			continue;
		ents++;
		dirs += s->type == 'd';
		links += s->type == 'l';
		if (!is_file(s))
			continue;
		files++;
		content(s, &len);
		if (s->type != 'h')
			bytes += len;
		sha_of(s, shas[i]);
		for (j = 0; j < i; j++)
			if (is_file(&srcents[j]) &&
			    memcmp(shas[j], shas[i], PD_SHA256_LEN) == 0)
				break;
		distinct += j == i;
	}
	/* Every file but the hardlink member was read; nothing cached. */
	CU_ASSERT_EQUAL(res.files_hashed, files - 1);
	CU_ASSERT_EQUAL(res.files_cached, 0);
	CU_ASSERT_EQUAL(res.objects_new, distinct);
	CU_ASSERT_EQUAL(res.version.entries, ents);
	CU_ASSERT_EQUAL(res.version.files, files);
	CU_ASSERT_EQUAL(res.version.dirs, dirs);
	CU_ASSERT_EQUAL(res.version.links, links);
	CU_ASSERT_EQUAL(res.version.bytes, bytes);
	CU_ASSERT_EQUAL(res.version.hashed_bytes, bytes);
	CU_ASSERT_EQUAL(res.version.changes.added, ents);

	CU_ASSERT(find_warning("fifo", "skipped") != NULL);
	CU_ASSERT(find_warning(fx.src, "bad%FFname") != NULL);
	CU_ASSERT(find_warning(fx.src, "new%0Aline") != NULL);
	clear_warnings();

	/* The catalog, read back and verified. */
	pd_error_clear(&e);
	CU_ASSERT_EQUAL_FATAL(nd_load_version(fx.cat, TREE, 0, NULL, &tree,
	    &v, &m, &e), PD_OK);
	CU_ASSERT_EQUAL(tree.head, 1);
	CU_ASSERT_TRUE(tree.has_key);
	pr_key_public(fx.key, raw);
	CU_ASSERT_EQUAL(memcmp(tree.pubkey, raw, sizeof(raw)), 0);
	CU_ASSERT_EQUAL(v.number, 1);
	CU_ASSERT_EQUAL(memcmp(v.manifest_id, m->id, sizeof(m->id)), 0);
	memcpy(fx.v1_id, m->id, sizeof(fx.v1_id));
	CU_ASSERT_STRING_EQUAL(m->tree, TREE);
	CU_ASSERT_EQUAL(m->version, 1);
	CU_ASSERT_FALSE(m->has_parent);
	CU_ASSERT_EQUAL(m->expires, 0);
	CU_ASSERT_EQUAL_FATAL(pr_key_id(fx.key, kid, NULL), PD_OK);
	CU_ASSERT_EQUAL(memcmp(m->keyid, kid, sizeof(kid)), 0);
	CU_ASSERT_EQUAL(m->nentries, ents);
	CU_ASSERT_EQUAL_FATAL(stat(fx.src, &st), 0);
	CU_ASSERT_EQUAL(m->root_mode, st.st_mode & 07777);
	CU_ASSERT_EQUAL(m->root_mtime.sec, (int64_t)st.st_mtim.tv_sec);
	for (i = 0; i < NSRC; i++)
		check_entry(m, &srcents[i]);

	/* Both paths of the hardlink share a group; the lone one has none. */
	h1 = pr_manifest_find(m, "hl1", 3);
	h2 = pr_manifest_find(m, "dir/hl2", 7);
	ol = pr_manifest_find(m, "outside-linked", 14);
	CU_ASSERT_FATAL(h1 != NULL && h2 != NULL && ol != NULL);
	CU_ASSERT(h1->link > 0);
	CU_ASSERT_EQUAL(h1->link, h2->link);
	CU_ASSERT_EQUAL(ol->link, 0);
	for (i = 0; i < m->nentries; i++)
		if (&m->entries[i] != h1 && &m->entries[i] != h2)
			CU_ASSERT_EQUAL(m->entries[i].link, 0);

	/* Every file's content is in the store, byte for byte, and indexed. */
	buf = pd_malloc(BIG_LEN + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (i = 0; i < NSRC; i++) {
		const void *want;
		ssize_t r;
		int fd;

		if (!is_file(&srcents[i]))
			continue;
		want = content(&srcents[i], &len);
		CU_ASSERT_TRUE(cat_object_known(fx.cat, shas[i]));
		CU_ASSERT_EQUAL_FATAL(cat_obj_open(fx.cat, shas[i], &fd, NULL),
		    PD_OK);
		r = pd_read_full(fd, buf, BIG_LEN + 1);
		close(fd);
		CU_ASSERT(r == (ssize_t)len && memcmp(buf, want, len) == 0);
	}
	pd_free(buf);
	pr_manifest_free(m);
}

/* Head and version count of TREE as the catalog has them. */
static void
check_head(uint64_t head, size_t nversions)
{
	struct cat_txn *t;
	struct cat_tree tree;
	struct cat_version *list = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(cat_begin(fx.cat, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(t, TREE, &tree, NULL), PD_OK);
	CU_ASSERT_EQUAL(tree.head, head);
	CU_ASSERT_EQUAL(cat_version_list(t, TREE, &list, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, nversions);
	pd_free(list);
	cat_abort(t);
}

/* Test 2. */
static void
test_other_key(void)
{
	struct nd_import_opts o;
	struct nd_import_result res;
	struct pd_error e;

	CU_ASSERT_FATAL(fx.ready);
	import_opts(&o, TREE, fx.src, fx.key2);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_import(fx.cat, &o, &res, &e), PD_ERR_SIGNATURE);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, TREE));
	clear_warnings();
	check_head(1, 1);

	/* A public key alone cannot sign. */
	import_opts(&o, TREE, fx.src, fx.key2pub);
	CU_ASSERT_EQUAL(nd_import(fx.cat, &o, &res, NULL), PD_ERR_USAGE);
	check_head(1, 1);
}

/* Test 3. */
static void
test_locked(void)
{
	struct nd_import_opts o;
	struct nd_import_result res;
	struct pd_error e;
	int fd = -1;

	CU_ASSERT_FATAL(fx.ready);
	CU_ASSERT_EQUAL_FATAL(cat_lock_tree(fx.cat, TREE, &fd, NULL), PD_OK);
	import_opts(&o, TREE, fx.src, fx.key);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_import(fx.cat, &o, &res, &e), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, TREE));
	cat_unlock_tree(fd);
	clear_warnings();
	check_head(1, 1);
}

/* Test 4: nothing changed, nothing read. */
static void
test_unchanged(void)
{
	struct nd_import_opts o;
	struct nd_import_result res;
	struct pd_error e;
	uint64_t files = 0;
	size_t i;

	CU_ASSERT_FATAL(fx.ready);
	/* Distinct files: the hardlink (type h) is its leader's file. */
	for (i = 0; i < NSRC; i++)
		files += is_file(&srcents[i]) && srcents[i].type != 'h';
	import_opts(&o, TREE, fx.src, fx.key);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL_FATAL(nd_import(fx.cat, &o, &res, &e), PD_OK);
	CU_ASSERT_TRUE(res.unchanged);
	CU_ASSERT_EQUAL(res.version.number, 1);
	CU_ASSERT_EQUAL(memcmp(res.version.manifest_id, fx.v1_id,
	    PD_SHA256_LEN), 0);
	CU_ASSERT_EQUAL(res.files_hashed, 0);
	CU_ASSERT_EQUAL(res.files_cached, files);
	CU_ASSERT_EQUAL(res.objects_new, 0);
	clear_warnings();
	check_head(1, 1);
}

/* Test 5. */
static void
test_missing_src(void)
{
	struct nd_import_opts o;
	struct nd_import_result res;
	struct cat_txn *t;
	struct cat_tree tree;
	struct pd_error e;
	char nope[4096];

	CU_ASSERT_FATAL(fx.ready);
	unit_pjoin(nope, sizeof(nope), fx.tmp, "no-such-source");
	import_opts(&o, "fresh", nope, fx.key);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_import(fx.cat, &o, &res, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, nope));
	import_opts(&o, TREE, nope, fx.key);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_import(fx.cat, &o, &res, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, nope));
	CU_ASSERT_EQUAL_FATAL(cat_begin(fx.cat, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(t, "fresh", &tree, NULL),
	    PD_ERR_NOTFOUND);
	cat_abort(t);
	check_head(1, 1);

	/* A bad tree name is refused before anything is touched. */
	import_opts(&o, "../up", fx.src, fx.key);
	CU_ASSERT_EQUAL(nd_import(fx.cat, &o, &res, NULL), PD_ERR_USAGE);
}

/*
 * In a child without the root bypass: import src (holding something
 * unreadable at path) into a new catalog at data.  Exit status 0 when
 * the import failed naming it and left no tree behind.
 */
static int
unreadable_child(const char *data, const char *src, const char *path)
{
	struct nd_import_opts o;
	struct nd_import_result res;
	struct cat *c = NULL;
	struct cat_txn *t;
	struct cat_tree tree;
	struct pd_error e;
	enum pd_err rc;
	int fd;

	if (unit_drop_dac_caps() < 0)
		return 40;
	/* Make sure the bits now bind, or the test proves nothing. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK)) >= 0 || errno != EACCES)
		return 41;
	if (cat_open(data, CAT_CREATE, &c, NULL) != PD_OK)
		return 42;
	memset(&o, 0, sizeof(o));
	o.tree = "u";
	o.src = src;
	o.key = fx.key;
	o.threads = 2;
	pd_error_clear(&e);
	rc = nd_import(c, &o, &res, &e);
	if (rc != PD_ERR_IO) {
		fprintf(stderr, "unreadable: %s: %s\n", pd_strerror(rc), e.msg);
		cat_close(c);
		return 43;
	}
	if (strstr(e.msg, path) == NULL || strstr(e.msg,
	    strerror(EACCES)) == NULL) {
		fprintf(stderr, "unreadable: message: %s\n", e.msg);
		cat_close(c);
		return 44;
	}
	rc = PD_OK;
	if (cat_begin(c, false, &t, NULL) == PD_OK) {
		rc = cat_tree_get(t, "u", &tree, NULL);
		cat_abort(t);
	}
	cat_close(c);
	return rc == PD_ERR_NOTFOUND ? 0 : 45;
}

/* Test 6: an unreadable file, and an unreadable directory. */
static void
test_unreadable(void)
{
	static const char *const bad[] = { "secret", "locked" };
	char data[4096], src[4096], path[4096];
	struct cat *c = NULL;
	struct cat_txn *t;
	struct cat_tree tree;
	pid_t pid;
	size_t i;
	int rc;

	CU_ASSERT_FATAL(fx.ready);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "unread-%zu", i);
		unit_pjoin(src, sizeof(src), fx.tmp, path);
		snprintf(path, sizeof(path), "data-%zu", i);
		unit_pjoin(data, sizeof(data), fx.tmp, path);
		CU_ASSERT_EQUAL_FATAL(mkdir(src, 0755), 0);
		unit_write(src, "fine", "fine", 4);
		unit_pjoin(path, sizeof(path), src, bad[i]);
		if (i == 0)
			unit_write(src, bad[i], "secret", 6);
		else
			CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
		CU_ASSERT_EQUAL_FATAL(chmod(path, 0), 0);

		fflush(NULL);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			_exit(unreadable_child(data, src, path));
		rc = unit_child_status(pid);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc != 0)
			fprintf(stderr, "unreadable child %zu: %d\n", i, rc);

		/* Seen from here too: no tree, so no version. */
		CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL),
		    PD_OK);
		CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
		CU_ASSERT_EQUAL(cat_tree_get(t, "u", &tree, NULL),
		    PD_ERR_NOTFOUND);
		cat_abort(t);
		cat_close(c);
		CU_ASSERT_EQUAL(chmod(path, 0700), 0);
	}
}

/* Test 7. */
static void
test_load_trust(void)
{
	struct pr_manifest *m = NULL;
	struct pd_error e;

	CU_ASSERT_FATAL(fx.ready);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_load_version(fx.cat, TREE, 1, fx.key2pub, NULL,
	    NULL, &m, &e), PD_ERR_SIGNATURE);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(nd_load_version(fx.cat, TREE, 1, fx.key2, NULL,
	    NULL, &m, NULL), PD_ERR_SIGNATURE);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(nd_load_version(fx.cat, TREE, 1, fx.key, NULL, NULL,
	    &m, NULL), PD_OK);
	CU_ASSERT(m != NULL && m->version == 1);
	pr_manifest_free(m);
	m = NULL;
	CU_ASSERT_EQUAL(nd_load_version(fx.cat, TREE, 2, NULL, NULL, NULL,
	    &m, NULL), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(nd_load_version(fx.cat, "nosuch", 0, NULL, NULL,
	    NULL, &m, NULL), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NULL(m);
}

struct bad_paths {
	char	*path[MAX_BAD];
	size_t	 n;
};

static void
bad_cb(void *arg, const struct pr_entry *e, const char *why)
{
	struct bad_paths *b = arg;

	CU_ASSERT_PTR_NOT_NULL(why);
	if (b->n < MAX_BAD)
		b->path[b->n++] = pd_memdup0(e->path, e->path_len);
}

static void
bad_free(struct bad_paths *b)
{
	while (b->n > 0)
		pd_free(b->path[--b->n]);
}

/* Test 8. */
static void
test_verify_good(void)
{
	struct nd_verify_result vr;
	struct bad_paths b = { { NULL }, 0 };
	unsigned char shas[NSRC][PD_SHA256_LEN];
	uint64_t distinct = 0, bytes = 0;
	size_t i, j, len;

	CU_ASSERT_FATAL(fx.ready);
	for (i = 0; i < NSRC; i++) {
		if (!is_file(&srcents[i]))
			continue;
		sha_of(&srcents[i], shas[i]);
		for (j = 0; j < i; j++)
			if (is_file(&srcents[j]) &&
			    memcmp(shas[j], shas[i], PD_SHA256_LEN) == 0)
				break;
		if (j == i) {
			distinct++;
			content(&srcents[i], &len);
			bytes += len;
		}
	}
	CU_ASSERT_EQUAL(nd_verify(fx.cat, TREE, 0, NULL, 2, bad_cb, &b, &vr,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL(vr.version, 1);
	CU_ASSERT_EQUAL(vr.objects, distinct);
	CU_ASSERT_EQUAL(vr.bytes, bytes);
	CU_ASSERT_EQUAL(vr.bad_paths, 0);
	CU_ASSERT_EQUAL(b.n, 0);
	CU_ASSERT_EQUAL(nd_verify(fx.cat, TREE, 1, fx.key2pub, 2, bad_cb, &b,
	    &vr, NULL), PD_ERR_SIGNATURE);
	bad_free(&b);
}

/* Test 9: one file changed, one file read. */
static void
test_one_changed(void)
{
	static const char now[] = "hello, world\n";
	struct nd_import_opts o;
	struct nd_import_result res;
	struct pr_manifest *m = NULL;
	const struct pr_entry *a, *d;
	unsigned char sha[PD_SHA256_LEN], old[PD_SHA256_LEN];
	char path[4096];
	struct pd_error e;
	uint64_t files = 0;
	size_t i;
	int fd;

	CU_ASSERT_FATAL(fx.ready);
	for (i = 0; i < NSRC; i++)
		files += is_file(&srcents[i]) && srcents[i].type != 'h';
	unit_pjoin(path, sizeof(path), fx.src, "a.txt");
	fd = open(path, O_WRONLY | O_TRUNC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pd_write_all(fd, now, strlen(now)), PD_OK);
	close(fd);

	import_opts(&o, TREE, fx.src, fx.key);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL_FATAL(nd_import(fx.cat, &o, &res, &e), PD_OK);
	clear_warnings();
	CU_ASSERT_FALSE(res.unchanged);
	CU_ASSERT_EQUAL(res.version.number, 2);
	CU_ASSERT_EQUAL(res.files_hashed, 1);
	CU_ASSERT_EQUAL(res.files_cached, files - 1);
	CU_ASSERT_EQUAL(res.objects_new, 1);
	CU_ASSERT_EQUAL(res.version.hashed_bytes, strlen(now));
	CU_ASSERT_EQUAL(res.version.changes.changed, 1);
	CU_ASSERT_EQUAL(res.version.changes.added, 0);
	CU_ASSERT_EQUAL(res.version.changes.removed, 0);
	CU_ASSERT_EQUAL(res.version.changes.renamed, 0);
	check_head(2, 2);

	CU_ASSERT_EQUAL_FATAL(nd_load_version(fx.cat, TREE, 2, NULL, NULL,
	    NULL, &m, NULL), PD_OK);
	CU_ASSERT_TRUE(m->has_parent);
	CU_ASSERT_EQUAL(memcmp(m->parent, fx.v1_id, PD_SHA256_LEN), 0);
	CU_ASSERT_EQUAL_FATAL(pd_sha256(now, strlen(now), sha), PD_OK);
	sha_of(srcent("dup.txt"), old);
	a = pr_manifest_find(m, "a.txt", 5);
	d = pr_manifest_find(m, "dup.txt", 7);
	CU_ASSERT_FATAL(a != NULL && d != NULL);
	CU_ASSERT_EQUAL(memcmp(a->sha, sha, sizeof(sha)), 0);
	CU_ASSERT_EQUAL(a->size, strlen(now));
	CU_ASSERT_EQUAL(memcmp(d->sha, old, sizeof(old)), 0);
	pr_manifest_free(m);
}

/* Overwrite the stored object with content sha, keeping its size. */
static void
damage_object(const unsigned char *sha)
{
	char rel[CAT_OBJ_PATH_LEN], objdir[4096], path[4096];
	struct stat st;
	int fd;

	cat_obj_path(sha, rel);
	unit_pjoin(objdir, sizeof(objdir), fx.data, "objects");
	unit_pjoin(path, sizeof(path), objdir, rel);
	fd = open(path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(fstat(fd, &st), 0);
	CU_ASSERT_FATAL(st.st_size > 0);
	CU_ASSERT_EQUAL(pwrite(fd, "X", 1, st.st_size / 2), 1);
	close(fd);
}

/* Test 10: exactly the paths of a damaged object are reported. */
static void
test_verify_corrupt(void)
{
	static const char now[] = "hello, world\n";
	struct nd_verify_result vr;
	struct bad_paths b = { { NULL }, 0 };
	unsigned char sha[PD_SHA256_LEN];
	char rel[CAT_OBJ_PATH_LEN];
	struct pd_error e;
	uint64_t n;

	CU_ASSERT_FATAL(fx.ready);
	sha_of(srcent("hl1"), sha);
	damage_object(sha);
	for (n = 1; n <= 2; n++) {
		pd_error_clear(&e);
		CU_ASSERT_EQUAL(nd_verify(fx.cat, TREE, n, NULL, 2, bad_cb, &b,
		    &vr, &e), PD_ERR_CORRUPT);
		CU_ASSERT_EQUAL(vr.version, n);
		CU_ASSERT_EQUAL(vr.bad_paths, 2);
		CU_ASSERT_EQUAL_FATAL(b.n, 2);
		CU_ASSERT_STRING_EQUAL(b.path[0], "dir/hl2");
		CU_ASSERT_STRING_EQUAL(b.path[1], "hl1");
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "2 paths"));
		bad_free(&b);
	}

	/* A missing object adds its one path, in path order. */
	CU_ASSERT_EQUAL_FATAL(pd_sha256(now, strlen(now), sha), PD_OK);
	cat_obj_path(sha, rel);
	CU_ASSERT_EQUAL(unlinkat(cat_objects_fd(fx.cat), rel, 0), 0);
	CU_ASSERT_EQUAL(nd_verify(fx.cat, TREE, 0, NULL, 1, bad_cb, &b, &vr,
	    NULL), PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(vr.bad_paths, 3);
	CU_ASSERT_EQUAL_FATAL(b.n, 3);
	CU_ASSERT_STRING_EQUAL(b.path[0], "a.txt");
	CU_ASSERT_STRING_EQUAL(b.path[1], "dir/hl2");
	CU_ASSERT_STRING_EQUAL(b.path[2], "hl1");
	bad_free(&b);
	/* Version 1 never named that content. */
	CU_ASSERT_EQUAL(nd_verify(fx.cat, TREE, 1, NULL, 1, bad_cb, &b, &vr,
	    NULL), PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(vr.bad_paths, 2);
	bad_free(&b);
}

static int
cleanup(void)
{
	enum pd_err rc = PD_OK;

	clear_warnings();
	cat_close(fx.cat);
	pr_key_free(fx.key);
	pr_key_free(fx.key2);
	pr_key_free(fx.key2pub);
	if (fx.tmp != NULL) {
		rc = pd_remove_tree_at(AT_FDCWD, fx.tmp, NULL);
		pd_free(fx.tmp);
	}
	memset(&fx, 0, sizeof(fx));
	return rc == PD_OK ? 0 : -1;
}

static int
suite_import(void)
{
	static const struct unit_test tests[] = {
		{ "source tree and keys", test_fixture },
		{ "first import", test_first_import },
		{ "another key is refused", test_other_key },
		{ "locked tree", test_locked },
		{ "unchanged re-import", test_unchanged },
		{ "missing source", test_missing_src },
		{ "unreadable entries", test_unreadable },
		{ "load with another trust key", test_load_trust },
		{ "verify a good version", test_verify_good },
		{ "one file changed", test_one_changed },
		{ "verify a damaged object", test_verify_corrupt },
	};

	return UNIT_SUITE("import", NULL, cleanup, tests);
}
UNIT_REGISTER("import", suite_import)
