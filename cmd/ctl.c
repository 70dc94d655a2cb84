/*
 * pulpdist status, tasks, sync and cancel: ask a running node what it
 * is doing, or tell it to act (spec/PROTOCOL.md, "Node control").
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/buf.h"
#include "../node/control.h"
#include "../node/fetch.h"
#include "../protocol/manifest.h"
#include "cmd.h"

#define TLS_HELP "\nTLS is --tls-cert F --tls-key F --tls-ca F: this node's " \
    "certificate,\nits key and the deployment CA's, for an https:// " \
    "node.\n"

/* Largest control answer taken: a status or a list of tasks. */
#define CTL_BODY_MAX	(4 * 1024 * 1024)

struct ctl_call {
	struct pd_buf	*out;
	enum pd_err	 rc;
	struct pd_error	*err;
};

static enum pd_err
call_sink(void *arg, const void *p, size_t n)
{
	struct ctl_call *c = arg;

	return pd_buf_add(c->out, p, n);
}

/*
 * The node's own words for a refusal: the "error" of its JSON body,
 * which the fetch put after "HTTP NNN " in its text.
 */
static void
call_done(void *arg, long status, enum pd_err rc, const struct pd_error *e)
{
	struct ctl_call *c = arg;
	const char *brace;
	json_t *j;

	c->rc = rc;
	if (rc == PD_OK)
		return;
	brace = strchr(e->msg, '{');
	j = brace ? json_loads(brace, 0, NULL) : NULL;
	if (j != NULL && json_is_string(json_object_get(j, "error")))
		pd_fail(c->err, rc, "HTTP %ld: %s", status,
		    json_string_value(json_object_get(j, "error")));
	else
		pd_fail(c->err, rc, "%s", e->msg);
	json_decref(j);
}

/* GET (body NULL) or POST path on node (over TLS with tls, when not
 * NULL); its JSON object in *out. */
static enum pd_err
ctl_call(const char *node, const struct nd_tls_files *tls, const char *path,
    const char *body, json_t **out, struct pd_error *err)
{
	struct nd_fetch *f = NULL;
	struct pd_buf b = { 0 };
	struct ctl_call c = { &b, PD_OK, err };
	json_error_t je;
	enum pd_err rc;

	*out = NULL;
	pd_buf_init(&b, CTL_BODY_MAX);
	if ((rc = nd_fetch_new(node, 1, &f, err)) != PD_OK ||
	    (tls != NULL && (rc = nd_fetch_set_tls(f, tls, err)) != PD_OK) ||
	    (rc = nd_fetch_add(f, path, body, body ? strlen(body) : 0, 0,
	    CTL_BODY_MAX, call_sink, call_done, &c, err)) != PD_OK ||
	    (rc = nd_fetch_run(f, err)) != PD_OK || (rc = c.rc) != PD_OK)
		goto out;
	*out = json_loadb((const char *)b.data, b.len, 0, &je);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = pd_fail(err, PD_ERR_PARSE, "%s%s: not a JSON object: %s",
		    node, path, je.text);
	}
out:
	if (rc != PD_OK)
		pd_prefix(err, "node %s", node);
	pd_buf_free(&b);
	nd_fetch_free(f);
	return rc;
}

static const char *
jstr(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

static long long
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void
print_task(json_t *t)
{
	char when[32] = "-";
	long long at = jint(t, "created_ms");
	const char *error = jstr(t, "error", "");

	if (at > 0)
		fmt_time(at / 1000, when, sizeof(when));
	printf("  %6lld  %-8s %-16s %-9s try %lld  %s", jint(t, "id"),
	    jstr(t, "kind", "?"), jstr(t, "tree", "?"), jstr(t, "state", "?"),
	    jint(t, "attempts"), when);
	if (error[0] != '\0')
		printf("  %s", error);
	printf("\n");
}

static void
print_tasks(const char *title, json_t *arr)
{
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return;
	printf("%s:\n", title);
	for (i = 0; i < json_array_size(arr); i++)
		print_task(json_array_get(arr, i));
}

static void
print_status(json_t *st)
{
	json_t *node = json_object_get(st, "node");
	json_t *trees = json_object_get(st, "trees");
	json_t *tasks = json_object_get(st, "tasks");
	json_t *srv = json_object_get(st, "server");
	json_t *t, *errs = json_object_get(st, "errors");
	json_t *rates = json_object_get(st, "rates");
	char out[32], r10[32], r60[32], in[32];
	size_t i;

	printf("node %s, up %llds, %zu trees\n", jstr(node, "name",
	    "(plain serve)"), jint(node, "uptime"), json_array_size(trees));
	for (i = 0; i < json_array_size(trees); i++) {
		t = json_array_get(trees, i);
		printf("  %-16s %-7s v%-6lld %s\n", jstr(t, "name", "?"),
		    jstr(t, "role", "-"), jint(t, "version"),
		    jstr(t, "state", "idle"));
	}
	print_tasks("running", json_object_get(tasks, "running"));
	print_tasks("queued", json_object_get(tasks, "queued"));
	print_tasks("last errors", errs);
	if (json_is_object(rates)) {
		fmt_bytes((uint64_t)jint(rates, "out_bytes_per_s_10s"), r10,
		    sizeof(r10));
		fmt_bytes((uint64_t)jint(rates, "out_bytes_per_s_60s"), r60,
		    sizeof(r60));
		fmt_bytes((uint64_t)jint(rates, "in_bytes_per_s_60s"), in,
		    sizeof(in));
		printf("rates: out %s/s (10 s), %s/s (1 min); in %s/s "
		    "(1 min)\n", r10, r60, in);
	}
	if (json_is_object(srv)) {
		fmt_bytes((uint64_t)jint(srv, "bytes_out"), out, sizeof(out));
		printf("served %lld requests (%lld errors, %lld overloaded), "
		    "%s out\n", jint(srv, "requests"), jint(srv, "errors"),
		    jint(srv, "overloaded"), out);
	}
}

/* The options of the control commands; --tree and --limit are only
 * for `tasks` (lists says whether the command takes them). */
struct ctl_opts {
	const char	*node;
	struct nd_tls_files tls;	/* all three, or none */
	const struct nd_tls_files *tlsp; /* &tls, or NULL */
	bool		 json;
	const char	*tree;
	uint64_t	 limit;
};

/* -1 to go on, else the exit status. */
static int
ctl_parse(const char *cmd, const char *usage, int argc, char **argv,
    bool lists, struct ctl_opts *o, void (*help)(void))
{
	static const struct option lo[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "tree", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-ca", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	int c, ntls;

	memset(o, 0, sizeof(*o));
	o->limit = ND_TASKS_LIST_DEFAULT;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->node = optarg; break;
		case 'j': o->json = true; break;
		case 't':
			if (!lists)
				return usage_error(cmd, usage, "no --tree");
			if ((why = pr_tree_name_check(optarg)) != NULL)
				return usage_error(cmd, usage, "bad tree name "
				    "%s: %s", optarg, why);
			o->tree = optarg;
			break;
		case 'l':
			if (!lists)
				return usage_error(cmd, usage, "no --limit");
			if (!parse_u64_arg(optarg, &o->limit) ||
			    o->limit == 0 || o->limit > ND_TASKS_LIST_MAX)
				return usage_error(cmd, usage, "bad --limit "
				    "%s (1 to %d)", optarg, ND_TASKS_LIST_MAX);
			break;
		case 'C': o->tls.cert = optarg; break;
		case 'K': o->tls.key = optarg; break;
		case 'A': o->tls.ca = optarg; break;
		case 'h': help(); return 0;
		default: return bad_option(cmd, usage, argv);
		}
	}
	ntls = (o->tls.cert != NULL) + (o->tls.key != NULL) +
	    (o->tls.ca != NULL);
	if (ntls != 0 && ntls != 3)
		return usage_error(cmd, usage, "--tls-cert, --tls-key and "
		    "--tls-ca go together");
	if (o->tls.cert != NULL)
		o->tlsp = &o->tls;
	if (o->node == NULL)
		return usage_error(cmd, usage, "--node URL is needed");
	if (strncmp(o->node, o->tlsp ? "https://" : "http://",
	    o->tlsp ? 8 : 7) != 0)
		return usage_error(cmd, usage, "--node %s: want %s://HOST:PORT",
		    o->node, o->tlsp ? "https" : "http (https with the "
		    "--tls-* options)");
	return -1;
}

static const char status_usage[] = "pulpdist status --node URL [--json] [TLS]";

static void
status_help(void)
{
	printf("usage: %s\n\n"
	    "Show what the node at URL holds and does: its trees and their\n"
	    "versions, running and queued tasks, the last errors, and what\n"
	    "it has served.  --json prints GET /v1/status as it came.\n%s",
	    status_usage, TLS_HELP);
}

int
cmd_status(int argc, char **argv)
{
	struct ctl_opts o;
	struct pd_error err = { 0 };
	json_t *st = NULL;
	int rc;

	if ((rc = ctl_parse("status", status_usage, argc, argv, false, &o,
	    status_help)) >= 0)
		return rc;
	if (optind != argc)
		return usage_error("status", status_usage, "unexpected %s",
		    argv[optind]);
	if (ctl_call(o.node, o.tlsp, "/v1/status", NULL, &st, &err) != PD_OK)
		return fail(&err);
	if (o.json)
		return print_json(st);
	print_status(st);
	json_decref(st);
	return 0;
}

static const char tasks_usage[] = "pulpdist tasks --node URL [--tree NAME] "
    "[--limit N] [--json] [TLS]";

static void
tasks_help(void)
{
	printf("usage: %s\n\n"
	    "List the node's newest tasks (imports, syncs, publishes,\n"
	    "clean-ups), newest first: id, kind, tree, state, attempts,\n"
	    "when queued, and the error of a failed one.\n%s", tasks_usage,
	    TLS_HELP);
}

int
cmd_tasks(int argc, char **argv)
{
	struct ctl_opts o;
	struct pd_error err = { 0 };
	char path[PR_TREE_NAME_MAX + 64];
	json_t *res = NULL;
	int rc;

	if ((rc = ctl_parse("tasks", tasks_usage, argc, argv, true, &o,
	    tasks_help)) >= 0)
		return rc;
	if (optind != argc)
		return usage_error("tasks", tasks_usage, "unexpected %s",
		    argv[optind]);
	snprintf(path, sizeof(path), "/v1/tasks?limit=%" PRIu64 "%s%s",
	    o.limit, o.tree ? "&tree=" : "", o.tree ? o.tree : "");
	if (ctl_call(o.node, o.tlsp, path, NULL, &res, &err) != PD_OK)
		return fail(&err);
	if (o.json)
		return print_json(res);
	print_tasks("tasks", json_object_get(res, "tasks"));
	json_decref(res);
	return 0;
}

static const char sync_usage[] = "pulpdist sync --node URL [--json] [TLS] TREE";

static void
sync_help(void)
{
	printf("usage: %s\n\n"
	    "Tell the node at URL to bring TREE up to date now: a mirror\n"
	    "syncs from its upstream, an origin imports its source.  Prints\n"
	    "the task's id (that of the one already queued, if any); the\n"
	    "node runs it by its own rules (one writer per tree,\n"
	    "windows).\n%s", sync_usage, TLS_HELP);
}

int
cmd_sync(int argc, char **argv)
{
	struct ctl_opts o;
	struct pd_error err = { 0 };
	char path[PR_TREE_NAME_MAX + 32];
	json_t *res = NULL;
	int rc;

	if ((rc = ctl_parse("sync", sync_usage, argc, argv, false, &o,
	    sync_help)) >= 0)
		return rc;
	if (optind + 1 != argc)
		return usage_error("sync", sync_usage, "one TREE");
	if (pr_tree_name_check(argv[optind]) != NULL)
		return usage_error("sync", sync_usage, "bad tree name %s: %s",
		    argv[optind], pr_tree_name_check(argv[optind]));
	snprintf(path, sizeof(path), "/v1/trees/%s/sync", argv[optind]);
	if (ctl_call(o.node, o.tlsp, path, "", &res, &err) != PD_OK)
		return fail(&err);
	if (o.json)
		return print_json(res);
	printf("tree %s: task %lld %s\n", argv[optind], jint(res, "task"),
	    json_is_true(json_object_get(res, "queued")) ? "queued" :
	    "was queued already");
	json_decref(res);
	return 0;
}

static const char cancel_usage[] = "pulpdist cancel --node URL [--json] "
    "[TLS] ID";

static void
cancel_help(void)
{
	printf("usage: %s\n\n"
	    "Cancel task ID on the node at URL: a queued task at once, a\n"
	    "running one at its next checkpoint (nothing it did is\n"
	    "published).\n%s", cancel_usage, TLS_HELP);
}

int
cmd_cancel(int argc, char **argv)
{
	struct ctl_opts o;
	struct pd_error err = { 0 };
	char path[64];
	uint64_t id;
	json_t *res = NULL;
	int rc;

	if ((rc = ctl_parse("cancel", cancel_usage, argc, argv, false, &o,
	    cancel_help)) >= 0)
		return rc;
	if (optind + 1 != argc || !parse_u64_arg(argv[optind], &id) ||
	    id == 0)
		return usage_error("cancel", cancel_usage, "one task ID, a "
		    "number from 1");
	snprintf(path, sizeof(path), "/v1/tasks/%" PRIu64 "/cancel", id);
	if (ctl_call(o.node, o.tlsp, path, "", &res, &err) != PD_OK)
		return fail(&err);
	if (o.json)
		return print_json(res);
	printf("task %" PRIu64 " canceled\n", id);
	json_decref(res);
	return 0;
}
