/*
 * The derived-content cache (dcache.h).
 *
 * DESIGN: a lookup reads the catalog record and opens the file; the file
 * counts only if its size is the record's (a torn or foreign file is
 * recomputed, never served).  A miss takes the key's flight: a small list
 * of keys being computed, under one mutex with one condition variable.
 * The first caller computes; later ones sleep until it is done, then read
 * the result from disk like any hit (or share its error).  Computing
 * writes DATA/<area>/tmp/PID.SEQ, fsyncs it, renames it over its name,
 * fsyncs the directory, then commits the record: the record is the
 * commit point, as for objects.
 *
 * Memory stays bounded: objects, plain deltas and compressed forms are
 * streamed between files through fixed buffers; the only thing that grows
 * with the input is the basis signature librsync keeps (delta/delta.h).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem.h"
#include "dcache_int.h"

/* A key being computed, and the outcome its waiters share. */
struct nd_dc_flight {
	unsigned char	 key[ND_DC_KEY_LEN];
	bool		 done;
	unsigned	 refs;		/* the leader and each waiter */
	enum pd_err	 rc;
	struct pd_error	 err;
	struct nd_dc_flight *next;
};

void
nd_dc_count(struct nd_dcache *d, uint64_t *counter)
{
	pthread_mutex_lock(&d->mu);
	(*counter)++;
	pthread_mutex_unlock(&d->mu);
}

/* Lookups: true and the open result if the cache holds it. */

/* The file name, if it is a regular file of exactly zsize bytes. */
static int
open_checked(struct nd_dc_area *a, const char *name, uint64_t zsize)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a fifo planted here must not hang us. */
	fd = openat(a->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != zsize) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
zobj_cached(struct nd_dcache *d, struct nd_dc_req *q)
{
	char name[ND_DC_NAME_LEN];
	struct cat_zobj z;
	int fd;

	if (cat_zobj_lookup(d->cat, q->to, &z, NULL) != PD_OK)
		return false;
	nd_dc_zobj_name(q->to, name);
	/* Incompressible content keeps an empty file (dcache.h). */
	if ((fd = open_checked(&d->z, name, z.zsize < z.size ? z.zsize :
	    0)) < 0)
		return false;
	q->zobj->fd = fd;
	q->zobj->zsize = z.zsize;
	q->zobj->size = z.size;
	return true;
}

static bool
delta_cached(struct nd_dcache *d, struct nd_dc_req *q)
{
	char name[ND_DC_NAME_LEN];
	struct cat_delta rec;
	int fd = -1;

	if (cat_delta_lookup(d->cat, q->from, q->to, &rec, NULL) != PD_OK)
		return false;
	if (rec.kind == CAT_DELTA_DELTA) {
		nd_dc_delta_name(q->from, q->to, name);
		if ((fd = open_checked(&d->d, name, rec.zsize)) < 0)
			return false;
	}
	q->delta->kind = rec.kind == CAT_DELTA_DELTA ? ND_DELTA_DELTA :
	    ND_DELTA_WHOLE;
	q->delta->fd = fd;
	q->delta->zsize = fd >= 0 ? rec.zsize : 0;
	q->delta->size = fd >= 0 ? rec.size : 0;
	return true;
}

/* Single flight. */

typedef bool cachedfn(struct nd_dcache *, struct nd_dc_req *);
typedef enum pd_err makefn(struct nd_dcache *, struct nd_dc_req *,
    struct pd_error *);

/*
 * Lead the computation of key (returns the flight, for flight_end), or
 * wait for the one in progress and return NULL with *rc its outcome (its
 * error in *err).  NULL and PD_ERR_NOMEM if no flight was made.
 */
static struct nd_dc_flight *
flight_begin(struct nd_dcache *d, const unsigned char *key, enum pd_err *rc,
    struct pd_error *err)
{
	struct nd_dc_flight *f;

	pthread_mutex_lock(&d->mu);
	for (f = d->flights; f != NULL; f = f->next)
		if (memcmp(f->key, key, ND_DC_KEY_LEN) == 0)
			break;
	if (f != NULL) {
		f->refs++;
		d->st.waits++;
		while (!f->done)
			pthread_cond_wait(&d->cv, &d->mu);
		*rc = f->rc;
		*err = f->err;
		if (--f->refs == 0)
			pd_free(f);
		pthread_mutex_unlock(&d->mu);
		return NULL;
	}
	if ((f = pd_calloc(1, sizeof(*f))) == NULL) {
		pthread_mutex_unlock(&d->mu);
		pd_error_clear(err);
		*rc = pd_fail(err, PD_ERR_NOMEM, "derived-content cache");
		return NULL;
	}
	memcpy(f->key, key, ND_DC_KEY_LEN);
	f->refs = 1;
	f->next = d->flights;
	d->flights = f;
	pthread_mutex_unlock(&d->mu);
	*rc = PD_OK;
	return f;
}

static void
flight_end(struct nd_dcache *d, struct nd_dc_flight *f, enum pd_err rc,
    const struct pd_error *err)
{
	struct nd_dc_flight **pp;

	pthread_mutex_lock(&d->mu);
	for (pp = &d->flights; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	f->done = true;
	f->rc = rc;
	f->err = *err;
	if (--f->refs == 0)
		pd_free(f);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/*
 * Answer q from the cache, or compute it once whoever else asks.  With
 * cached NULL (a delta being put) the caller always leads, after any
 * computation of the same key in progress.
 */
static enum pd_err
fly(struct nd_dcache *d, const unsigned char *key, struct nd_dc_req *q,
    cachedfn *cached, makefn *make, struct pd_error *err)
{
	struct pd_error local;
	struct nd_dc_flight *f;
	enum pd_err rc;

	if (cached != NULL && cached(d, q)) {
		nd_dc_count(d, &d->st.hits);
		return PD_OK;
	}
	for (;;) {
		if ((f = flight_begin(d, key, &rc, &local)) != NULL)
			break;
		/* A put leads in its turn, whatever the others did. */
		if (cached == NULL && rc != PD_ERR_NOMEM)
			continue;
		if (rc != PD_OK)
			return pd_fail(err, local.code, "%s", local.msg);
		/* Waited: the leader's result is on disk now. */
		if (cached(d, q))
			return PD_OK;
	}
	pd_error_clear(&local);
	/* A leader that finished just before this one began left it. */
	if (cached != NULL && cached(d, q)) {
		nd_dc_count(d, &d->st.hits);
		rc = PD_OK;
	} else
		rc = make(d, q, &local);
	flight_end(d, f, rc, &local);
	if (rc != PD_OK)
		return pd_fail(err, local.code, "%s", local.msg);
	return PD_OK;
}

enum pd_err
nd_dc_get_zobj(struct nd_dcache *d, const unsigned char *sha,
    struct nd_zobj *out, struct pd_error *err)
{
	unsigned char key[ND_DC_KEY_LEN];
	struct nd_dc_req q = { .to = sha, .zobj = out };

	memset(key, 0, sizeof(key));
	key[0] = ND_DC_KEY_ZOBJ;
	memcpy(key + 1, sha, PD_SHA256_LEN);
	out->fd = -1;
	return fly(d, key, &q, zobj_cached, nd_dc_make_zobj, err);
}

/* Public interface. */

enum pd_err
nd_dcache_new(struct cat *c, struct nd_dcache **out, struct pd_error *err)
{
	struct nd_dcache *d;
	enum pd_err rc;

	*out = NULL;
	if ((d = pd_calloc(1, sizeof(*d))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "derived-content cache");
	d->cat = c;
	d->z.fd = d->d.fd = -1;
	if ((rc = nd_dc_area_open(d, &d->z, "zobjects", err)) != PD_OK ||
	    (rc = nd_dc_area_open(d, &d->d, "deltas", err)) != PD_OK) {
		if (d->z.fd >= 0)
			close(d->z.fd);
		if (d->d.fd >= 0)
			close(d->d.fd);
		pd_free(d);
		return rc;
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	*out = d;
	return PD_OK;
}

void
nd_dcache_free(struct nd_dcache *d)
{
	if (d == NULL)
		return;
	/* Every call has returned by now: no flight is left. */
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	close(d->z.fd);
	close(d->d.fd);
	pd_free(d);
}

enum pd_err
nd_dcache_zobj(struct nd_dcache *d, const unsigned char *sha,
    struct nd_zobj *out, struct pd_error *err)
{
	return nd_dc_get_zobj(d, sha, out, err);
}

enum pd_err
nd_dcache_delta(struct nd_dcache *d, const unsigned char *from,
    const unsigned char *to, struct nd_delta *out, struct pd_error *err)
{
	unsigned char key[ND_DC_KEY_LEN];
	struct nd_dc_req q = { .from = from, .to = to, .delta = out };

	key[0] = ND_DC_KEY_DELTA;
	memcpy(key + 1, from, PD_SHA256_LEN);
	memcpy(key + 1 + PD_SHA256_LEN, to, PD_SHA256_LEN);
	out->fd = -1;
	return fly(d, key, &q, delta_cached, nd_dc_make_delta, err);
}

enum pd_err
nd_dcache_put_delta(struct nd_dcache *d, const unsigned char *from,
    const unsigned char *to, int plain_fd, struct pd_error *err)
{
	unsigned char key[ND_DC_KEY_LEN];
	struct nd_dc_req q = { .from = from, .to = to, .plain_fd = plain_fd };

	key[0] = ND_DC_KEY_DELTA;
	memcpy(key + 1, from, PD_SHA256_LEN);
	memcpy(key + 1 + PD_SHA256_LEN, to, PD_SHA256_LEN);
	return fly(d, key, &q, NULL, nd_dc_keep_delta, err);
}

void
nd_dcache_stats(struct nd_dcache *d, struct nd_dcache_stats *out)
{
	pthread_mutex_lock(&d->mu);
	*out = d->st;
	pthread_mutex_unlock(&d->mu);
}
