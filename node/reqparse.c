/*
 * What a request to the node server says (spec/PROTOCOL.md): the
 * endpoint its path and query name, a Range header, whether its
 * Accept-Encoding takes zstd.
 *
 * Kept apart from the HTTP machinery (server.c) because it is where
 * untrusted bytes are first read: pure functions, no I/O, no libevent,
 * any thread, so the unit tests can feed them every hostile form
 * without a socket.  Paths are matched byte for byte as sent; a file
 * name is never made from one, only parsed hex and checked tree names
 * come out.
 */
#include <string.h>
#include <strings.h>

#include "../common/hex.h"
#include "../protocol/manifest.h"
#include "control.h"
#include "serve.h"

static bool
hex_arg(const char *s, size_t n, unsigned char *out)
{
	return n == 2 * PD_SHA256_LEN && pd_hex_decode(s, PD_SHA256_LEN, out);
}

/* A version number: 1 .. PR_VERSION_MAX, no sign, no leading zero. */
static bool
version_arg(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 16 || s[0] == '0')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > PR_VERSION_MAX)
		return false;
	*out = v;
	return true;
}

/* A pack part: 0 or a decimal without leading zeros, below 2^32 - 1. */
static bool
part_arg(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* A tree name from the network into out; NULL, or why it is not one. */
static const char *
tree_arg(const char *s, size_t n, char *out)
{
	if (n > PR_TREE_NAME_MAX)
		return "too long";
	memcpy(out, s, n);
	out[n] = '\0';
	return pr_tree_name_check(out);
}

/*
 * The query of GET /v1/tasks: none, or "tree=T", "limit=N" or both
 * joined by "&", each at most once.
 */
static enum pd_err
tasks_query(const char *q, struct nd_target *t, struct pd_error *err)
{
	const char *amp, *why;
	uint64_t v;
	size_t n;
	bool tree = false, limit = false;

	t->limit = ND_TASKS_LIST_DEFAULT;
	while (q != NULL) {
		amp = strchr(q, '&');
		n = amp ? (size_t)(amp - q) : strlen(q);
		if (n > 5 && strncmp(q, "tree=", 5) == 0 && !tree) {
			tree = true;
			if ((why = tree_arg(q + 5, n - 5, t->tree)) != NULL)
				return pd_fail(err, PD_ERR_PARSE, "malformed "
				    "tree name: %s", why);
		} else if (n > 6 && strncmp(q, "limit=", 6) == 0 && !limit) {
			limit = true;
			if (!version_arg(q + 6, n - 6, &v) ||
			    v > ND_TASKS_LIST_MAX)
				return pd_fail(err, PD_ERR_PARSE, "malformed "
				    "limit: want 1 to %d", ND_TASKS_LIST_MAX);
			t->limit = (unsigned)v;
		} else
			return pd_fail(err, PD_ERR_PARSE, "malformed query: "
			    "want tree=T, limit=N or both, joined by &");
		q = amp ? amp + 1 : NULL;
	}
	return PD_OK;
}

#define NSEG	7

enum pd_err
nd_target_parse(const char *path, const char *query, struct nd_target *t,
    struct pd_error *err)
{
	const char *seg[NSEG], *p, *q;
	size_t len[NSEG], n = 0;
	const char *why;

	memset(t, 0, sizeof(*t));
	if (path == NULL || path[0] != '/')
		return pd_fail(err, PD_ERR_PARSE, "malformed path");
	if (strlen(path) > 512)
		return pd_fail(err, PD_ERR_PARSE, "path too long");
	for (p = path + 1;; p = q + 1) {
		if (n == NSEG)
			return pd_fail(err, PD_ERR_PARSE, "no such endpoint");
		q = strchr(p, '/');
		seg[n] = p;
		len[n] = q ? (size_t)(q - p) : strlen(p);
		n++;
		if (q == NULL)
			break;
	}
#define IS(i, w) (len[i] == sizeof(w) - 1 && memcmp(seg[i], w, len[i]) == 0)
	if (n < 2 || !IS(0, "v1"))
		return pd_fail(err, PD_ERR_PARSE, "no such endpoint");
	if (IS(1, "objects") && n == 3) {
		t->route = ND_R_OBJECT;
		if (!hex_arg(seg[2], len[2], t->a))
			return pd_fail(err, PD_ERR_PARSE, "malformed object "
			    "name: want 64 lowercase hex digits");
	} else if (IS(1, "deltas") && n == 4) {
		t->route = ND_R_DELTA;
		if (!hex_arg(seg[2], len[2], t->a) ||
		    !hex_arg(seg[3], len[3], t->b))
			return pd_fail(err, PD_ERR_PARSE, "malformed delta "
			    "name: want two of 64 lowercase hex digits");
	} else if (IS(1, "batch") && n == 2) {
		t->route = ND_R_BATCH;
	} else if (IS(1, "status") && n == 2) {
		t->route = ND_R_STATUS;
	} else if (IS(1, "tasks") && n == 2) {
		t->route = ND_R_TASKS;
		return tasks_query(query, t, err);
	} else if (IS(1, "tasks") && n == 4 && IS(3, "cancel")) {
		t->route = ND_R_CANCEL;
		if (!version_arg(seg[2], len[2], &t->task))
			return pd_fail(err, PD_ERR_PARSE, "malformed task id");
	} else if (IS(1, "trees") && n == 2) {
		t->route = ND_R_TREES;
	} else if (IS(1, "trees") && (n == 4 || n == 6 || n == 7)) {
		if ((why = tree_arg(seg[2], len[2], t->tree)) != NULL)
			return pd_fail(err, PD_ERR_PARSE, "malformed tree "
			    "name: %s", why);
		if (n == 4 && IS(3, "head"))
			t->route = ND_R_HEAD;
		else if (n == 4 && IS(3, "sync"))
			t->route = ND_R_SYNC;
		else if (n == 6 && IS(3, "versions") && IS(5, "manifest")) {
			t->route = query ? ND_R_PATCH : ND_R_MANIFEST;
			if (!version_arg(seg[4], len[4], &t->version))
				return pd_fail(err, PD_ERR_PARSE, "malformed "
				    "version number");
		} else if (n == 7 && IS(3, "versions") && IS(5, "pack")) {
			t->route = ND_R_PACK;
			if (!version_arg(seg[4], len[4], &t->version))
				return pd_fail(err, PD_ERR_PARSE, "malformed "
				    "version number");
			if (!part_arg(seg[6], len[6], &t->part))
				return pd_fail(err, PD_ERR_PARSE, "malformed "
				    "part number");
		} else
			return pd_fail(err, PD_ERR_PARSE, "no such endpoint");
	} else
		return pd_fail(err, PD_ERR_PARSE, "no such endpoint");
#undef IS
	if (t->route == ND_R_PATCH || t->route == ND_R_PACK) {
		if (query == NULL)
			return pd_fail(err, PD_ERR_PARSE, "a pack needs "
			    "from= and the held manifest's id");
		if (strncmp(query, "from=", 5) != 0 ||
		    !hex_arg(query + 5, strlen(query + 5), t->a))
			return pd_fail(err, PD_ERR_PARSE, "malformed query: "
			    "want from= and 64 lowercase hex digits");
	} else if (query != NULL)
		return pd_fail(err, PD_ERR_PARSE, "unexpected query");
	return PD_OK;
}

/* A decimal without sign, at most 19 digits (no overflow). */
static const char *
range_num(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i == 19)
			return NULL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return NULL;
	*out = v;
	return s + i;
}

void
nd_range_parse(const char *s, struct nd_range *r)
{
	const char *p;

	memset(r, 0, sizeof(*r));
	if (s == NULL || strncmp(s, "bytes=", 6) != 0)
		return;
	s += 6;
	if (*s == '-') {
		if ((p = range_num(s + 1, &r->last)) != NULL && *p == '\0')
			r->kind = ND_RANGE_SUFFIX;
		return;
	}
	if ((p = range_num(s, &r->first)) == NULL || *p != '-')
		return;
	if (p[1] == '\0') {
		r->kind = ND_RANGE_FROM;
		return;
	}
	if ((p = range_num(p + 1, &r->last)) == NULL || *p != '\0' ||
	    r->last < r->first)
		return;
	r->kind = ND_RANGE_SPAN;
}

int
nd_range_resolve(const struct nd_range *r, uint64_t size, uint64_t *off,
    uint64_t *len)
{
	uint64_t last;

	switch (r->kind) {
	case ND_RANGE_SUFFIX:
		if (r->last == 0 || size == 0)
			return 416;
		*len = r->last < size ? r->last : size;
		*off = size - *len;
		return 206;
	case ND_RANGE_FROM:
	case ND_RANGE_SPAN:
		if (r->first >= size)
			return 416;
		last = r->kind == ND_RANGE_SPAN && r->last < size ? r->last :
		    size - 1;
		*off = r->first;
		*len = last - r->first + 1;
		return 206;
	case ND_RANGE_NONE:
	default:
		return 416;
	}
}

/*
 * Accept-Encoding: a comma-separated list of codings, each maybe with
 * parameters; "zstd" counts unless its q is zero (RFC 9110, 12.5.3).
 * "*" is not taken as zstd: a client must name it.
 */
bool
nd_accepts_zstd(const char *s)
{
	const char *e, *semi, *q;
	size_t n;

	while (s != NULL && *s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if ((e = strchr(s, ',')) == NULL)
			e = s + strlen(s);
		semi = memchr(s, ';', (size_t)(e - s));
		n = (size_t)((semi ? semi : e) - s);
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 4 && strncasecmp(s, "zstd", 4) == 0) {
			if (semi == NULL)
				return true;
			for (q = semi + 1; q < e && (*q == ' ' || *q == '\t');
			    q++)
				;
			if (e - q < 2 || (q[0] != 'q' && q[0] != 'Q') ||
			    q[1] != '=')
				return true;
			for (q += 2; q < e && (*q == '0' || *q == '.'); q++)
				;
			/* q=0, q=0.0, q=0.000: refused. */
			return q < e && *q >= '1' && *q <= '9';
		}
		s = e;
	}
	return false;
}
