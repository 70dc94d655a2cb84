/*
 * Between the HTTP machinery (server.c, with the pure request parsing
 * in reqparse.c) and the request handlers (routes.c, batch.c, with the
 * reply helpers in reply.c) of `pulpdist serve` (spec/PROTOCOL.md).
 *
 * server.c parses a request on the loop thread into a struct nd_req (no
 * I/O), runs nd_handle() on a worker, and puts the reply on the wire.
 * A handler fills in the reply: status, headers and either a body in
 * memory or a producer that appends the body a piece at a time.  Each
 * piece is made by a worker job, the next one only once the previous
 * piece has left for the socket, so a request holds about ND_CHUNK bytes
 * whatever the size of what it serves.  Handlers and producers never
 * touch libevent's HTTP objects; the loop never runs a handler.
 */
#ifndef ND_SERVE_H
#define ND_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "../catalog/catalog.h"
#include "../common/sha256.h"
#include "../protocol/limits.h"
#include "control.h"
#include "dcache.h"
#include "prepare.h"
#include "server.h"
#include "tls.h"

#define ND_CHUNK		(256 * 1024)	/* body bytes per step */
#define ND_BATCH_BODY_MAX	(1024 * 1024)	/* bytes of a batch request */
#define ND_BATCH_ITEMS_MAX	4096		/* items in one batch */
/* Pack parts and manifest patches are compressed once for every
 * receiver of a step, and are small next to the content they stand
 * for: worth zstd's strongest usual level. */
#define ND_ZLEVEL_ONCE		19
/* "FROM-TO-PART": the name a pack part is kept under, and its ETag. */
#define ND_BATCH_NAME_MAX	ND_STEP_NAME_MAX
#define ND_REPLY_HEADERS	8
#define ND_HEADER_MAX		200		/* bytes of a header value */
#define ND_IMMUTABLE		"public, max-age=31536000, immutable"

enum nd_route {
	ND_R_TREES,		/* GET /v1/trees */
	ND_R_HEAD,		/* GET /v1/trees/T/head */
	ND_R_MANIFEST,		/* GET /v1/trees/T/versions/N/manifest */
	ND_R_PATCH,		/* ... manifest?from=ID */
	ND_R_OBJECT,		/* GET /v1/objects/SHA */
	ND_R_DELTA,		/* GET /v1/deltas/FROM/TO */
	ND_R_BATCH,		/* POST /v1/batch */
	ND_R_PACK,		/* GET .../versions/N/pack/K?from=ID */
	ND_R_STATUS,		/* GET /v1/status */
	ND_R_TASKS,		/* GET /v1/tasks[?tree=T][&limit=N] */
	ND_R_SYNC,		/* POST /v1/trees/T/sync */
	ND_R_CANCEL,		/* POST /v1/tasks/ID/cancel */
};

/* What a request path names. */
struct nd_target {
	enum nd_route	 route;
	char		 tree[PR_TREE_NAME_MAX + 1];
	uint64_t	 version;
	unsigned char	 a[PD_SHA256_LEN];	/* object, delta from, base */
	unsigned char	 b[PD_SHA256_LEN];	/* delta to */
	uint32_t	 part;			/* of a pack */
	uint64_t	 task;			/* to cancel */
	unsigned	 limit;			/* tasks to list */
};

/*
 * reqparse.c: map a request's path and query (as sent: nothing is
 * percent-decoded, so an escaped byte never matches) to an endpoint.
 * query is NULL when the request had none.  PD_ERR_PARSE, with the
 * reason in err, for anything but an endpoint's exact form.  Pure; any
 * thread.
 */
enum pd_err nd_target_parse(const char *path, const char *query,
	    struct nd_target *, struct pd_error *) PD_WARN_UNUSED;

/* A Range header: one byte range, or NONE (absent, ignored). */
enum nd_range_kind {
	ND_RANGE_NONE,
	ND_RANGE_FROM,		/* bytes=FIRST- */
	ND_RANGE_SPAN,		/* bytes=FIRST-LAST */
	ND_RANGE_SUFFIX,	/* bytes=-N: the last N bytes */
};

struct nd_range {
	enum nd_range_kind kind;
	uint64_t	 first;
	uint64_t	 last;	/* SPAN: inclusive; SUFFIX: N */
};

/*
 * Parse a Range header (NULL: none).  Anything but one well-formed byte
 * range is NONE: RFC 9110 lets a server ignore a Range it does not
 * support, and then the whole content is sent.
 */
void	nd_range_parse(const char *, struct nd_range *);
/*
 * The answer to a range over content of size bytes: 206 with *off and
 * *len set, or 416.  Only for kind != NONE.
 */
int	nd_range_resolve(const struct nd_range *, uint64_t size,
	    uint64_t *off, uint64_t *len);

/* Whether an Accept-Encoding header (NULL: none) accepts zstd. */
bool	nd_accepts_zstd(const char *);

/* One item of a batch request. */
struct nd_bitem {
	char		 kind;			/* 'o' object, 'd' delta */
	unsigned char	 a[PD_SHA256_LEN];	/* object, or delta from */
	unsigned char	 b[PD_SHA256_LEN];	/* delta to */
	uint32_t	 part;			/* of a pack */
};

/*
 * Parse a batch request body (untrusted, at most ND_BATCH_BODY_MAX
 * bytes): exactly {"items": [ITEM, ...]} with 1 to ND_BATCH_ITEMS_MAX
 * items, each ["o", SHA] or ["d", FROM, TO] with 64 lowercase hex
 * digits.  *items is the caller's (pd_free).  PD_ERR_PARSE for anything
 * else, PD_ERR_LIMIT for a body or item count over its cap,
 * PD_ERR_NOMEM; err says which item.
 */
enum pd_err nd_batch_parse(const void *, size_t, struct nd_bitem **items,
	    size_t *n, struct pd_error *) PD_WARN_UNUSED;

struct nd_req;

/*
 * Worker: append the next piece of a streamed body (up to about ND_CHUNK
 * bytes, at least one unless it is the end) to out, and set r->eof after
 * the last.  An error after the headers went out can only cut the
 * connection: r->err says why, for the log.
 */
typedef enum pd_err nd_produce_fn(struct nd_req *r, struct evbuffer *out);

/* A zstd decoder over part of a file that gives its output in pieces. */
struct nd_zread;

struct nd_req {
	/* The request, set on the loop thread; read-only for handlers. */
	struct cat		*cat;
	struct nd_dcache	*dc;
	struct nd_namer		*namer;		/* names derived files */
	struct nd_target	 t;
	bool			 head;		/* HEAD: no body */
	bool			 zstd_ok;	/* Accept-Encoding has zstd */
	struct nd_range		 range;
	char			 inm[ND_HEADER_MAX];	/* If-None-Match */
	unsigned char		*input;		/* POST body */
	size_t			 input_len;
	const struct nd_control	*control;	/* a daemon's, or NULL */
	/* GET /v1/status: the loop's counters when the request came. */
	struct nd_server_stats	 stats;
	int64_t			 uptime;	/* seconds serving */
	char			 peer[ND_PEER_MAX];	/* the client node's
					 * name (certificate CN); "" over
					 * plain HTTP */

	/* The reply, filled by the handler on a worker. */
	int			 status;
	int			 nheaders;
	const char		*hname[ND_REPLY_HEADERS];
	char			 hval[ND_REPLY_HEADERS][ND_HEADER_MAX];
	struct evbuffer		*body;		/* a body in memory, or */
	nd_produce_fn		*produce;	/* a streamed one */
	int64_t			 length;	/* its bytes; -1: unknown */
	bool			 eof;		/* produce gave the last */

	/* Producer state: a slice of a file, or a decoder, or ctx. */
	int			 fd;
	uint64_t		 off;
	uint64_t		 left;
	struct nd_zread		*zr;
	void			*ctx;
	void			(*ctx_free)(void *);

	/* What was served, for the server's counters. */
	uint32_t		 objects;
	uint32_t		 deltas;
	uint32_t		 items;		/* batch items answered */
	struct pd_error		 err;		/* a 5xx's cause, logged */
};

/* routes.c: answer r (worker). */
void	nd_handle(struct nd_req *);
/*
 * control.c: the trees with a committed version, [{"name", "version",
 * "manifest"}...], as GET /v1/trees and /v1/status list them.
 */
enum pd_err nd_trees_json(struct cat *, json_t **out, struct pd_error *)
	    PD_WARN_UNUSED;
/* control.c: GET /v1/status, GET /v1/tasks, POST .../sync and
 * .../cancel (worker). */
void	nd_control_reply(struct nd_req *);
/* batch.c: answer a POST /v1/batch (worker). */
void	nd_batch(struct nd_req *);
/*
 * batch.c: answer with part r->t.part of the pack from manifest from to
 * manifest to (worker); both must be held.  404 if there is no such
 * part.
 */
void	nd_pack_reply(struct nd_req *, const unsigned char *from,
	    const unsigned char *to);

/*
 * reply.c: reply helpers, for handlers.  nd_reply_header ignores
 * headers past ND_REPLY_HEADERS and cuts values at ND_HEADER_MAX - 1
 * bytes (names must be string constants).  nd_reply_error drops
 * whatever reply was set and answers {"error": TEXT, "status": N}.
 * nd_reply_json takes j's reference.  nd_reply_file streams len bytes
 * of fd from off and takes fd; nd_reply_zfile streams the size bytes
 * that the zstd stream in the first zlen bytes of fd decodes to, and
 * takes fd.
 */
void	nd_reply_header(struct nd_req *, const char *name, const char *fmt,
	    ...) PD_PRINTF(3, 4);
void	nd_reply_error(struct nd_req *, int status, const char *fmt, ...)
	    PD_PRINTF(3, 4);
void	nd_reply_json(struct nd_req *, int status, json_t *j);
void	nd_reply_file(struct nd_req *, int fd, uint64_t off, uint64_t len);
void	nd_reply_zfile(struct nd_req *, int fd, uint64_t zlen,
	    uint64_t size);
/* Drop the reply's body and producer state (closing fd). */
void	nd_reply_reset_body(struct nd_req *);

/*
 * Bounded zstd reading: nd_zread_get appends at most n decoded bytes to
 * out, so memory stays bounded however well the content compresses;
 * *done is set once the stream ended, after exactly size bytes (a
 * stream that ends early, runs long or is damaged is PD_ERR_CORRUPT).
 * The reader borrows fd.
 */
enum pd_err nd_zread_new(int fd, uint64_t zlen, uint64_t size,
	    struct nd_zread **, struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_zread_get(struct nd_zread *, struct evbuffer *out, size_t n,
	    bool *done, struct pd_error *) PD_WARN_UNUSED;
void	nd_zread_free(struct nd_zread *);

/*
 * Content derived from immutable inputs and kept under
 * DATA/dir/xx/name (xx: name's first two characters): the compressed
 * form of a manifest, a manifest patch, a compressed batch response.
 * If the file is there it is opened; otherwise make(arg, fd, &keep, err)
 * writes it to a new unnamed file, which gets its name (made durable
 * first) if make left keep true, and is only served otherwise.  With a
 * namer the name comes later, on the namer's thread (namer.h); without
 * one, before the call returns.  Two makers racing both succeed; one
 * file wins.  *fd is the caller's, at offset 0; *kept says whether its
 * bytes are the file's that is (or is being) kept.
 */
struct nd_namer;
typedef enum pd_err nd_make_fn(void *arg, int fd, bool *keep,
	    struct pd_error *);
enum pd_err nd_derived(struct cat *, struct nd_namer *, const char *dir,
	    const char *name, nd_make_fn *make, void *arg, int *fd,
	    bool *kept, struct pd_error *) PD_WARN_UNUSED;

#endif
