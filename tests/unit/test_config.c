/*
 * Unit tests of the node configuration (node/config.c, config_val.c,
 * config_use.c): typed values and defaults of each role, one error line
 * naming file, line, section and key for each kind of mistake, the file
 * checks, independent loads and their diff, and the examples in
 * contrib/.  The examples name files under /etc/pulpdist and /srv: they
 * are loaded as they are (step 1, no file checks), then once more with
 * those paths moved into a temporary directory holding real keys, where
 * the file checks must pass too.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../common/fsx.h"
#include "../../common/mem.h"
#include "../../node/config_int.h"
#include "../../protocol/sign.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A [node] section that needs no file: plain HTTP on loopback. */
#define PLAIN_NODE	"[node]\nname = n1\ndata = /tmp/pd-data\n" \
			"listen = 127.0.0.1:8700\ninsecure_http = yes\n"

static char *tmp;
static char conf_path[512];

static int
suite_init(void)
{
	if ((tmp = unit_mkdtemp()) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/node.conf", tmp);
	return 0;
}

static int
suite_cleanup(void)
{
	int rc = pd_remove_tree_at(AT_FDCWD, tmp, NULL) == PD_OK ? 0 : -1;

	pd_free(tmp);
	return rc;
}

/* Write text as the configuration file and load it. */
static enum pd_err
load(const char *text, struct nd_conf **c, struct pd_error *err)
{
	pd_error_clear(err);
	unit_write(tmp, "node.conf", text, strlen(text));
	return nd_conf_load(conf_path, c, err);
}

static struct nd_conf *
load_ok(const char *text)
{
	struct pd_error err;
	struct nd_conf *c = NULL;

	if (load(text, &c, &err) != PD_OK)
		fprintf(stderr, "\nunexpected: %s\n", err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* Loading text fails with a message starting "FILE:" want. */
static void
load_bad(const char *text, const char *want)
{
	struct pd_error err;
	struct nd_conf *c = (struct nd_conf *)&err;
	char full[PD_ERRMSG_MAX + 512];

	CU_ASSERT_NOT_EQUAL(load(text, &c, &err), PD_OK);
	CU_ASSERT_PTR_NULL(c);
	snprintf(full, sizeof(full), "%s:%s", conf_path, want);
	if (strncmp(err.msg, full, strlen(full)) != 0)
		fprintf(stderr, "\ngot  \"%s\"\nwant \"%s...\"\n", err.msg,
		    full);
	CU_ASSERT_EQUAL(strncmp(err.msg, full, strlen(full)), 0);
	/* One line. */
	CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
}

static void
test_origin(void)
{
	struct nd_conf *c = load_ok(
	    "; an origin\n"
	    "[node]\n"
	    "name = site-a\n"
	    "data = /var/lib/pulpdist            ; catalog, objects\n"
	    "listen = 0.0.0.0:8700\n"
	    "tls_cert = /etc/pulpdist/site-a.crt\n"
	    "tls_key = /etc/pulpdist/site-a.key\n"
	    "tls_ca = /etc/pulpdist/ca.crt\n"
	    "insecure_http = no\n"
	    "workers = 4\n"
	    "max_transfers = 32\n"
	    "connections = 100\n"
	    "timeout = 2m\n"
	    "log_level = debug\n"
	    "\n"
	    "[tree kernel]                       ; an origin\n"
	    "    role = origin\n"
	    "    source = /srv/kernel\n"
	    "    key = /etc/pulpdist/kernel.key\n"
	    "    watch = yes\n"
	    "    quiet = 10s\n"
	    "    schedule = every 15m\n"
	    "    expires = 30d\n"
	    "    priority = 10\n"
	    "    on_publish = /usr/bin/logger -t pd 'new version'\n"
	    "    hook_timeout = 1h30m\n");
	const struct nd_conf_node *n = nd_conf_node(c);
	const struct nd_conf_tree *t;

	CU_ASSERT_STRING_EQUAL(nd_conf_path(c), conf_path);
	CU_ASSERT_STRING_EQUAL(n->name, "site-a");
	CU_ASSERT_STRING_EQUAL(n->data, "/var/lib/pulpdist");
	CU_ASSERT_STRING_EQUAL(n->listen.text, "0.0.0.0:8700");
	CU_ASSERT_STRING_EQUAL(n->listen.host, "0.0.0.0");
	CU_ASSERT_EQUAL(n->listen.port, 8700);
	CU_ASSERT(!n->listen.loopback);
	CU_ASSERT(!n->insecure_http);
	CU_ASSERT_STRING_EQUAL(n->tls_cert, "/etc/pulpdist/site-a.crt");
	CU_ASSERT_STRING_EQUAL(n->tls_key, "/etc/pulpdist/site-a.key");
	CU_ASSERT_STRING_EQUAL(n->tls_ca, "/etc/pulpdist/ca.crt");
	CU_ASSERT_EQUAL(n->workers, 4);
	CU_ASSERT_EQUAL(n->max_transfers, 32);
	CU_ASSERT_EQUAL(n->connections, 100);
	CU_ASSERT_EQUAL(n->timeout, 120);
	CU_ASSERT_EQUAL(n->log_level, PD_LOG_DEBUG);
	CU_ASSERT_EQUAL_FATAL(nd_conf_ntrees(c), 1);
	t = nd_conf_tree(c, 0);
	CU_ASSERT_PTR_EQUAL(nd_conf_find(c, "kernel"), t);
	CU_ASSERT_PTR_NULL(nd_conf_find(c, "docs"));
	CU_ASSERT_PTR_NULL(nd_conf_tree(c, 1));
	CU_ASSERT_STRING_EQUAL(t->name, "kernel");
	CU_ASSERT_EQUAL(t->role, ND_CONF_ORIGIN);
	CU_ASSERT_STRING_EQUAL(t->source, "/srv/kernel");
	CU_ASSERT_STRING_EQUAL(t->key, "/etc/pulpdist/kernel.key");
	CU_ASSERT(t->watch);
	CU_ASSERT_EQUAL(t->quiet, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->schedule);
	CU_ASSERT_EQUAL(nd_sched_interval(t->schedule), 900);
	CU_ASSERT_EQUAL(t->expires, 30 * 86400);
	CU_ASSERT_EQUAL(t->priority, 10);
	CU_ASSERT_STRING_EQUAL(t->on_publish,
	    "/usr/bin/logger -t pd 'new version'");
	CU_ASSERT_EQUAL(t->hook_timeout, 5400);
	/* Mirror fields stay empty. */
	CU_ASSERT_PTR_NULL(t->upstream);
	CU_ASSERT_EQUAL(t->nupstream, 0);
	CU_ASSERT_PTR_NULL(t->trust);
	CU_ASSERT_PTR_NULL(t->window);
	nd_conf_free(c);
}

static void
test_mirror(void)
{
	struct nd_conf *c = load_ok(
	    "[node]\n"
	    "name = site-b\n"
	    "data = /var/lib/pulpdist\n"
	    "listen = [::1]:8701\n"
	    "tls_cert = /etc/pulpdist/b.crt\n"
	    "tls_key = /etc/pulpdist/b.key\n"
	    "tls_ca = /etc/pulpdist/ca.crt\n"
	    "[tree kernel]\n"
	    "role = mirror\n"
	    "upstream = https://site-a:8700 https://site-c/   ; in order\n"
	    "trust = /etc/pulpdist/kernel.pub\n"
	    "publish = /srv/mirror\n"
	    "schedule = */5 * * * 1-5\n"
	    "window = 22:00-06:00\n"
	    "priority = 100\n"
	    "bandwidth = 20M\n"
	    "keep = 5\n"
	    "spare = false\n"
	    "relay = 0\n"
	    "[tree docs]\n"
	    "role = mirror\n"
	    "upstream = https://[2001:db8::1]:9000\n"
	    "trust = /etc/pulpdist/docs.pub\n"
	    "publish = /srv/mirror\n"
	    "bandwidth = 512k\n");
	const struct nd_conf_node *n = nd_conf_node(c);
	const struct nd_conf_tree *t;

	CU_ASSERT_STRING_EQUAL(n->listen.host, "::1");
	CU_ASSERT_EQUAL(n->listen.port, 8701);
	CU_ASSERT(n->listen.loopback);
	CU_ASSERT_EQUAL_FATAL(nd_conf_ntrees(c), 2);
	t = nd_conf_tree(c, 0);
	CU_ASSERT_EQUAL(t->role, ND_CONF_MIRROR);
	CU_ASSERT_EQUAL_FATAL(t->nupstream, 2);
	CU_ASSERT_STRING_EQUAL(t->upstream[0].text, "https://site-a:8700");
	CU_ASSERT_STRING_EQUAL(t->upstream[0].host, "site-a");
	CU_ASSERT_EQUAL(t->upstream[0].port, 8700);
	CU_ASSERT(t->upstream[0].https);
	/* No port: https's; a final '/' is dropped. */
	CU_ASSERT_STRING_EQUAL(t->upstream[1].text, "https://site-c");
	CU_ASSERT_EQUAL(t->upstream[1].port, 443);
	CU_ASSERT_STRING_EQUAL(t->trust, "/etc/pulpdist/kernel.pub");
	CU_ASSERT_STRING_EQUAL(t->publish, "/srv/mirror");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->schedule);
	CU_ASSERT_STRING_EQUAL(nd_sched_text(t->schedule), "*/5 * * * 1-5");
	CU_ASSERT_EQUAL(nd_sched_interval(t->schedule), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->window);
	CU_ASSERT_STRING_EQUAL(nd_window_text(t->window), "22:00-06:00");
	CU_ASSERT_EQUAL(t->priority, 100);
	CU_ASSERT_EQUAL(t->bandwidth, 20ULL * 1024 * 1024);
	CU_ASSERT_EQUAL(t->keep, 5);
	CU_ASSERT(!t->spare);
	CU_ASSERT(!t->relay);
	CU_ASSERT_PTR_NULL(t->source);
	CU_ASSERT_PTR_NULL(t->key);
	CU_ASSERT(!t->watch);

	/* The defaults of a mirror. */
	t = nd_conf_tree(c, 1);
	CU_ASSERT_STRING_EQUAL(t->name, "docs");
	CU_ASSERT_EQUAL_FATAL(t->nupstream, 1);
	CU_ASSERT_STRING_EQUAL(t->upstream[0].host, "2001:db8::1");
	CU_ASSERT_EQUAL(t->upstream[0].port, 9000);
	CU_ASSERT_EQUAL(t->bandwidth, 512 * 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->schedule);
	CU_ASSERT_STRING_EQUAL(nd_sched_text(t->schedule),
	    ND_CONF_MIRROR_SCHEDULE);
	CU_ASSERT_PTR_NULL(t->window);
	CU_ASSERT_EQUAL(t->priority, 0);
	CU_ASSERT_EQUAL(t->keep, 3);
	CU_ASSERT(t->spare);
	CU_ASSERT(t->relay);
	CU_ASSERT_PTR_NULL(t->on_publish);
	CU_ASSERT_EQUAL(t->hook_timeout, ND_CONF_HOOK_TIMEOUT);
	nd_conf_free(c);
}

static void
test_defaults(void)
{
	struct nd_conf *c = load_ok(PLAIN_NODE
	    "[tree t]\nrole = origin\nsource = /srv/t\nkey = /k/t.key\n"
	    "watch = true\n"
	    "[tree u]\nrole = mirror\nupstream = http://localhost\n"
	    "trust = /k/u.pub\npublish = /srv/pub\n");
	const struct nd_conf_node *n = nd_conf_node(c);
	const struct nd_conf_tree *t = nd_conf_tree(c, 0);

	CU_ASSERT(n->insecure_http);
	CU_ASSERT(n->listen.loopback);
	CU_ASSERT_PTR_NULL(n->tls_cert);
	CU_ASSERT_PTR_NULL(n->tls_key);
	CU_ASSERT_PTR_NULL(n->tls_ca);
	CU_ASSERT_EQUAL(n->workers, 0);
	CU_ASSERT_EQUAL(n->max_transfers, ND_CONF_MAX_TRANSFERS);
	CU_ASSERT_EQUAL(n->connections, ND_CONF_CONNECTIONS);
	CU_ASSERT_EQUAL(n->timeout, ND_CONF_TIMEOUT);
	CU_ASSERT_EQUAL(n->log_level, PD_LOG_INFO);
	/* An origin that only watches has no schedule. */
	CU_ASSERT(t->watch);
	CU_ASSERT_PTR_NULL(t->schedule);
	CU_ASSERT_EQUAL(t->quiet, ND_CONF_QUIET);
	CU_ASSERT_EQUAL(t->expires, ND_CONF_EXPIRES);
	CU_ASSERT_EQUAL(t->priority, 0);
	t = nd_conf_tree(c, 1);
	CU_ASSERT(!t->upstream[0].https);
	CU_ASSERT_EQUAL(t->upstream[0].port, 80);
	nd_conf_free(c);

	/* expires = never; an origin on a schedule, not watching. */
	c = load_ok(PLAIN_NODE "[tree t]\nrole = origin\nsource = /s\n"
	    "key = /k\nexpires = never\nschedule = @daily\n");
	t = nd_conf_tree(c, 0);
	CU_ASSERT_EQUAL(t->expires, 0);
	CU_ASSERT(!t->watch);
	nd_conf_free(c);
}

static void
test_errors(void)
{
	static const struct { const char *text, *want; } cases[] = {
		/* Sections and lines. */
		{ "", " no [node] section" },
		{ "x = 1\n", "1: x: a key before any [section]" },
		{ PLAIN_NODE "[nodes]\n", "6: [nodes]: unknown section" },
		{ PLAIN_NODE "[node]\n", "6: [node]: given twice (first at "
		    "line 1)" },
		{ PLAIN_NODE "just words\n", "6: just words: want key = "
		    "value" },
		{ PLAIN_NODE "[tree a\n", "6: [tree a: a section header "
		    "needs its closing ]" },
		{ PLAIN_NODE "[tree a] b\n", "6: [tree a]: text after" },
		{ PLAIN_NODE "name = again\n", "6: [node] name: given twice "
		    "(first at line 2)" },
		{ PLAIN_NODE "bogus = 1\n", "6: [node] bogus: unknown key" },
		{ PLAIN_NODE " = 1\n", "6: a value without a key" },
		/* Bad values. */
		{ PLAIN_NODE "workers = many\n", "6: [node] workers: "
		    "\"many\": want a whole number from 0 to 1024" },
		{ PLAIN_NODE "workers = 1025\n", "6: [node] workers: " },
		{ PLAIN_NODE "workers = -1\n", "6: [node] workers: " },
		{ PLAIN_NODE "max_transfers = 0\n", "6: [node] "
		    "max_transfers: \"0\": want a whole number from 1" },
		{ PLAIN_NODE "timeout = 5x\n", "6: [node] timeout: \"5x\": "
		    "units are" },
		{ PLAIN_NODE "timeout = 2d\n", "6: [node] timeout: \"2d\": "
		    "want a duration from 1s to 1d" },
		{ PLAIN_NODE "log_level = loud\n", "6: [node] log_level: " },
		{ "[node]\nname = n\ndata = /d\nlisten = 127.0.0.1:1\n"
		    "insecure_http = maybe\n", "5: [node] insecure_http: "
		    "\"maybe\": want yes or no" },
		{ "[node]\nname = .n\n", "2: [node] name: \".n\": not a "
		    "valid name" },
		{ "[node]\nname = n\ndata = relative/dir\n", "3: [node] data: "
		    "\"relative/dir\": want an absolute path" },
		{ "[node]\nname = n\ndata = /d\nlisten = 127.0.0.1\n",
		    "4: [node] listen: \"127.0.0.1\": the port is missing" },
		{ "[node]\nname = n\ndata = /d\nlisten = 127.0.0.1:70000\n",
		    "4: [node] listen: " },
		{ "[node]\nname = n\ndata = /d\nlisten = ::1:80\n",
		    "4: [node] listen: \"::1:80\": an IPv6 address goes in "
		    "brackets" },
		{ "[node]\nname = n\ndata = /d\nlisten = 300.1.1.1:80\n",
		    "4: [node] listen: " },
		/* TLS and plain HTTP. */
		{ "[node]\nname = n\ndata = /d\nlisten = 127.0.0.1:1\n",
		    "1: [node] tls_cert: missing; required unless "
		    "insecure_http = yes" },
		{ "[node]\nname = n\ndata = /d\nlisten = 127.0.0.1:1\n"
		    "tls_cert = /c\ntls_key = /k\n", "1: [node] tls_ca: "
		    "missing" },
		{ PLAIN_NODE "tls_cert = /c\n", "6: [node] tls_cert: not used "
		    "with insecure_http = yes" },
		{ "[node]\nname = n\ndata = /d\nlisten = 0.0.0.0:1\n"
		    "insecure_http = yes\n", "4: [node] listen: 0.0.0.0:1 is "
		    "not a loopback address" },
		{ "[node]\nname = n\ndata = /d\n", "1: [node] listen: "
		    "missing" },
		/* Trees. */
		{ PLAIN_NODE "[tree a/b]\nrole = origin\n", "6: [tree a/b]: "
		    "tree name has a byte" },
		{ PLAIN_NODE "[tree]\n", "6: [tree]: unknown section" },
		{ PLAIN_NODE "[tree a]\n", "6: [tree a] role: missing" },
		{ PLAIN_NODE "[tree a]\nrole = slave\n", "7: [tree a] role: "
		    "\"slave\": want origin or mirror" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nsource = /s\n"
		    "key = /k\nwatch = yes\n[tree a]\nrole = origin\n",
		    "11: [tree a]: tree a is already defined at line 6" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nkey = /k\n",
		    "6: [tree a] source: missing; an origin needs it" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nsource = /s\n"
		    "key = /k\n", "6: [tree a] schedule: missing; an origin "
		    "needs a schedule, or watch = yes" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nsource = /s\n"
		    "key = /k\nschedule = every 1h\nquiet = 3s\n",
		    "11: [tree a] quiet: only used with watch = yes" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nsource = /s\n"
		    "key = /k\nwatch = 1\nhook_timeout = 3s\n",
		    "11: [tree a] hook_timeout: only used with on_publish" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nsource = /s\n"
		    "upstream = http://127.0.0.1:1\n", "9: [tree a] upstream: "
		    "not a key of an origin; it belongs in a mirror" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nwatch = yes\n",
		    "8: [tree a] watch: not a key of a mirror; it belongs in "
		    "an origin" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nworkers = 3\n",
		    "8: [tree a] workers: not a key of a mirror; it belongs "
		    "in [node]" },
		{ PLAIN_NODE "role = origin\n", "6: [node] role: not a key "
		    "of [node]; it belongs in [tree NAME]" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nschedule = 0 25 * * *\n",
		    "8: [tree a] schedule: cron hour field \"25\"" },
		{ PLAIN_NODE "[tree a]\nrole = origin\nschedule = every\n",
		    "8: [tree a] schedule: " },
		{ PLAIN_NODE "[tree a]\nrole = origin\nexpires = 10s\n",
		    "8: [tree a] expires: \"10s\": want a duration from 1m to "
		    "366d, or never" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nwindow = 10-12\n",
		    "8: [tree a] window: window \"10-12\"" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nbandwidth = 20\n",
		    "8: [tree a] bandwidth: \"20\": want a rate like" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nbandwidth = 20X\n",
		    "8: [tree a] bandwidth: \"20X\": want a rate like" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nkeep = 0\n",
		    "8: [tree a] keep: \"0\": want a whole number from 1" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nupstream = ftp://x\n",
		    "8: [tree a] upstream: ftp://x: want http://HOST" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nupstream = http://x/y\n",
		    "8: [tree a] upstream: http://x/y: a node's URL has no "
		    "path" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nupstream = http://"
		    "127.0.0.1:1 http://127.0.0.1:1\n", "8: [tree a] "
		    "upstream: http://127.0.0.1:1 is listed twice" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nupstream =\n",
		    "8: [tree a] upstream: want one or more URLs" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\n"
		    "upstream = http://10.1.1.1:8700\ntrust = /t\n"
		    "publish = /p\n", "8: [tree a] upstream: "
		    "http://10.1.1.1:8700: plain http:// only to a loopback "
		    "address" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\n"
		    "upstream = https://127.0.0.1:8700\ntrust = /t\n"
		    "publish = /p\n", "8: [tree a] upstream: "
		    "https://127.0.0.1:8700: https needs TLS" },
		{ "[node]\nname = n\ndata = /d\nlisten = 127.0.0.1:1\n"
		    "tls_cert = /c\ntls_key = /k\ntls_ca = /a\n[tree a]\n"
		    "role = mirror\nupstream = http://127.0.0.1:1\n"
		    "trust = /t\npublish = /p\n", "10: [tree a] upstream: "
		    "http://127.0.0.1:1: plain http:// needs insecure_http "
		    "= yes" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\nupstream = "
		    "http://127.0.0.1:1\npublish = /p\n", "6: [tree a] trust: "
		    "missing; a mirror needs it" },
		{ PLAIN_NODE "[tree a]\nrole = mirror\non_publish =\n",
		    "8: [tree a] on_publish: \"\": want a command" },
	};
	size_t i;

	for (i = 0; i < NELEM(cases); i++)
		load_bad(cases[i].text, cases[i].want);
}

static void
test_lines(void)
{
	struct pd_error err;
	struct nd_conf *c = NULL;
	char text[1024], want[64];

	/* Longer than libinih's line: refused, not split. */
	snprintf(text, sizeof(text), PLAIN_NODE "# %0250d\n", 0);
	snprintf(want, sizeof(want), "6: line longer than 197 bytes");
	load_bad(text, want);
	/* A NUL byte. */
	pd_error_clear(&err);
	unit_write(tmp, "node.conf", "[node]\nna\0me = x\n", 17);
	CU_ASSERT_EQUAL(nd_conf_load(conf_path, &c, &err), PD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":2: a NUL byte"));
	/* Indented keys are keys, not continuation lines; a tree name of
	 * 64 bytes survives libinih's 50-byte section names; a BOM, CRLF
	 * and both comment styles are fine. */
	c = load_ok("\xEF\xBB\xBF[node]\r\n  name = n1\r\n"
	    "  data = /d\n# comment\n  listen = 127.0.0.1:1 ; inline\n"
	    "  insecure_http = yes\n"
	    "[ tree 0123456789012345678901234567890123456789"
	    "012345678901234567890123 ]\n  role = origin\n  source = /s\n"
	    "  key = /k\n  watch = yes\n");
	CU_ASSERT_STRING_EQUAL(nd_conf_node(c)->data, "/d");
	CU_ASSERT_STRING_EQUAL(nd_conf_node(c)->listen.text, "127.0.0.1:1");
	CU_ASSERT_EQUAL(strlen(nd_conf_tree(c, 0)->name), 64);
	nd_conf_free(c);
	/* The file itself. */
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_conf_load("/nonexistent/node.conf", &c, &err),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/node.conf"));
}

/* Files for the file checks under tmp/files. */
static void
make_files(void)
{
	struct pd_error err = { 0 };
	struct pr_key *k = NULL;
	char d[4096], p[4096];

	unit_pjoin(d, sizeof(d), tmp, "files");
	if (mkdir(d, 0755) != 0) {
		CU_ASSERT_EQUAL(errno, EEXIST);	/* made by an earlier test */
		return;
	}
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&k, &err), PD_OK);
	unit_pjoin(p, sizeof(p), d, "t.key");
	CU_ASSERT_EQUAL(pr_key_write_private(k, p, &err), PD_OK);
	unit_pjoin(p, sizeof(p), d, "t.pub");
	CU_ASSERT_EQUAL(pr_key_write_public(k, p, &err), PD_OK);
	pr_key_free(k);
	unit_write(d, "cert", "x", 1);
	unit_pjoin(p, sizeof(p), d, "src");
	CU_ASSERT_EQUAL(mkdir(p, 0755), 0);
}

/* Check files of a configuration with @ replaced by tmp/files. */
static enum pd_err
check(const char *tmpl, struct pd_error *err)
{
	char text[4096], dir[4096];
	struct nd_conf *c = NULL;
	struct pd_buf b;
	const char *p;
	enum pd_err rc;

	make_files();
	unit_pjoin(dir, sizeof(dir), tmp, "files");
	pd_buf_init(&b, 1 << 20);
	for (p = tmpl; *p != '\0'; p++)
		if ((*p == '@' ? pd_buf_add(&b, dir, strlen(dir)) :
		    pd_buf_add(&b, p, 1)) != PD_OK)
			CU_FAIL_FATAL("out of memory");
	CU_ASSERT_FATAL(b.len < sizeof(text));
	memcpy(text, b.data, b.len);
	text[b.len] = '\0';
	pd_buf_free(&b);
	c = load_ok(text);
	pd_error_clear(err);
	rc = nd_conf_check_files(c, err);
	nd_conf_free(c);
	return rc;
}

static void
check_bad(const char *tmpl, enum pd_err code, const char *want)
{
	struct pd_error err;
	char full[PD_ERRMSG_MAX + 512];

	CU_ASSERT_EQUAL(check(tmpl, &err), code);
	snprintf(full, sizeof(full), "%s:%s", conf_path, want);
	if (strncmp(err.msg, full, strlen(full)) != 0)
		fprintf(stderr, "\ngot  \"%s\"\nwant \"%s...\"\n", err.msg,
		    full);
	CU_ASSERT_EQUAL(strncmp(err.msg, full, strlen(full)), 0);
}

#define TLS_NODE	"[node]\nname = n\ndata = @/data\n" \
			"listen = 127.0.0.1:1\ntls_cert = @/cert\n" \
			"tls_key = @/cert\ntls_ca = @/cert\n"
#define ORIGIN(src, key) "[tree o]\nrole = origin\nsource = " src "\n" \
			"key = " key "\nwatch = yes\n"
#define MIRROR(trust, pub) "[tree m]\nrole = mirror\n" \
			"upstream = https://up:8700\ntrust = " trust "\n" \
			"publish = " pub "\n"

static void
test_check_files(void)
{
	struct pd_error err;

	CU_ASSERT_EQUAL(check(TLS_NODE ORIGIN("@/src", "@/t.key")
	    MIRROR("@/t.pub", "@/src"), &err), PD_OK);
	/* data may exist, as a directory. */
	CU_ASSERT_EQUAL(check("[node]\nname = n\ndata = @/src\n"
	    "listen = 127.0.0.1:1\ninsecure_http = yes\n", &err), PD_OK);
	check_bad("[node]\nname = n\ndata = @/none/data\n"
	    "listen = 127.0.0.1:1\ninsecure_http = yes\n", PD_ERR_NOTFOUND,
	    "3: [node] data: ");
	check_bad("[node]\nname = n\ndata = @/cert\n"
	    "listen = 127.0.0.1:1\ninsecure_http = yes\n", PD_ERR_NOTFOUND,
	    "3: [node] data: ");
	check_bad("[node]\nname = n\ndata = @/data\nlisten = 127.0.0.1:1\n"
	    "tls_cert = @/cert\ntls_key = @/missing.key\ntls_ca = @/cert\n",
	    PD_ERR_NOTFOUND, "6: [node] tls_key: ");
	check_bad("[node]\nname = n\ndata = @/data\nlisten = 127.0.0.1:1\n"
	    "tls_cert = @/cert\ntls_key = @/cert\ntls_ca = @/src\n",
	    PD_ERR_NOTFOUND, "7: [node] tls_ca: ");
	check_bad(TLS_NODE ORIGIN("@/nosrc", "@/t.key"), PD_ERR_NOTFOUND,
	    "10: [tree o] source: ");
	check_bad(TLS_NODE ORIGIN("@/cert", "@/t.key"), PD_ERR_NOTFOUND,
	    "10: [tree o] source: ");
	check_bad(TLS_NODE ORIGIN("@/src", "@/none.key"), PD_ERR_NOTFOUND,
	    "11: [tree o] key: ");
	check_bad(TLS_NODE ORIGIN("@/src", "@/t.pub"), PD_ERR_PARSE,
	    "11: [tree o] key: ");
	check_bad(TLS_NODE ORIGIN("@/src", "@/cert"), PD_ERR_PARSE,
	    "11: [tree o] key: ");
	check_bad(TLS_NODE MIRROR("@/t.key", "@/src"), PD_ERR_PARSE,
	    "11: [tree m] trust: ");
	check_bad(TLS_NODE MIRROR("@/t.pub", "@/nopub"), PD_ERR_NOTFOUND,
	    "12: [tree m] publish: ");
}

/* In a child without root's DAC override: the check of c fails with
 * "Permission denied" on key `want`.  0 if so. */
static int
check_denied(const struct nd_conf *c, const char *want)
{
	struct pd_error err = { 0 };
	pid_t pid = fork();

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		if (unit_drop_dac_caps() != 0)
			_exit(10);
		if (nd_conf_check_files(c, &err) != PD_ERR_IO)
			_exit(11);
		if (strstr(err.msg, want) == NULL ||
		    strstr(err.msg, "Permission denied") == NULL)
			_exit(12);
		_exit(0);
	}
	return unit_child_status(pid);
}

static void
test_unreadable(void)
{
	char dir[2048], text[8192];
	struct nd_conf *c;

	make_files();
	unit_pjoin(dir, sizeof(dir), tmp, "files");
	snprintf(text, sizeof(text), "%s/locked", dir);
	CU_ASSERT_FATAL(mkdir(text, 0) == 0 || errno == EEXIST);
	unit_write(dir, "locked.key", "x", 1);
	snprintf(text, sizeof(text), "%s/locked.key", dir);
	CU_ASSERT_EQUAL_FATAL(chmod(text, 0), 0);

	snprintf(text, sizeof(text), PLAIN_NODE "[tree o]\nrole = origin\n"
	    "source = %s/locked/\nkey = %s/t.key\nwatch = yes\n", dir, dir);
	c = load_ok(text);
	/* The final '/' does not count. */
	CU_ASSERT_EQUAL(strcmp(nd_conf_tree(c, 0)->source + strlen(dir),
	    "/locked"), 0);
	CU_ASSERT_EQUAL(check_denied(c, ":8: [tree o] source: "), 0);
	nd_conf_free(c);

	snprintf(text, sizeof(text), PLAIN_NODE "[tree o]\nrole = origin\n"
	    "source = %s\nkey = %s/locked.key\nwatch = yes\n", dir, dir);
	c = load_ok(text);
	CU_ASSERT_EQUAL(check_denied(c, ":9: [tree o] key: "), 0);
	nd_conf_free(c);
}

struct diffs {
	char	 log[1024];
};

static void
diff_cb(void *arg, const char *tree, enum nd_conf_change ch,
    const char *key, bool restart)
{
	struct diffs *d = arg;
	size_t n = strlen(d->log);

	snprintf(d->log + n, sizeof(d->log) - n, "%s/%c/%s/%d;",
	    tree ? tree : "-", ch == ND_CONF_ADDED ? 'A' :
	    ch == ND_CONF_REMOVED ? 'R' : 'C', key ? key : "-", restart);
}

static void
test_reload(void)
{
	struct nd_conf *a, *b;
	struct diffs d = { "" };

	a = load_ok(PLAIN_NODE "[tree t]\nrole = origin\nsource = /s\n"
	    "key = /k\nwatch = yes\n[tree u]\nrole = origin\nsource = /s\n"
	    "key = /k\nwatch = yes\n");
	b = load_ok("[node]\nname = n1\ndata = /tmp/pd-data\n"
	    "listen = 127.0.0.2:1\ninsecure_http = yes\nmax_transfers = 8\n"
	    "[tree v]\nrole = origin\nsource = /s\nkey = /k\n"
	    "schedule = every 1h\n"
	    "[tree t]\nrole = origin\nsource = /s2\nkey = /k\nwatch = yes\n");
	/* b's load did not touch a. */
	CU_ASSERT_STRING_EQUAL(nd_conf_node(a)->listen.text,
	    "127.0.0.1:8700");
	CU_ASSERT_EQUAL(nd_conf_ntrees(a), 2);
	nd_conf_diff(a, b, diff_cb, &d);
	CU_ASSERT_STRING_EQUAL(d.log, "-/C/listen/1;-/C/max_transfers/0;"
	    "u/R/-/0;v/A/-/0;t/C/source/0;");
	d.log[0] = '\0';
	nd_conf_diff(a, a, diff_cb, &d);
	CU_ASSERT_STRING_EQUAL(d.log, "");
	nd_conf_free(b);
	CU_ASSERT_STRING_EQUAL(nd_conf_tree(a, 1)->name, "u");
	nd_conf_free(a);
	nd_conf_free(NULL);
}

/* What contrib/origin.conf and mirror.conf name, under root. */
static void
example_files(const char *root)
{
	static const char *const dirs[] = { "etc", "etc/pulpdist", "srv",
	    "srv/kernel", "srv/docs", "srv/mirror", "var", "var/lib" };
	static const char *const pems[] = { "site-a.crt", "site-a.key",
	    "site-b.crt", "site-b.key", "ca.crt" };
	static const char *const trees[] = { "kernel", "docs" };
	struct pd_error err = { 0 };
	struct pr_key *k;
	char p[4096], etc[4096], name[64];
	size_t i;

	CU_ASSERT_EQUAL_FATAL(mkdir(root, 0755), 0);
	for (i = 0; i < NELEM(dirs); i++) {
		unit_pjoin(p, sizeof(p), root, dirs[i]);
		CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
	}
	unit_pjoin(etc, sizeof(etc), root, "etc/pulpdist");
	for (i = 0; i < NELEM(pems); i++)
		unit_write(etc, pems[i], "pem", 3);
	for (i = 0; i < NELEM(trees); i++) {
		k = NULL;
		CU_ASSERT_EQUAL_FATAL(pr_key_generate(&k, &err), PD_OK);
		snprintf(name, sizeof(name), "%s.key", trees[i]);
		unit_pjoin(p, sizeof(p), etc, name);
		CU_ASSERT_EQUAL(pr_key_write_private(k, p, &err), PD_OK);
		snprintf(name, sizeof(name), "%s.pub", trees[i]);
		unit_pjoin(p, sizeof(p), etc, name);
		CU_ASSERT_EQUAL(pr_key_write_public(k, p, &err), PD_OK);
		pr_key_free(k);
	}
}

/* The examples in contrib/, as they are and on real files. */
static void
test_examples(void)
{
	static const char *const names[] = { "origin.conf", "mirror.conf" };
	struct pd_error err;
	struct nd_conf *c;
	struct pd_buf in, out;
	char path[4096], root[4096], *s;
	const char *p;
	size_t i;

	for (i = 0; i < NELEM(names); i++) {
		snprintf(path, sizeof(path), "root-%s", names[i]);
		unit_pjoin(root, sizeof(root), tmp, path);
		snprintf(path, sizeof(path), "%s/../../contrib/%s",
		    unit_vectors_dir, names[i]);
		pd_error_clear(&err);
		c = NULL;
		CU_ASSERT_EQUAL(nd_conf_load(path, &c, &err), PD_OK);
		if (c == NULL)
			fprintf(stderr, "\n%s\n", err.msg);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		CU_ASSERT(nd_conf_ntrees(c) >= 2);
		CU_ASSERT_EQUAL(nd_conf_find(c, "kernel")->role,
		    i == 0 ? ND_CONF_ORIGIN : ND_CONF_MIRROR);
		if (i == 1)
			CU_ASSERT_EQUAL(nd_conf_find(c, "kernel")->bandwidth,
			    20 * 1024 * 1024);
		nd_conf_free(c);

		/* Again with /etc/pulpdist, /srv and /var/lib under root. */
		pd_buf_init(&in, 1 << 20);
		pd_buf_init(&out, 1 << 20);
		CU_ASSERT_EQUAL_FATAL(pd_read_file(path, 1 << 20, &in, &err),
		    PD_OK);
		CU_ASSERT_EQUAL_FATAL(pd_buf_add(&in, "", 1), PD_OK);
		for (p = (const char *)in.data; *p != '\0'; p++) {
			if ((strncmp(p, "/etc/pulpdist/", 14) == 0 ||
			    strncmp(p, "/srv/", 5) == 0 ||
			    strncmp(p, "/var/lib/", 9) == 0) &&
			    pd_buf_add(&out, root, strlen(root)) != PD_OK)
				CU_FAIL_FATAL("out of memory");
			if (pd_buf_add(&out, p, 1) != PD_OK)
				CU_FAIL_FATAL("out of memory");
		}
		CU_ASSERT_EQUAL_FATAL(pd_buf_add(&out, "", 1), PD_OK);
		s = (char *)out.data;
		c = load_ok(s);
		pd_buf_free(&in);
		pd_buf_free(&out);
		pd_error_clear(&err);
		/* Nothing there yet: the first file is named. */
		CU_ASSERT_EQUAL(nd_conf_check_files(c, &err),
		    PD_ERR_NOTFOUND);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "[node] data: "));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, root));
		/* Every file and directory they name, made: they pass. */
		example_files(root);
		pd_error_clear(&err);
		CU_ASSERT_EQUAL(nd_conf_check_files(c, &err), PD_OK);
		if (err.code != PD_OK)
			fprintf(stderr, "\n%s\n", err.msg);
		nd_conf_free(c);
	}
}

/* Every allocation of a load failing in turn: PD_ERR_NOMEM, no leak. */
static void
test_nomem(void)
{
	static const char text[] = PLAIN_NODE
	    "[tree t]\nrole = origin\nsource = /s\nkey = /k\nwatch = yes\n"
	    "on_publish = /bin/true\nschedule = 0 2 * * *\n"
	    "[tree u]\nrole = mirror\nupstream = http://127.0.0.1:1 "
	    "http://localhost:2\ntrust = /t\npublish = /p\n"
	    "window = 22:00-06:00\n";
	struct pd_error err;
	struct nd_conf *c;
	enum pd_err rc;
	uint64_t i;

	for (i = 1; i < 1000; i++) {
		c = NULL;
		pd_error_clear(&err);
		unit_write(tmp, "node.conf", text, strlen(text));
		pd_mem_fail_at(pd_mem_allocations() + i);
		rc = nd_conf_load(conf_path, &c, &err);
		pd_mem_fail_at(0);
		if (rc == PD_OK) {
			CU_ASSERT_EQUAL(nd_conf_ntrees(c), 2);
			nd_conf_free(c);
			break;
		}
		CU_ASSERT_EQUAL(rc, PD_ERR_NOMEM);
		CU_ASSERT_PTR_NULL(c);
	}
	/* It did succeed, after failing at each allocation before. */
	CU_ASSERT(i > 10 && i < 1000);
}

/* doc/CONFIG.md has a row for every key, with its default and reload. */
static void
test_doc(void)
{
	struct pd_error err = { 0 };
	const struct keydef *k;
	struct pd_buf doc;
	char path[4096], cell[128];
	const char *row, *end;
	size_t i;

	snprintf(path, sizeof(path), "%s/../../doc/CONFIG.md",
	    unit_vectors_dir);
	pd_buf_init(&doc, 1 << 20);
	CU_ASSERT_EQUAL_FATAL(pd_read_file(path, 1 << 20, &doc, &err), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_buf_add(&doc, "", 1), PD_OK);
	for (i = 0; i < nd_conf_nkeys; i++) {
		k = &nd_conf_keys[i];
		snprintf(cell, sizeof(cell), "\n| `%s` |", k->name);
		row = strstr((const char *)doc.data, cell);
		if (row == NULL)
			fprintf(stderr, "\n%s: no row for %s\n", path, k->name);
		CU_ASSERT_PTR_NOT_NULL(row);
		if (row == NULL)
			continue;
		end = strchr(row + 1, '\n');
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		if (k->def != NULL) {
			snprintf(cell, sizeof(cell), "| `%s` |", k->def);
			CU_ASSERT(memmem(row, (size_t)(end - row), cell,
			    strlen(cell)) != NULL);
		}
		if (k->flags & K_REQUIRED)
			CU_ASSERT(memmem(row, (size_t)(end - row),
			    "| required |", 12) != NULL);
		CU_ASSERT_EQUAL(memmem(row, (size_t)(end - row),
		    "| restart |", 11) != NULL, (k->flags & K_RESTART) != 0);
	}
	pd_buf_free(&doc);
}

static int
add_config(void)
{
	static const struct unit_test tests[] = {
		{ "an origin's typed values", test_origin },
		{ "a mirror's typed values", test_mirror },
		{ "defaults", test_defaults },
		{ "each error names file, line, section, key", test_errors },
		{ "long lines, NUL, BOM, indents, long names", test_lines },
		{ "files the configuration names", test_check_files },
		{ "files this process cannot read", test_unreadable },
		{ "independent loads and their diff", test_reload },
		{ "the examples in contrib/", test_examples },
		{ "every allocation failing in turn", test_nomem },
		{ "doc/CONFIG.md has every key", test_doc },
	};

	return UNIT_SUITE("config", suite_init, suite_cleanup, tests);
}

UNIT_REGISTER("config", add_config)
