/*
 * The table of configuration keys, and what is done with a loaded
 * configuration: reading it, checking the files it names, comparing two
 * of them for a reload, freeing it.  doc/CONFIG.md documents the same
 * table; tests/unit/test_config.c checks that every key is in it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem.h"
#include "../protocol/sign.h"
#include "config_int.h"
#include "pull.h"

#define STR_(x)	#x
#define STR(x)	STR_(x)

#define N(f)	W_NODE, offsetof(struct nd_conf_node, f)
#define TR(w, f) (w), offsetof(struct nd_conf_tree, f)

/* parse_urls stores the count just after the array pointer. */
_Static_assert(offsetof(struct nd_conf_tree, nupstream) ==
    offsetof(struct nd_conf_tree, upstream) + sizeof(void *),
    "nupstream follows upstream");

/* Defaults are text, parsed like values; the ND_CONF_* constants of
 * config.h say the same, and tests/unit/test_config.c checks both. */
const struct keydef nd_conf_keys[] = {
	{ "name", T_NAME, N(name), 0, 0, NULL, K_REQUIRED | K_RESTART },
	{ "data", T_PATH, N(data), 0, 0, NULL,
	    K_REQUIRED | K_RESTART | K_DATA },
	{ "listen", T_LISTEN, N(listen), 0, 0, NULL,
	    K_REQUIRED | K_RESTART },
	{ "insecure_http", T_BOOL, N(insecure_http), 0, 0, "no", K_RESTART },
	{ "tls_cert", T_PATH, N(tls_cert), 0, 0, NULL, K_RESTART | K_FILE },
	{ "tls_key", T_PATH, N(tls_key), 0, 0, NULL, K_RESTART | K_FILE },
	{ "tls_ca", T_PATH, N(tls_ca), 0, 0, NULL, K_RESTART | K_FILE },
	{ "workers", T_UINT, N(workers), 0, 1024, "0", K_RESTART },
	{ "max_transfers", T_UINT, N(max_transfers), 1, 100000,
	    STR(ND_CONF_MAX_TRANSFERS), 0 },
	{ "connections", T_UINT, N(connections), 1, 100000,
	    STR(ND_CONF_CONNECTIONS), 0 },
	{ "timeout", T_DURATION, N(timeout), 1, 86400,
	    "60s", 0 },
	{ "log_level", T_LEVEL, N(log_level), 0, 0, "info", 0 },

	{ "role", T_ROLE, TR(W_TREE, role), 0, 0, NULL,
	    K_REQUIRED | K_RESTART },
	{ "schedule", T_SCHED, TR(W_TREE, schedule), 0, 0, NULL, 0 },
	{ "priority", T_UINT, TR(W_TREE, priority), 0, 100, "0", 0 },
	{ "on_publish", T_COMMAND, TR(W_TREE, on_publish), 0, 0, NULL, 0 },
	{ "hook_timeout", T_DURATION, TR(W_TREE, hook_timeout), 1, 86400,
	    "60s", 0 },

	{ "source", T_PATH, TR(W_ORIGIN, source), 0, 0, NULL,
	    K_REQUIRED | K_DIR | K_READ },
	{ "key", T_PATH, TR(W_ORIGIN, key), 0, 0, NULL,
	    K_REQUIRED | K_FILE | K_PRIVATE },
	{ "watch", T_BOOL, TR(W_ORIGIN, watch), 0, 0, "no", 0 },
	{ "quiet", T_DURATION, TR(W_ORIGIN, quiet), 0, 3600,
	    "5s", 0 },
	{ "expires", T_DURATION, TR(W_ORIGIN, expires), 60, ND_DURATION_MAX,
	    "365d", K_NEVER },

	{ "upstream", T_URLS, TR(W_MIRROR, upstream), 0, 0, NULL,
	    K_REQUIRED },
	{ "trust", T_PATH, TR(W_MIRROR, trust), 0, 0, NULL,
	    K_REQUIRED | K_FILE | K_PUBLIC },
	{ "publish", T_PATH, TR(W_MIRROR, publish), 0, 0, NULL,
	    K_REQUIRED | K_DIR },
	{ "window", T_WINDOW, TR(W_MIRROR, window), 0, 0, NULL, 0 },
	{ "bandwidth", T_RATE, TR(W_MIRROR, bandwidth), 0, 0, "0", 0 },
	{ "keep", T_UINT, TR(W_MIRROR, keep), 1, 1000, STR(ND_PULL_KEEP), 0 },
	{ "spare", T_BOOL, TR(W_MIRROR, spare), 0, 0, "yes", 0 },
	{ "relay", T_BOOL, TR(W_MIRROR, relay), 0, 0, "yes", 0 },
};

const size_t nd_conf_nkeys = sizeof(nd_conf_keys) / sizeof(nd_conf_keys[0]);

const char *
nd_conf_path(const struct nd_conf *c)
{
	return c->path;
}

const struct nd_conf_node *
nd_conf_node(const struct nd_conf *c)
{
	return &c->node;
}

size_t
nd_conf_ntrees(const struct nd_conf *c)
{
	return c->ntrees;
}

const struct nd_conf_tree *
nd_conf_tree(const struct nd_conf *c, size_t i)
{
	return i < c->ntrees ? &c->trees[i].t : NULL;
}

const struct nd_conf_tree *
nd_conf_find(const struct nd_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ntrees; i++)
		if (strcmp(c->trees[i].t.name, name) == 0)
			return &c->trees[i].t;
	return NULL;
}

const char *
nd_conf_role_name(enum nd_conf_role r)
{
	return r == ND_CONF_ORIGIN ? "origin" : "mirror";
}

/* What nd_conf_check_files checks of one path. */
static enum pd_err
check_path(const struct nd_conf *c, const char *sect, const struct keydef *k,
    unsigned line, const char *path, struct pd_error *err)
{
	struct pr_key *key = NULL;
	struct pd_error e = { 0 };
	struct stat sb;
	char parent[4096], *slash;
	enum pd_err rc = PD_OK;
	int fd;

	if (k->flags & K_DATA) {
		if (stat(path, &sb) == 0) {
			if (!S_ISDIR(sb.st_mode))
				return pd_fail(err, PD_ERR_NOTFOUND, "%s:%u: "
				    "[%s] %s: %s: not a directory", c->path,
				    line, sect, k->name, path);
			return PD_OK;
		}
		snprintf(parent, sizeof(parent), "%s", path);
		slash = strrchr(parent, '/');
		if (slash == parent)
			slash++;
		*slash = '\0';
		if (stat(parent, &sb) != 0 || !S_ISDIR(sb.st_mode))
			return pd_fail(err, PD_ERR_NOTFOUND, "%s:%u: [%s] %s: "
			    "%s: neither it nor its parent %s is a directory",
			    c->path, line, sect, k->name, path, parent);
		return PD_OK;
	}
	if (k->flags & K_DIR) {
		if (stat(path, &sb) != 0)
			return pd_fail_errno(err, errno == ENOENT ?
			    PD_ERR_NOTFOUND : PD_ERR_IO, errno, "%s:%u: [%s] "
			    "%s: %s", c->path, line, sect, k->name, path);
		if (!S_ISDIR(sb.st_mode))
			return pd_fail(err, PD_ERR_NOTFOUND, "%s:%u: [%s] %s: "
			    "%s: not a directory", c->path, line, sect,
			    k->name, path);
		if ((k->flags & K_READ) &&
		    faccessat(AT_FDCWD, path, R_OK | X_OK, AT_EACCESS) != 0)
			return pd_fail_errno(err, PD_ERR_IO, errno, "%s:%u: "
			    "[%s] %s: %s", c->path, line, sect, k->name, path);
		return PD_OK;
	}
	/* Open it as the daemon will: readable, and a regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0)
		return pd_fail_errno(err, errno == ENOENT ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, errno, "%s:%u: [%s] %s: %s", c->path, line,
		    sect, k->name, path);
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		rc = pd_fail(err, PD_ERR_NOTFOUND, "%s:%u: [%s] %s: %s: not a "
		    "regular file", c->path, line, sect, k->name, path);
	close(fd);
	if (rc != PD_OK || !(k->flags & (K_PRIVATE | K_PUBLIC)))
		return rc;
	if (pr_key_load(path, &key, &e) != PD_OK)
		return pd_fail(err, e.code, "%s:%u: [%s] %s: %s", c->path,
		    line, sect, k->name, e.msg);
	if ((k->flags & K_PRIVATE) && !pr_key_has_private(key))
		rc = pd_fail(err, PD_ERR_PARSE, "%s:%u: [%s] %s: %s is a "
		    "public key; an origin signs with the private key "
		    "(NAME.key)", c->path, line, sect, k->name, path);
	if ((k->flags & K_PUBLIC) && pr_key_has_private(key))
		rc = pd_fail(err, PD_ERR_PARSE, "%s:%u: [%s] %s: %s is a "
		    "private key; a mirror trusts the public key (NAME.pub), "
		    "and the secret stays at the origin", c->path, line, sect,
		    k->name, path);
	pr_key_free(key);
	return rc;
}

/* Check the path keys given in one section (base, lines). */
static enum pd_err
check_section(const struct nd_conf *c, const char *sect, const void *base,
    const unsigned *line, struct pd_error *err)
{
	const struct keydef *k;
	const char *path;
	enum pd_err rc;
	size_t i;

	for (i = 0; i < nd_conf_nkeys; i++) {
		k = &nd_conf_keys[i];
		if (line[i] == 0 ||
		    !(k->flags & (K_FILE | K_DIR | K_DATA)))
			continue;
		path = *(const char *const *)(const void *)
		    ((const char *)base + k->off);
		if ((rc = check_path(c, sect, k, line[i], path, err)) != PD_OK)
			return rc;
	}
	return PD_OK;
}

enum pd_err
nd_conf_check_files(const struct nd_conf *c, struct pd_error *err)
{
	char sect[128];
	enum pd_err rc;
	size_t i;

	if ((rc = check_section(c, "node", &c->node, c->node_line, err)) !=
	    PD_OK)
		return rc;
	for (i = 0; i < c->ntrees; i++) {
		snprintf(sect, sizeof(sect), "tree %s", c->trees[i].t.name);
		if ((rc = check_section(c, sect, &c->trees[i].t,
		    c->trees[i].line, err)) != PD_OK)
			return rc;
	}
	return PD_OK;
}

void
nd_conf_diff(const struct nd_conf *old, const struct nd_conf *cur,
    void (*fn)(void *, const char *, enum nd_conf_change, const char *,
    bool), void *arg)
{
	const struct nd_conf_tree *o, *n;
	const struct keydef *k;
	size_t i, j;

	for (j = 0; j < nd_conf_nkeys; j++) {
		k = &nd_conf_keys[j];
		if ((k->where & W_NODE) &&
		    !nd_conf_same_value(k, &old->node, &cur->node))
			fn(arg, NULL, ND_CONF_CHANGED, k->name,
			    (k->flags & K_RESTART) != 0);
	}
	for (i = 0; i < old->ntrees; i++)
		if (nd_conf_find(cur, old->trees[i].t.name) == NULL)
			fn(arg, old->trees[i].t.name, ND_CONF_REMOVED, NULL,
			    false);
	for (i = 0; i < cur->ntrees; i++) {
		n = &cur->trees[i].t;
		if ((o = nd_conf_find(old, n->name)) == NULL) {
			fn(arg, n->name, ND_CONF_ADDED, NULL, false);
			continue;
		}
		for (j = 0; j < nd_conf_nkeys; j++) {
			k = &nd_conf_keys[j];
			if ((k->where & W_TREE) && !nd_conf_same_value(k, o, n))
				fn(arg, n->name, ND_CONF_CHANGED, k->name,
				    (k->flags & K_RESTART) != 0);
		}
	}
}

void
nd_conf_free(struct nd_conf *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->ntrees; i++) {
		for (j = 0; j < nd_conf_nkeys; j++)
			if (nd_conf_keys[j].where & W_TREE)
				nd_conf_free_value(&nd_conf_keys[j],
				    &c->trees[i].t);
		pd_free(c->trees[i].line);
	}
	pd_free(c->trees);
	pd_free(c->node_line);
	pd_arena_free(&c->arena);
	pd_free(c->path);
	pd_free(c);
}
