/*
 * A mirror's keeper of what it received (keep.h).
 *
 * DESIGN: an offer is an entry on a list under a mutex; its bytes are a
 * temp file "keep.SEQ" in the pull's staging tmp directory.  Install
 * runs once, after every transfer: entries whose items did not all end
 * well are dropped, plain deltas are compressed, one syncfs makes every
 * kept byte durable, then each file is renamed to its name and a second
 * syncfs makes the names durable.  So a file served on sight (a pack
 * part, a batch, a manifest patch: the server trusts what it finds under
 * those names) is whole whenever it has its name, and a file of the
 * delta cache is durable under its name before its record, written with
 * the version, can commit.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../delta/zstd.h"
#include "dcache.h"
#include "keep.h"
#include "prepare.h"
#include "xfer.h"

#define TMP_LEN		32
#define NAME_LEN	(ND_STEP_NAME_MAX + ND_DC_NAME_LEN + 8)

enum kind {
	K_PACK,		/* a pack part, zstd as it came */
	K_BATCH,	/* a batch response, zstd as it came */
	K_MPATCH,	/* the manifest patch, plain and zstd */
	K_ZOBJ,		/* an object's compressed form as it came */
	K_ZDELTA,	/* a delta as it came alone */
	K_DELTA,	/* a plain delta, compressed at install */
	K_WHOLE,	/* a delta judged not worth it: a record only */
};

struct entry {
	enum kind	 kind;
	char		 tmp[TMP_LEN];	/* its bytes in tmpfd; "" none */
	char		 ztmp[TMP_LEN];	/* a patch's zstd form; "" none */
	bool		 zstd;		/* tmp is a zstd stream */
	uint64_t	 len;		/* bytes in tmp */
	uint64_t	 size;		/* plain bytes of an object, a delta */
	unsigned char	 a[PD_SHA256_LEN];	/* delta from, batch key */
	unsigned char	 b[PD_SHA256_LEN];	/* delta to, object */
	uint32_t	 part;
	struct nd_xitem	**items;	/* must all end well */
	size_t		 n;
	struct entry	*next;
};

struct nd_keep {
	struct cat	*cat;
	int		 tmpfd;
	pthread_mutex_t	 mu;		/* guards offers */
	struct entry	*offers;
	struct entry	*kept;		/* installed, records to write */
	bool		 has_step;
	unsigned char	 from[PD_SHA256_LEN];
	unsigned char	 to[PD_SHA256_LEN];
	struct nd_keep_stats st;
};

struct nd_keep_raw {
	struct nd_keep	*k;
	int		 fd;
	char		 tmp[TMP_LEN];
	uint64_t	 len;
	uint64_t	 cap;
	bool		 zstd;
	bool		 started;
	bool		 bad;		/* not to be kept */
};

static atomic_ulong seq;

/* A new temp file in the staging tmp directory, for writing. */
static int
tmp_create(struct nd_keep *k, char name[TMP_LEN])
{
	snprintf(name, TMP_LEN, "keep.%lu",
	    (unsigned long)atomic_fetch_add(&seq, 1));
	/* 0644: it becomes a file the server reads, as nd_derived's. */
	return openat(k->tmpfd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0644);
}

static void
tmp_drop(struct nd_keep *k, char name[TMP_LEN])
{
	if (name[0] != '\0')
		unlinkat(k->tmpfd, name, 0);
	name[0] = '\0';
}

static void
entry_free(struct nd_keep *k, struct entry *e, bool drop)
{
	if (drop) {
		tmp_drop(k, e->tmp);
		tmp_drop(k, e->ztmp);
	}
	pd_free(e->items);
	pd_free(e);
}

static struct entry *
entry_new(enum kind kind, struct nd_xitem *const *items, size_t n)
{
	struct entry *e;

	if ((e = pd_calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->kind = kind;
	if (n > 0 && (e->items = pd_calloc(n, sizeof(*items))) == NULL) {
		pd_free(e);
		return NULL;
	}
	if (n > 0)
		memcpy(e->items, items, n * sizeof(*items));
	e->n = n;
	return e;
}

static void
offer(struct nd_keep *k, struct entry *e)
{
	pthread_mutex_lock(&k->mu);
	e->next = k->offers;
	k->offers = e;
	pthread_mutex_unlock(&k->mu);
}

enum pd_err
nd_keep_new(struct cat *c, int tmpfd, struct nd_keep **out,
    struct pd_error *err)
{
	struct nd_keep *k;

	*out = NULL;
	if ((k = pd_calloc(1, sizeof(*k))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "keeping what comes");
	k->cat = c;
	k->tmpfd = tmpfd;
	pthread_mutex_init(&k->mu, NULL);
	*out = k;
	return PD_OK;
}

void
nd_keep_free(struct nd_keep *k)
{
	struct entry *e;

	if (k == NULL)
		return;
	while ((e = k->offers) != NULL) {
		k->offers = e->next;
		entry_free(k, e, true);
	}
	while ((e = k->kept) != NULL) {
		k->kept = e->next;
		entry_free(k, e, false);
	}
	pthread_mutex_destroy(&k->mu);
	pd_free(k);
}

void
nd_keep_step(struct nd_keep *k, const unsigned char *from,
    const unsigned char *to)
{
	if (k == NULL)
		return;
	memcpy(k->from, from, PD_SHA256_LEN);
	memcpy(k->to, to, PD_SHA256_LEN);
	k->has_step = true;
}

/* ---- bodies as they come ---- */

struct nd_keep_raw *
nd_keep_raw_new(struct nd_keep *k, uint64_t cap)
{
	struct nd_keep_raw *r;

	if (k == NULL || (r = pd_calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->k = k;
	r->cap = cap;
	if ((r->fd = tmp_create(k, r->tmp)) < 0) {
		pd_free(r);
		return NULL;
	}
	return r;
}

void
nd_keep_raw_write(void *arg, bool zstd, const void *p, size_t n)
{
	struct nd_keep_raw *r = arg;

	if (r == NULL || r->bad)
		return;
	if (!r->started) {
		r->zstd = zstd;
		r->started = true;
	}
	/* Another response after a retry, a body over its cap, a full
	 * disk: this one is not kept, the transfer goes on. */
	if (zstd != r->zstd || n > r->cap - r->len ||
	    pd_write_all(r->fd, p, n) != PD_OK) {
		r->bad = true;
		return;
	}
	r->len += n;
}

void
nd_keep_raw_drop(struct nd_keep_raw *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	tmp_drop(r->k, r->tmp);
	pd_free(r);
}

/* Move raw's file into e (and free raw); false if it is no good. */
static bool
raw_take(struct nd_keep_raw *r, struct entry *e)
{
	int rc = close(r->fd);

	r->fd = -1;
	if (rc < 0 || r->bad || !r->started) {
		nd_keep_raw_drop(r);
		return false;
	}
	memcpy(e->tmp, r->tmp, TMP_LEN);
	e->zstd = r->zstd;
	e->len = r->len;
	pd_free(r);
	return true;
}

/* Offer raw's body as an entry of this kind (raw is taken over). */
static struct entry *
offer_raw(struct nd_keep_raw *r, enum kind kind,
    struct nd_xitem *const *items, size_t n)
{
	struct entry *e;

	if (r == NULL)
		return NULL;
	if ((e = entry_new(kind, items, n)) == NULL) {
		nd_keep_raw_drop(r);
		return NULL;
	}
	if (!raw_take(r, e)) {
		entry_free(NULL, e, false);
		return NULL;
	}
	return e;
}

void
nd_keep_pack(struct nd_keep_raw *r, uint32_t part,
    struct nd_xitem *const *items, size_t n)
{
	struct nd_keep *k = r ? r->k : NULL;
	struct entry *e;

	if ((e = offer_raw(r, K_PACK, items, n)) == NULL)
		return;
	e->part = part;
	offer(k, e);
}

void
nd_keep_batch(struct nd_keep_raw *r, const unsigned char *key,
    struct nd_xitem *const *items, size_t n)
{
	struct nd_keep *k = r ? r->k : NULL;
	struct entry *e;

	if ((e = offer_raw(r, K_BATCH, items, n)) == NULL)
		return;
	memcpy(e->a, key, PD_SHA256_LEN);
	offer(k, e);
}

void
nd_keep_object(struct nd_keep_raw *r, struct nd_xitem *it)
{
	struct nd_keep *k = r ? r->k : NULL;
	struct entry *e;

	if ((e = offer_raw(r, K_ZOBJ, &it, 1)) == NULL)
		return;
	memcpy(e->b, it->e->sha, PD_SHA256_LEN);
	e->size = it->e->size;
	offer(k, e);
}

bool
nd_keep_zdelta(struct nd_keep_raw *r, struct nd_xitem *it, uint64_t size)
{
	struct nd_keep *k = r ? r->k : NULL;
	struct entry *e;

	if ((e = offer_raw(r, K_ZDELTA, &it, 1)) == NULL)
		return false;
	memcpy(e->a, it->basis->sha, PD_SHA256_LEN);
	memcpy(e->b, it->e->sha, PD_SHA256_LEN);
	e->size = size;
	/* As it came plain, it is compressed at install like the rest. */
	if (!e->zstd)
		e->kind = K_DELTA;
	offer(k, e);
	return true;
}

void
nd_keep_delta(struct nd_keep *k, struct nd_xitem *it, int dirfd,
    const char *name)
{
	struct entry *e;

	if (k == NULL || (e = entry_new(K_DELTA, &it, 1)) == NULL)
		return;
	memcpy(e->a, it->basis->sha, PD_SHA256_LEN);
	memcpy(e->b, it->e->sha, PD_SHA256_LEN);
	snprintf(e->tmp, TMP_LEN, "keep.%lu",
	    (unsigned long)atomic_fetch_add(&seq, 1));
	if (renameat(dirfd, name, k->tmpfd, e->tmp) < 0) {
		e->tmp[0] = '\0';
		entry_free(k, e, false);
		return;
	}
	offer(k, e);
}

void
nd_keep_whole(struct nd_keep *k, struct nd_xitem *it)
{
	struct entry *e;

	if (k == NULL || (e = entry_new(K_WHOLE, &it, 1)) == NULL)
		return;
	memcpy(e->a, it->basis->sha, PD_SHA256_LEN);
	memcpy(e->b, it->e->sha, PD_SHA256_LEN);
	offer(k, e);
}

/* Write p to a new temp file named into name; false if it failed. */
static bool
tmp_write(struct nd_keep *k, const void *p, size_t n, char name[TMP_LEN])
{
	int fd;
	bool ok;

	if ((fd = tmp_create(k, name)) < 0) {
		name[0] = '\0';
		return false;
	}
	ok = pd_write_all(fd, p, n) == PD_OK;
	ok = close(fd) == 0 && ok;
	if (!ok)
		tmp_drop(k, name);
	return ok;
}

void
nd_keep_mpatch(struct nd_keep *k, const void *plain, size_t len,
    const void *z, size_t zlen)
{
	struct entry *e;

	if (k == NULL || !k->has_step ||
	    (e = entry_new(K_MPATCH, NULL, 0)) == NULL)
		return;
	e->len = len;
	if (!tmp_write(k, plain, len, e->tmp) ||
	    (zlen > 0 && len > 0 && !tmp_write(k, z, zlen, e->ztmp))) {
		entry_free(k, e, true);
		return;
	}
	offer(k, e);
}

/* ---- install ---- */

/* The data directory's areas files go to, opened when first needed. */
enum area { A_PACKS, A_BATCHES, A_MPATCHES, A_ZOBJS, A_DELTAS, A_N };
static const char *const area_names[A_N] = {
	"packs", "batches", "mpatches", "zobjects", "deltas",
};

struct install {
	struct nd_keep	*k;
	int		 fd[A_N];
	struct pd_error	*err;
};

/* Every item the entry carried ended verified, untroubled. */
static bool
ended_well(const struct entry *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (!e->items[i]->done || e->items[i]->trouble)
			return false;
	return true;
}

/* Whether e is worth installing: the right form, not already kept. */
static bool
worth(struct nd_keep *k, const struct entry *e)
{
	struct cat_delta d;
	struct cat_zobj z;

	switch (e->kind) {
	case K_PACK:
	case K_BATCH:
		/* The server keeps these compressed only. */
		return e->zstd && e->len > 0;
	case K_MPATCH:
		return k->has_step;
	case K_ZOBJ:
		if (!e->zstd && e->len != e->size)
			return false;
		return cat_zobj_lookup(k->cat, e->b, &z, NULL) != PD_OK;
	case K_ZDELTA:
	case K_DELTA:
	case K_WHOLE:
		return cat_delta_lookup(k->cat, e->a, e->b, &d, NULL) !=
		    PD_OK;
	}
	return false;
}

/*
 * Give e the form the cache keeps: a plain delta compressed (as the
 * delta cache compresses what it makes); an object that came plain
 * (zstd did not shrink it) an empty file.
 */
static enum pd_err
prepare(struct nd_keep *k, struct entry *e, struct pd_error *err)
{
	char ztmp[TMP_LEN];
	struct stat st;
	enum pd_err rc;
	uint64_t zlen;
	int in, out;

	if (e->kind == K_ZOBJ && (!e->zstd || e->len >= e->size)) {
		tmp_drop(k, e->tmp);
		if (!tmp_write(k, "", 0, e->tmp))
			return pd_fail_errno(err, PD_ERR_IO, errno, "keeping "
			    "a compressed object");
		e->len = e->zstd ? e->len : e->size;
		return PD_OK;
	}
	if (e->kind != K_DELTA)
		return PD_OK;
	if ((in = openat(k->tmpfd, e->tmp, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fstat(in, &st) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "keeping a delta");
		if (in >= 0)
			close(in);
		return rc;
	}
	if ((out = tmp_create(k, ztmp)) < 0) {
		close(in);
		return pd_fail_errno(err, PD_ERR_IO, errno, "keeping a delta");
	}
	rc = dl_zcompress_fd(in, out, DL_ZLEVEL_KEPT, NULL, &zlen, err);
	close(in);
	if (close(out) < 0 && rc == PD_OK)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "keeping a delta");
	tmp_drop(k, e->tmp);
	memcpy(e->tmp, ztmp, TMP_LEN);
	if (rc != PD_OK)
		return pd_prefix(err, "keeping a delta");
	e->zstd = true;
	e->size = (uint64_t)st.st_size;
	e->len = zlen;
	return PD_OK;
}

/* DATA/name, made if missing. */
static int
area_fd(struct install *in, enum area a)
{
	char path[4096];

	if (in->fd[a] >= 0)
		return in->fd[a];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cat_dir(in->k->cat),
	    area_names[a]) >= sizeof(path)) {
		pd_fail(in->err, PD_ERR_LIMIT, "%s: path too long",
		    cat_dir(in->k->cat));
		return -1;
	}
	if ((mkdir(path, 0755) < 0 && errno != EEXIST) ||
	    (in->fd[a] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		pd_fail_errno(in->err, PD_ERR_IO, errno, "%s", path);
	return in->fd[a];
}

/*
 * Rename the temp file tmp to DATA/AREA/XX/name (XX: name's first two
 * characters), or to "XX/..." as given when name has its directory.
 * With noreplace a file already there stays (and tmp goes): the server
 * trusts what it finds under such names.  *placed says whether it moved.
 */
static enum pd_err
place(struct install *in, enum area a, char tmp[TMP_LEN], const char *name,
    bool noreplace, bool *placed)
{
	char rel[NAME_LEN + 4], sub[3];
	int afd;

	*placed = false;
	if ((afd = area_fd(in, a)) < 0)
		return in->err->code;
	if (strchr(name, '/') != NULL)
		snprintf(rel, sizeof(rel), "%s", name);
	else
		snprintf(rel, sizeof(rel), "%.2s/%s", name, name);
	memcpy(sub, rel, 2);
	sub[2] = '\0';
	if (mkdirat(afd, sub, 0755) < 0 && errno != EEXIST)
		return pd_fail_errno(in->err, PD_ERR_IO, errno, "%s/%s/%s",
		    cat_dir(in->k->cat), area_names[a], sub);
	if (renameat2(in->k->tmpfd, tmp, afd, rel, noreplace ?
	    RENAME_NOREPLACE : 0) == 0) {
		tmp[0] = '\0';
		*placed = true;
		return PD_OK;
	}
	if (errno == EEXIST) {
		tmp_drop(in->k, tmp);
		return PD_OK;
	}
	return pd_fail_errno(in->err, PD_ERR_IO, errno, "keeping %s/%s/%s",
	    cat_dir(in->k->cat), area_names[a], rel);
}

/* Put e's files where the server looks for them. */
static enum pd_err
install_one(struct install *in, struct entry *e)
{
	struct nd_keep *k = in->k;
	struct nd_keep_stats *st = &k->st;
	char name[NAME_LEN];
	enum pd_err rc = PD_OK;
	bool placed = false, zplaced = false;
	size_t len;

	switch (e->kind) {
	case K_PACK:
		nd_pack_name(k->from, k->to, e->part, name);
		len = strlen(name);
		snprintf(name + len, sizeof(name) - len, ".zst");
		if ((rc = place(in, A_PACKS, e->tmp, name, true, &placed)) ==
		    PD_OK && placed)
			st->packs++;
		break;
	case K_BATCH:
		pd_hex_encode(e->a, PD_SHA256_LEN, name);
		snprintf(name + 2 * PD_SHA256_LEN, sizeof(name) -
		    2 * PD_SHA256_LEN, ".zst");
		if ((rc = place(in, A_BATCHES, e->tmp, name, true, &placed)) ==
		    PD_OK && placed)
			st->batches++;
		break;
	case K_MPATCH:
		/* The compressed form first: the plain one is what the
		 * server looks for before it looks for the other. */
		nd_mpatch_name(k->from, k->to, name);
		len = strlen(name);
		snprintf(name + len, sizeof(name) - len, ".zst");
		if (e->ztmp[0] != '\0' && (rc = place(in, A_MPATCHES, e->ztmp,
		    name, true, &zplaced)) != PD_OK)
			break;
		name[len] = '\0';
		if ((rc = place(in, A_MPATCHES, e->tmp, name, true,
		    &placed)) == PD_OK && placed)
			st->mpatches++;
		break;
	case K_ZOBJ:
		nd_dc_zobj_name(e->b, name);
		if ((rc = place(in, A_ZOBJS, e->tmp, name, false, &placed)) ==
		    PD_OK && placed)
			st->objects++;
		break;
	case K_ZDELTA:
	case K_DELTA:
		nd_dc_delta_name(e->a, e->b, name);
		if ((rc = place(in, A_DELTAS, e->tmp, name, false, &placed)) ==
		    PD_OK && placed)
			st->deltas++;
		break;
	case K_WHOLE:
		st->wholes++;
		return PD_OK;
	}
	if (placed)
		st->bytes += e->len;
	if (rc == PD_OK && !placed)
		return PD_ERR_EXISTS;
	return rc;
}

enum pd_err
nd_keep_install(struct nd_keep *k, struct pd_error *err)
{
	struct install in = { k, { -1, -1, -1, -1, -1 }, err };
	struct entry *list, *e, *next, **pp;
	enum pd_err rc = PD_OK;
	int i;

	if (k == NULL)
		return PD_OK;
	pthread_mutex_lock(&k->mu);
	list = k->offers;
	k->offers = NULL;
	pthread_mutex_unlock(&k->mu);
	/* What did not end well, or is kept already, goes. */
	for (pp = &list; (e = *pp) != NULL; ) {
		if (ended_well(e) && worth(k, e)) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		entry_free(k, e, true);
	}
	for (e = list; e != NULL && rc == PD_OK; e = e->next)
		rc = prepare(k, e, err);
	if (rc == PD_OK && list != NULL && syncfs(k->tmpfd) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "syncfs %s",
		    cat_dir(k->cat));
	for (e = list; e != NULL && rc == PD_OK; e = next) {
		next = e->next;
		list = next;
		if ((rc = install_one(&in, e)) == PD_OK) {
			e->next = k->kept;
			k->kept = e;
		} else {
			entry_free(k, e, true);
			if (rc == PD_ERR_EXISTS)
				rc = PD_OK;
		}
	}
	if (rc == PD_OK && k->kept != NULL && syncfs(k->tmpfd) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "syncfs %s",
		    cat_dir(k->cat));
	while ((e = list) != NULL) {
		list = e->next;
		entry_free(k, e, true);
	}
	for (i = 0; i < A_N; i++)
		if (in.fd[i] >= 0)
			close(in.fd[i]);
	return rc;
}

enum pd_err
nd_keep_records(struct nd_keep *k, struct cat_txn *t, struct pd_error *err)
{
	struct cat_delta d;
	struct cat_zobj z;
	struct entry *e;
	enum pd_err rc = PD_OK;

	if (k == NULL)
		return PD_OK;
	for (e = k->kept; e != NULL && rc == PD_OK; e = e->next) {
		switch (e->kind) {
		case K_ZOBJ:
			if (cat_zobj_get(t, e->b, &z, NULL) == PD_OK)
				break;
			z.size = e->size;
			z.zsize = e->len;
			rc = cat_zobj_put(t, e->b, &z, err);
			break;
		case K_ZDELTA:
		case K_DELTA:
		case K_WHOLE:
			if (cat_delta_get(t, e->a, e->b, &d, NULL) == PD_OK)
				break;
			d.kind = e->kind == K_WHOLE ? CAT_DELTA_WHOLE :
			    CAT_DELTA_DELTA;
			d.size = e->kind == K_WHOLE ? 0 : e->size;
			d.zsize = e->kind == K_WHOLE ? 0 : e->len;
			rc = cat_delta_put(t, e->a, e->b, &d, err);
			break;
		default:
			break;
		}
	}
	return rc;
}

void
nd_keep_stats(const struct nd_keep *k, struct nd_keep_stats *out)
{
	if (k == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = k->st;
}
