/*
 * Unit tests of node/keep.c, what a mirror keeps of what it received to
 * serve it onwards: every kind of offer lands under the name the server
 * looks for, with the bytes as they came, and its record; the delta
 * cache then answers from it without computing; offers whose items did
 * not all end well, bodies in the wrong form or over their cap are
 * dropped with their temp files; what is kept already stays as it is.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../catalog/catalog.h"
#include "../../common/fsx.h"
#include "../../common/hex.h"
#include "../../common/mem.h"
#include "../../common/sha256.h"
#include "../../delta/zstd.h"
#include "../../node/dcache.h"
#include "../../node/keep.h"
#include "../../node/prepare.h"
#include "../../node/xfer.h"
#include "unit.h"

struct fix {
	char		*tmp;
	char		 data[4096];
	char		 tmpdir[4096];	/* the pull's staging tmp */
	int		 tmpfd;
	struct cat	*c;
	struct nd_keep	*k;
	unsigned char	 from[PD_SHA256_LEN];	/* manifest ids */
	unsigned char	 to[PD_SHA256_LEN];
	struct pr_entry	 ents[8];		/* content of the new tree */
	struct pr_entry	 bases[8];		/* and of the old */
	struct nd_xitem	 items[8];
};

static void
fix_open(struct fix *f)
{
	char name[16];
	size_t i;

	memset(f, 0, sizeof(*f));
	f->tmp = unit_tmpdir();
	unit_pjoin(f->data, sizeof(f->data), f->tmp, "data");
	unit_pjoin(f->tmpdir, sizeof(f->tmpdir), f->tmp, "data/staging/t/tmp");
	CU_ASSERT_EQUAL_FATAL(cat_open(f->data, CAT_CREATE, &f->c, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_mkdirs(f->tmpdir, 0700, NULL), PD_OK);
	f->tmpfd = open(f->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CU_ASSERT_FATAL(f->tmpfd >= 0);
	CU_ASSERT_EQUAL_FATAL(nd_keep_new(f->c, f->tmpfd, &f->k, NULL),
	    PD_OK);
	memset(f->from, 0xa1, sizeof(f->from));
	memset(f->to, 0xb2, sizeof(f->to));
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "new %zu", i);
		CU_ASSERT_EQUAL_FATAL(pd_sha256(name, strlen(name),
		    f->ents[i].sha), PD_OK);
		f->ents[i].size = 1000 + i;
		f->ents[i].type = PR_FILE;
		snprintf(name, sizeof(name), "old %zu", i);
		CU_ASSERT_EQUAL_FATAL(pd_sha256(name, strlen(name),
		    f->bases[i].sha), PD_OK);
		f->items[i].e = &f->ents[i];
		f->items[i].basis = &f->bases[i];
		f->items[i].done = true;
	}
}

static void
fix_close(struct fix *f)
{
	nd_keep_free(f->k);
	close(f->tmpfd);
	cat_close(f->c);
	unit_rmdir(f->tmp);
}

/* Files in the staging tmp directory. */
static int
tmp_files(struct fix *f)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d = opendir(f->tmpdir));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static enum pd_err
buf_sink(void *arg, const void *p, size_t n)
{
	return pd_buf_add(arg, p, n);
}

/* p as one zstd frame, appended to out. */
static void
zstd_of(const void *p, size_t n, struct pd_buf *out)
{
	struct dl_zenc *z;

	CU_ASSERT_EQUAL_FATAL(dl_zenc_new(3, false, &z, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(dl_zenc_feed(z, p, n, buf_sink, out, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(dl_zenc_finish(z, buf_sink, out, NULL), PD_OK);
	dl_zenc_free(z);
}

/* A body that came as the bytes p (in two pieces, as a fetch gives). */
static struct nd_keep_raw *
came(struct fix *f, bool zstd, const void *p, size_t n, uint64_t cap)
{
	struct nd_keep_raw *r = nd_keep_raw_new(f->k, cap);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	nd_keep_raw_write(r, zstd, p, n / 2);
	nd_keep_raw_write(r, zstd, (const char *)p + n / 2, n - n / 2);
	return r;
}

/* The file DATA/rel holds exactly p. */
static bool
file_is(struct fix *f, const char *rel, const void *p, size_t n)
{
	char path[4096 + 8192 + 2];
	struct pd_buf b;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", f->data, rel);
	pd_buf_init(&b, 1 << 24);
	ok = pd_read_file(path, 1 << 24, &b, NULL) == PD_OK && b.len == n &&
	    (n == 0 || memcmp(b.data, p, n) == 0);
	pd_buf_free(&b);
	return ok;
}

static bool
exists(struct fix *f, const char *rel)
{
	char path[4096 + 8192 + 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->data, rel);
	return lstat(path, &st) == 0;
}

static void
commit_records(struct fix *f)
{
	struct cat_txn *t;

	CU_ASSERT_EQUAL_FATAL(cat_begin(f->c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(nd_keep_records(f->k, t, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
}

static void
test_every_kind(void)
{
	static const char plain_delta[] = "a plain librsync delta, as a "
	    "batch gives it, decoded";
	static const char alone_delta[] = "a delta that came alone, zstd";
	static const char patch[] = "a manifest patch";
	char obj[1006], name[ND_STEP_NAME_MAX + 16], rel[8192];
	char dname[ND_DC_NAME_LEN], hex[PD_SHA256_HEX];
	struct nd_xitem *part[3];
	struct nd_keep_stats st;
	struct nd_dcache_stats ds;
	struct nd_dcache *dc;
	struct nd_delta d;
	struct nd_zobj z;
	struct pd_buf zpack, zbatch, zobj, zdelta, zpatch;
	uint64_t plain;
	unsigned char key[PD_SHA256_LEN];
	struct fix f;
	int fd;

	fix_open(&f);
	nd_keep_step(f.k, f.from, f.to);
	pd_buf_init(&zpack, 1 << 20);
	pd_buf_init(&zbatch, 1 << 20);
	pd_buf_init(&zobj, 1 << 20);
	pd_buf_init(&zdelta, 1 << 20);
	pd_buf_init(&zpatch, 1 << 20);
	zstd_of("pack part records", 17, &zpack);
	zstd_of("batch records", 13, &zbatch);
	memset(obj, 'o', sizeof(obj));
	f.ents[3].size = sizeof(obj);
	zstd_of(obj, sizeof(obj), &zobj);
	zstd_of(alone_delta, sizeof(alone_delta), &zdelta);
	zstd_of(patch, sizeof(patch), &zpatch);

	/* A pack part of items 0-2, a batch of item 3: all ended well. */
	part[0] = &f.items[0];
	part[1] = &f.items[1];
	part[2] = &f.items[2];
	nd_keep_pack(came(&f, true, zpack.data, zpack.len, 1 << 20), 0, part,
	    3);
	memset(key, 0x5c, sizeof(key));
	nd_keep_batch(came(&f, true, zbatch.data, zbatch.len, 1 << 20), key,
	    &part[2], 1);
	nd_keep_object(came(&f, true, zobj.data, zobj.len, 1 << 20),
	    &f.items[3]);
	CU_ASSERT_TRUE(nd_keep_zdelta(came(&f, true, zdelta.data, zdelta.len,
	    1 << 20), &f.items[4], sizeof(alone_delta)));
	unit_write(f.tmpdir, "d.delta", plain_delta, sizeof(plain_delta));
	nd_keep_delta(f.k, &f.items[5], f.tmpfd, "d.delta");
	nd_keep_whole(f.k, &f.items[6]);
	nd_keep_mpatch(f.k, patch, sizeof(patch), zpatch.data, zpatch.len);
	/* Nothing is in place before install. */
	nd_pack_name(f.from, f.to, 0, name);
	snprintf(rel, sizeof(rel), "packs/%.2s/%s.zst", name, name);
	CU_ASSERT_FALSE(exists(&f, rel));
	CU_ASSERT_EQUAL(tmp_files(&f), 7);

	CU_ASSERT_EQUAL_FATAL(nd_keep_install(f.k, NULL), PD_OK);
	CU_ASSERT_EQUAL(tmp_files(&f), 0);
	CU_ASSERT_TRUE(file_is(&f, rel, zpack.data, zpack.len));
	pd_hex_encode(key, PD_SHA256_LEN, hex);
	snprintf(rel, sizeof(rel), "batches/%.2s/%s.zst", hex, hex);
	CU_ASSERT_TRUE(file_is(&f, rel, zbatch.data, zbatch.len));
	nd_mpatch_name(f.from, f.to, name);
	snprintf(rel, sizeof(rel), "mpatches/%.2s/%s", name, name);
	CU_ASSERT_TRUE(file_is(&f, rel, patch, sizeof(patch)));
	snprintf(rel, sizeof(rel), "mpatches/%.2s/%s.zst", name, name);
	CU_ASSERT_TRUE(file_is(&f, rel, zpatch.data, zpatch.len));
	nd_dc_delta_name(f.bases[4].sha, f.ents[4].sha, dname);
	snprintf(rel, sizeof(rel), "deltas/%s", dname);
	CU_ASSERT_TRUE(file_is(&f, rel, zdelta.data, zdelta.len));
	nd_keep_stats(f.k, &st);
	CU_ASSERT_EQUAL(st.packs, 1);
	CU_ASSERT_EQUAL(st.batches, 1);
	CU_ASSERT_EQUAL(st.mpatches, 1);
	CU_ASSERT_EQUAL(st.objects, 1);
	CU_ASSERT_EQUAL(st.deltas, 2);
	CU_ASSERT_EQUAL(st.wholes, 1);

	/* Without their records the cache trusts none of its files. */
	CU_ASSERT_EQUAL_FATAL(nd_dcache_new(f.c, &dc, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_delta_lookup(f.c, f.bases[4].sha, f.ents[4].sha,
	    &(struct cat_delta){ 0 }, NULL), PD_ERR_NOTFOUND);
	commit_records(&f);
	/* With them, it answers from them, computing nothing (it holds
	 * none of these objects: it could not). */
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(dc, f.bases[4].sha,
	    f.ents[4].sha, &d, NULL), PD_OK);
	CU_ASSERT_EQUAL(d.kind, ND_DELTA_DELTA);
	CU_ASSERT_EQUAL(d.size, sizeof(alone_delta));
	CU_ASSERT_EQUAL(d.zsize, zdelta.len);
	close(d.fd);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(dc, f.bases[5].sha,
	    f.ents[5].sha, &d, NULL), PD_OK);
	CU_ASSERT_EQUAL(d.kind, ND_DELTA_DELTA);
	CU_ASSERT_EQUAL(d.size, sizeof(plain_delta));
	/* Compressed here, it decodes to what came. */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CU_ASSERT_EQUAL(dl_zdecompress_fd(d.fd, fd, 1 << 20, &plain, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(plain, sizeof(plain_delta));
	close(fd);
	close(d.fd);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_delta(dc, f.bases[6].sha,
	    f.ents[6].sha, &d, NULL), PD_OK);
	CU_ASSERT_EQUAL(d.kind, ND_DELTA_WHOLE);
	CU_ASSERT_EQUAL_FATAL(nd_dcache_zobj(dc, f.ents[3].sha, &z, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(z.size, sizeof(obj));
	CU_ASSERT_EQUAL(z.zsize, zobj.len);
	close(z.fd);
	nd_dcache_stats(dc, &ds);
	CU_ASSERT_EQUAL(ds.deltas_made + ds.wholes + ds.zobj_made, 0);
	CU_ASSERT_EQUAL(ds.hits, 4);
	nd_dcache_free(dc);
	pd_buf_free(&zpack);
	pd_buf_free(&zbatch);
	pd_buf_free(&zobj);
	pd_buf_free(&zdelta);
	pd_buf_free(&zpatch);
	fix_close(&f);
}

static void
test_dropped(void)
{
	struct nd_xitem *two[2];
	struct nd_keep_stats st;
	struct pd_buf zb;
	unsigned char key[PD_SHA256_LEN];
	struct fix f;

	fix_open(&f);
	nd_keep_step(f.k, f.from, f.to);
	pd_buf_init(&zb, 1 << 20);
	zstd_of("records", 7, &zb);
	memset(key, 1, sizeof(key));
	two[0] = &f.items[0];
	two[1] = &f.items[1];
	/* An item not done, one in trouble: their response goes. */
	f.items[1].done = false;
	nd_keep_pack(came(&f, true, zb.data, zb.len, 1 << 20), 0, two, 2);
	f.items[2].trouble = true;
	nd_keep_batch(came(&f, true, zb.data, zb.len, 1 << 20), key,
	    &two[0], 1);
	nd_keep_whole(f.k, &f.items[2]);
	unit_write(f.tmpdir, "d.delta", "delta", 5);
	nd_keep_delta(f.k, &f.items[2], f.tmpfd, "d.delta");
	/* A pack that came plain, a batch over its cap, a body whose
	 * encoding changed midway: not in the form the server keeps. */
	nd_keep_pack(came(&f, false, "records", 7, 1 << 20), 1, &two[0], 1);
	key[0] = 2;
	nd_keep_batch(came(&f, true, zb.data, zb.len, zb.len - 1), key,
	    &two[0], 1);
	{
		struct nd_keep_raw *r = nd_keep_raw_new(f.k, 1 << 20);

		nd_keep_raw_write(r, true, zb.data, 3);
		nd_keep_raw_write(r, false, zb.data + 3, zb.len - 3);
		key[0] = 3;
		nd_keep_batch(r, key, &two[0], 1);
	}
	/* An object that came plain but not whole. */
	nd_keep_object(came(&f, false, "short", 5, 1 << 20), &f.items[0]);
	/* Dropped raw bodies and NULL keepers are no-ops. */
	nd_keep_raw_drop(came(&f, true, "x", 1, 10));
	nd_keep_raw_drop(NULL);
	nd_keep_pack(NULL, 0, two, 2);
	nd_keep_whole(NULL, &f.items[0]);
	CU_ASSERT_PTR_NULL(nd_keep_raw_new(NULL, 10));
	CU_ASSERT_EQUAL(nd_keep_install(NULL, NULL), PD_OK);

	CU_ASSERT_EQUAL_FATAL(nd_keep_install(f.k, NULL), PD_OK);
	nd_keep_stats(f.k, &st);
	CU_ASSERT_EQUAL(st.packs + st.batches + st.objects + st.deltas +
	    st.wholes + st.mpatches, 1);
	/* The batch whose one item ended well is the one kept. */
	CU_ASSERT_EQUAL(st.batches, 1);
	CU_ASSERT_EQUAL(tmp_files(&f), 0);
	CU_ASSERT_FALSE(exists(&f, "packs"));
	pd_buf_free(&zb);
	fix_close(&f);
}

static void
test_kept_already(void)
{
	char name[ND_STEP_NAME_MAX + 16], rel[8192], dir[8192];
	struct nd_xitem *one[1];
	struct nd_keep_stats st;
	struct cat_delta d = { CAT_DELTA_WHOLE, 0, 0 };
	struct cat_txn *t;
	struct pd_buf zb;
	struct fix f;

	fix_open(&f);
	nd_keep_step(f.k, f.from, f.to);
	pd_buf_init(&zb, 1 << 20);
	zstd_of("records", 7, &zb);
	one[0] = &f.items[0];
	/* A pack part the server made already stays as it is. */
	nd_pack_name(f.from, f.to, 0, name);
	snprintf(dir, sizeof(dir), "%s/packs/%.2s", f.data, name);
	CU_ASSERT_EQUAL_FATAL(pd_mkdirs(dir, 0755, NULL), PD_OK);
	snprintf(rel, sizeof(rel), "%s.zst", name);
	unit_write(dir, rel, "made here", 9);
	nd_keep_pack(came(&f, true, zb.data, zb.len, 1 << 20), 0, one, 1);
	/* A delta the cache has a record of stays as it is. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(f.c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_delta_put(t, f.bases[1].sha, f.ents[1].sha, &d,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	unit_write(f.tmpdir, "d.delta", "delta", 5);
	nd_keep_delta(f.k, &f.items[1], f.tmpfd, "d.delta");
	CU_ASSERT_EQUAL_FATAL(nd_keep_install(f.k, NULL), PD_OK);
	nd_keep_stats(f.k, &st);
	CU_ASSERT_EQUAL(st.packs, 0);
	CU_ASSERT_EQUAL(st.deltas, 0);
	snprintf(rel, sizeof(rel), "packs/%.2s/%s.zst", name, name);
	CU_ASSERT_TRUE(file_is(&f, rel, "made here", 9));
	commit_records(&f);
	CU_ASSERT_EQUAL(cat_delta_lookup(f.c, f.bases[1].sha, f.ents[1].sha,
	    &d, NULL), PD_OK);
	CU_ASSERT_EQUAL(d.kind, CAT_DELTA_WHOLE);
	CU_ASSERT_EQUAL(tmp_files(&f), 0);
	pd_buf_free(&zb);
	fix_close(&f);
}

static void
test_plain_forms(void)
{
	char obj[1000], name[ND_STEP_NAME_MAX + 16], rel[8192];
	char zname[ND_DC_NAME_LEN];
	struct nd_keep_stats st;
	struct cat_zobj z;
	struct fix f;

	fix_open(&f);
	/* An object zstd did not shrink comes plain: an empty file and
	 * a record that says so, as the cache keeps it. */
	memset(obj, 'x', sizeof(obj));
	f.ents[0].size = sizeof(obj);
	nd_keep_object(came(&f, false, obj, sizeof(obj), 1 << 20),
	    &f.items[0]);
	/* Without a step, no patch; with it, a 303 keeps an empty one. */
	nd_keep_mpatch(f.k, "p", 1, NULL, 0);
	CU_ASSERT_EQUAL(tmp_files(&f), 1);
	nd_keep_step(f.k, f.from, f.to);
	nd_keep_mpatch(f.k, "", 0, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(nd_keep_install(f.k, NULL), PD_OK);
	commit_records(&f);
	nd_keep_stats(f.k, &st);
	CU_ASSERT_EQUAL(st.objects, 1);
	CU_ASSERT_EQUAL(st.mpatches, 1);
	nd_dc_zobj_name(f.ents[0].sha, zname);
	snprintf(rel, sizeof(rel), "zobjects/%s", zname);
	CU_ASSERT_TRUE(file_is(&f, rel, "", 0));
	CU_ASSERT_EQUAL(cat_zobj_lookup(f.c, f.ents[0].sha, &z, NULL), PD_OK);
	CU_ASSERT_EQUAL(z.size, sizeof(obj));
	CU_ASSERT(z.zsize >= z.size);
	nd_mpatch_name(f.from, f.to, name);
	snprintf(rel, sizeof(rel), "mpatches/%.2s/%s", name, name);
	CU_ASSERT_TRUE(file_is(&f, rel, "", 0));
	snprintf(rel, sizeof(rel), "mpatches/%.2s/%s.zst", name, name);
	CU_ASSERT_FALSE(exists(&f, rel));
	CU_ASSERT_EQUAL(tmp_files(&f), 0);
	fix_close(&f);
}

static void
test_free_drops(void)
{
	struct fix f;

	fix_open(&f);
	nd_keep_step(f.k, f.from, f.to);
	nd_keep_mpatch(f.k, "p", 1, "z", 1);
	nd_keep_whole(f.k, &f.items[0]);
	nd_keep_object(came(&f, false, "x", 1, 10), &f.items[0]);
	CU_ASSERT_EQUAL(tmp_files(&f), 3);
	/* Not installed: freeing leaves nothing behind. */
	nd_keep_free(f.k);
	f.k = NULL;
	CU_ASSERT_EQUAL(tmp_files(&f), 0);
	CU_ASSERT_FALSE(exists(&f, "mpatches"));
	fix_close(&f);
}

static int
suite_keep(void)
{
	static const struct unit_test tests[] = {
		{ "every kind kept, served by the cache", test_every_kind },
		{ "unverified or misformed offers dropped", test_dropped },
		{ "what is kept already stays", test_kept_already },
		{ "incompressible objects, 303 patches", test_plain_forms },
		{ "free drops what was not installed", test_free_drops },
	};

	return UNIT_SUITE("keep", NULL, NULL, tests);
}

UNIT_REGISTER("keep", suite_keep)
