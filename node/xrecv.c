/*
 * What the transfer loops share (xfer_int.h): names in staging, item
 * troubles, and the receiver of one body, from its first byte to its
 * object staged (or given to the build) and checked.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../common/sha256.h"
#include "../protocol/pathenc.h"
#include "xfer_int.h"

void
nd_x_obj_name(const unsigned char *sha, char *out)
{
	pd_hex_encode(sha, PD_SHA256_LEN, out);
}

void
nd_x_part_name(const unsigned char *sha, char *out)
{
	pd_hex_encode(sha, PD_SHA256_LEN, out);
	memcpy(out + 2 * PD_SHA256_LEN, ".part", 6);
}

void
nd_x_delta_name(const struct nd_xitem *it, char *out)
{
	pd_hex_encode(it->basis->sha, PD_SHA256_LEN, out);
	pd_hex_encode(it->e->sha, PD_SHA256_LEN, out + 2 * PD_SHA256_LEN);
	memcpy(out + 4 * PD_SHA256_LEN, ".delta", 7);
}

/* Describe an item for messages: its first path. */
const char *
nd_x_item_show(const struct nd_xitem *it, char *buf, size_t len)
{
	return pr_path_show(it->e->path, it->e->path_len, buf, len);
}

/* A failure that ends the pull; the first one is the one reported. */
enum pd_err
nd_x_hard_fail(struct xctx *x, const struct pd_error *e)
{
	x->hard = true;
	return pd_fail(x->err, e->code, "%s", e->msg);
}

/*
 * An item's bytes were wrong: it goes again, whole, unless that was the
 * second time.
 */
void
nd_x_item_bad(struct xctx *x, struct nd_xitem *it, const struct pd_error *why)
{
	char ps[PR_SHOW_MAX];

	it->trouble = true;
	if (it->delta) {
		it->delta = false;
		x->st->fallbacks++;
		return;
	}
	if (++it->bad < 2)
		return;
	x->hard = true;
	pd_fail(x->err, why->code, "%s: content from upstream is wrong "
	    "twice: %s", nd_x_item_show(it, ps, sizeof(ps)), why->msg);
}

void
nd_x_recv_init(struct recv *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->dirfd = -1;
}

void
nd_x_recv_free(struct recv *r)
{
	pd_sha256_free(r->h);
	r->h = NULL;
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
}

/*
 * Where it's unnamed file goes: the directory of its first path, as
 * place_dir gives it, kept in r while the items (in path order) share
 * it; stagefd without one.
 */
static int
anon_dir(struct xctx *x, struct recv *r, const struct nd_xitem *it)
{
	const struct pr_entry *e = it->e;
	const char *slash = memrchr(e->path, '/', e->path_len);
	size_t len = slash != NULL ? (size_t)(slash - e->path) : 0;

	if (x->o->place_dir == NULL)
		return x->o->stagefd;
	if (r->dirfor != NULL && r->dirlen == len &&
	    memcmp(r->dirfor->path, e->path, len) == 0)
		return r->dirfd >= 0 ? r->dirfd : x->o->stagefd;
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = x->o->place_dir(x->o->staged_arg, it);
	r->dirfor = e;
	r->dirlen = len;
	return r->dirfd >= 0 ? r->dirfd : x->o->stagefd;
}

/* Start a body of size bytes for it, into a new file in DIR/tmp. */
enum pd_err
nd_x_recv_start(struct xctx *x, struct recv *r, struct nd_xitem *it, bool delta,
    uint64_t size, struct pd_error *err)
{
	int dfd;

	r->it = it;
	r->delta = delta;
	r->open_end = false;
	r->left = size;
	r->got = 0;
	if (delta)
		nd_x_delta_name(it, r->name);
	else
		nd_x_part_name(it->e->sha, r->name);
	if (r->h == NULL && (r->h = pd_sha256_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "receiving %s", r->name);
	if (pd_sha256_init(r->h) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "receiving %s", r->name);
	if (r->anon && !delta) {
		/* Readable: a builder given it copies it to other paths. */
		dfd = anon_dir(x, r, it);
		r->fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (r->fd < 0 && dfd != x->o->stagefd)
			r->fd = openat(x->o->stagefd, ".", O_TMPFILE | O_RDWR |
			    O_CLOEXEC, 0600);
		if (r->fd >= 0)
			return PD_OK;
		/* A file system without unnamed files: name it. */
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return pd_fail_errno(err, PD_ERR_IO, errno, "staging "
			    "%s", r->name);
		r->anon = false;
	}
	if ((r->fd = openat(x->o->tmpfd, r->name, O_WRONLY | O_CREAT |
	    O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "staging %s",
		    r->name);
	return PD_OK;
}

/* Name the checked unnamed object r in staging as hex. */
static enum pd_err
link_anon(struct xctx *x, struct recv *r, const char *hex,
    struct pd_error *err)
{
	/* EEXIST: staged already (by an earlier attempt): the same bytes. */
	if (pd_link_fd(r->fd, x->o->stagefd, hex) < 0 && errno != EEXIST)
		return pd_fail_errno(err, PD_ERR_IO, errno, "staging %s", hex);
	return PD_OK;
}

enum pd_err
nd_x_recv_write(struct xctx *x, struct recv *r, const void *p, size_t n,
    struct pd_error *err)
{
	if (n > r->left)
		return pd_fail(err, PD_ERR_LIMIT, "%s: more bytes than "
		    "announced", r->name);
	if (!r->delta && pd_sha256_update(r->h, p, n) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "hashing %s", r->name);
	if (pd_write_all(r->fd, p, n) != PD_OK)
		return pd_fail_errno(err, PD_ERR_IO, errno, "writing staged "
		    "%s", r->name);
	r->left -= n;
	r->got += n;
	x->st->bytes_written += n;
	return PD_OK;
}

/* Forget a body; keep is for a part file that a Range can resume. */
void
nd_x_recv_drop(struct xctx *x, struct recv *r, bool keep)
{
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
		if (!keep && !(r->anon && !r->delta))
			unlinkat(x->o->tmpfd, r->name, 0);
	}
}

void
nd_x_tell_staged(const struct nd_xfer_opts *o, const struct nd_xitem *it)
{
	if (o->staged != NULL)
		o->staged(o->staged_arg, it);
}

/*
 * A body arrived whole: an object is checked and staged, a delta waits
 * for the patch phase.  PD_OK with the item not done means its bytes
 * were wrong (already accounted for).
 */
enum pd_err
nd_x_recv_close(struct xctx *x, struct recv *r, struct pd_error *err)
{
	struct nd_xitem *it = r->it;
	unsigned char sha[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX], ps[PR_SHOW_MAX];
	struct pd_error why = { 0 };
	enum pd_err rc;

	if (r->left != 0 && !r->open_end) {
		nd_x_recv_drop(x, r, false);
		return pd_fail(err, PD_ERR_PARSE, "%s: body ended early",
		    r->name);
	}
	if (r->delta) {
		close(r->fd);
		r->fd = -1;
		it->got_delta = true;
		return PD_OK;
	}
	if (pd_sha256_final(r->h, sha) != PD_OK) {
		nd_x_recv_drop(x, r, false);
		return pd_fail(err, PD_ERR_CRYPTO, "hashing %s", r->name);
	}
	if (memcmp(sha, it->e->sha, sizeof(sha)) != 0) {
		nd_x_recv_drop(x, r, false);
		pd_fail(&why, PD_ERR_CORRUPT, "%s: SHA-256 does not match "
		    "the manifest", nd_x_item_show(it, ps, sizeof(ps)));
		nd_x_item_bad(x, it, &why);
		return PD_OK;
	}
	if (r->anon && x->o->give != NULL &&
	    x->o->give(x->o->staged_arg, it, r->fd)) {
		r->fd = -1;
		it->done = true;
		x->st->objects++;
		return PD_OK;
	}
	nd_x_obj_name(it->e->sha, hex);
	rc = r->anon ? link_anon(x, r, hex, err) : PD_OK;
	close(r->fd);
	r->fd = -1;
	if (rc != PD_OK)
		return rc;
	if (!r->anon && renameat(x->o->tmpfd, r->name, x->o->stagefd, hex) <
	    0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "staging %s", hex);
	it->done = true;
	x->st->objects++;
	nd_x_tell_staged(x->o, it);
	return PD_OK;
}
