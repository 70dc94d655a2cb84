/*
 * The node daemon's configuration file (doc/CONFIG.md has every key):
 * an INI file in the spirit of rsyncd.conf, one [node] section and one
 * [tree NAME] section per tree, read with libinih.
 *
 *	[node]
 *	name = site-a
 *	data = /var/lib/pulpdist
 *	listen = 0.0.0.0:8700
 *	...
 *	[tree kernel]
 *	role = origin
 *	...
 *
 * Loading is two steps, so that a check of the text never depends on
 * the machine it runs on, and a reload can check everything before
 * anything changes:
 *   1. nd_conf_load reads and checks the file itself: sections, keys,
 *      values parsed to types, which keys each role takes or needs, the
 *      rules between keys (TLS or insecure_http on loopback, ...);
 *   2. nd_conf_check_files checks what the values point to: key, trust
 *      and TLS files exist and are readable (keys parse, an origin's is
 *      private, a mirror's trust is public), source and publish are
 *      directories, data is a directory or its parent is.
 * The daemon and `pulpdist node --check-config` do both.
 *
 * Every error is one line, "FILE:LINE: [SECTION] KEY: what is wrong"
 * ("FILE: ..." when no line applies, "FILE:LINE: [SECTION]: ..." when
 * no key does), in the pd_error.
 *
 * A loaded configuration is immutable and independent of any other:
 * SIGHUP loads a new one, checks it, and swaps the pointer.  Reading it
 * is safe from any thread; loading uses libinih's process-wide options,
 * so two loads must not run at once (the daemon loads on its loop
 * thread).
 */
#ifndef ND_CONFIG_H
#define ND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/log.h"
#include "sched.h"

/* Defaults (doc/CONFIG.md), for keys not given. */
#define ND_CONF_MAX_TRANSFERS	64
#define ND_CONF_CONNECTIONS	256
#define ND_CONF_TIMEOUT		60		/* seconds */
#define ND_CONF_QUIET		5		/* seconds */
#define ND_CONF_HOOK_TIMEOUT	60		/* seconds */
#define ND_CONF_EXPIRES		(365 * 86400)	/* seconds */
#define ND_CONF_MIRROR_SCHEDULE	"every 15m"
#define ND_CONF_UPSTREAMS_MAX	8

enum nd_conf_role {
	ND_CONF_ORIGIN,
	ND_CONF_MIRROR,
};

/* A listen address, "HOST:PORT" or "[V6]:PORT". */
struct nd_conf_addr {
	const char	*text;		/* as written */
	const char	*host;		/* without brackets */
	unsigned	 port;		/* 0: any free port (tests) */
	bool		 loopback;	/* 127.0.0.0/8, ::1 or localhost */
};

/* An upstream node, "http[s]://HOST[:PORT]". */
struct nd_conf_url {
	const char	*text;		/* as written, without a final '/' */
	const char	*host;		/* without brackets */
	unsigned	 port;		/* given, or 443 / 80 */
	bool		 https;
};

/* The [node] section. */
struct nd_conf_node {
	const char	*name;		/* name rules as tree names */
	const char	*data;		/* data directory, absolute */
	struct nd_conf_addr listen;
	bool		 insecure_http;	/* plain HTTP, loopback only */
	const char	*tls_cert;	/* absolute paths; NULL iff */
	const char	*tls_key;	/* insecure_http */
	const char	*tls_ca;
	unsigned	 workers;	/* worker threads; 0: one per CPU */
	unsigned	 max_transfers;	/* concurrent transfers, then 503 */
	unsigned	 connections;	/* concurrent connections, then 503 */
	int64_t		 timeout;	/* seconds a connection may stall */
	enum pd_log_level log_level;	/* unless --log-level says */
};

/* A [tree NAME] section; fields of the other role are zero or NULL. */
struct nd_conf_tree {
	const char	*name;
	enum nd_conf_role role;
	const struct nd_sched *schedule; /* NULL: an origin with watch only */
	unsigned	 priority;	/* 0-100; higher runs first */
	const char	*on_publish;	/* shell command, or NULL */
	int64_t		 hook_timeout;	/* seconds on_publish may run */

	/* role = origin */
	const char	*source;	/* directory imported, absolute */
	const char	*key;		/* private signing key, absolute */
	bool		 watch;		/* import on inotify changes */
	int64_t		 quiet;		/* debounce: seconds without change */
	int64_t		 expires;	/* manifest lifetime; 0: never */

	/* role = mirror */
	const struct nd_conf_url *upstream; /* in order of preference */
	size_t		 nupstream;	/* 1 to ND_CONF_UPSTREAMS_MAX */
	const char	*trust;		/* the tree's public key, absolute */
	const char	*publish;	/* PUBLISH/NAME is the tree */
	const struct nd_window *window;	/* NULL: transfers start any time */
	uint64_t	 bandwidth;	/* bytes per second; 0: no limit */
	unsigned	 keep;		/* published versions kept */
	bool		 spare;		/* keep the newest retired version */
	bool		 relay;		/* keep what came, to serve onwards */
};

struct nd_conf;

/*
 * Read and check the file at path (step 1 above).  On success *out is a
 * new configuration the caller frees with nd_conf_free; on failure *out
 * is NULL and err holds the one-line error.
 * Errors: PD_ERR_IO (cannot open or read the file), PD_ERR_PARSE (any
 * mistake in it), PD_ERR_NOMEM.
 */
enum pd_err nd_conf_load(const char *path, struct nd_conf **out,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Step 2 above: check what the paths name, on this machine, now.
 * Errors (the first found, naming file, line, key and path):
 * PD_ERR_NOTFOUND, PD_ERR_IO, PD_ERR_PARSE (a key file that is not a
 * key, or the wrong half), PD_ERR_NOMEM.
 */
enum pd_err nd_conf_check_files(const struct nd_conf *, struct pd_error *)
	    PD_WARN_UNUSED;

/* The file it was loaded from; lives with the configuration. */
const char *nd_conf_path(const struct nd_conf *);

const struct nd_conf_node *nd_conf_node(const struct nd_conf *);

/* Trees in the order of the file; i < nd_conf_ntrees(). */
size_t	nd_conf_ntrees(const struct nd_conf *);
const struct nd_conf_tree *nd_conf_tree(const struct nd_conf *, size_t i);
/* The tree of that name, or NULL. */
const struct nd_conf_tree *nd_conf_find(const struct nd_conf *,
	    const char *name);

const char *nd_conf_role_name(enum nd_conf_role);

enum nd_conf_change {
	ND_CONF_ADDED,		/* a tree only in the current configuration */
	ND_CONF_REMOVED,	/* a tree only in the old one */
	ND_CONF_CHANGED,	/* a key whose value differs */
};

/*
 * What differs from old to cur, for a reload: fn is called once per
 * added or removed tree (key NULL), and once per key whose value differs
 * (tree NULL for a [node] key), in the order of the files.  `restart`
 * is true for a key a running daemon cannot change (name, data, listen,
 * workers, a tree's role), false for one a reload applies.
 */
void	nd_conf_diff(const struct nd_conf *old, const struct nd_conf *cur,
	    void (*fn)(void *arg, const char *tree, enum nd_conf_change,
	    const char *key, bool restart), void *arg);

/* NULL is a no-op. */
void	nd_conf_free(struct nd_conf *);

/*
 * A rate as `bandwidth` (and `pull --bwlimit`) spell it: "512K", "20M",
 * "1G" bytes per second, K/M/G = 1024 multiples as rsync's --bwlimit,
 * or "0" for no limit.  NULL on success, else why it is not one.
 */
const char *nd_conf_parse_rate(const char *, uint64_t *out);

#endif
