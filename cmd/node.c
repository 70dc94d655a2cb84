/*
 * pulpdist node: run a node daemon from its configuration file
 * (node/daemon.h), or, with --check-config, only read and check that
 * file (node/config.h, doc/CONFIG.md) as the daemon will and say what it
 * describes.
 */
#include <getopt.h>
#include <stdio.h>

#include "../common/log.h"
#include "../node/config.h"
#include "../node/daemon.h"
#include "cmd.h"

static const char usage[] = "pulpdist node --config FILE "
    "[--log-level LEVEL] | --check-config FILE";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Run the node daemon from the configuration FILE (see\n"
	    "doc/CONFIG.md): it imports its origin trees (on a schedule or\n"
	    "when their source changes), syncs and publishes its mirrored\n"
	    "trees from their upstreams (on a schedule, within their\n"
	    "windows, or when told with 'pulpdist sync'), runs each\n"
	    "tree's on_publish command, and serves every tree to other\n"
	    "nodes.  Every import and sync is a durable task: one at a time\n"
	    "per tree, retried with backoff, resumed after a crash\n"
	    "('pulpdist tasks', 'pulpdist status').  The first line printed\n"
	    "is \"listening on URL\".  SIGHUP reloads FILE (a file that does\n"
	    "not check is refused and the running configuration kept);\n"
	    "SIGTERM or SIGINT stops taking work, lets running tasks end or\n"
	    "stop at a checkpoint (to resume at the next start) and exits.\n"
	    "--log-level (error, warn, info, debug) wins over the file's.\n\n"
	    "--check-config FILE checks FILE as the daemon will read it:\n"
	    "every section, key and value, the rules between keys, and the\n"
	    "files and directories it names.  Prints a summary and\n"
	    "\"configuration OK\", or one line naming the file, line,\n"
	    "section and key that are wrong, and exits 1.  Nothing is\n"
	    "changed.\n", usage);
}

static void
summary(const struct nd_conf *c)
{
	const struct nd_conf_node *n = nd_conf_node(c);
	const struct nd_conf_tree *t;
	size_t i, j;

	printf("node %s: listen %s (%s), data %s\n", n->name,
	    n->listen.text, n->insecure_http ? "plain HTTP" : "TLS", n->data);
	for (i = 0; i < nd_conf_ntrees(c); i++) {
		t = nd_conf_tree(c, i);
		printf("tree %s: %s", t->name, nd_conf_role_name(t->role));
		if (t->role == ND_CONF_ORIGIN) {
			printf(", source %s", t->source);
			if (t->watch)
				printf(", watch");
		} else {
			printf(", upstream");
			for (j = 0; j < t->nupstream; j++)
				printf(" %s", t->upstream[j].text);
			printf(", publish %s", t->publish);
		}
		if (t->schedule != NULL)
			printf(", schedule %s", nd_sched_text(t->schedule));
		if (t->window != NULL)
			printf(", window %s", nd_window_text(t->window));
		printf("\n");
	}
	printf("configuration OK\n");
}

int
cmd_node(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "check-config", required_argument, NULL, 'c' },
		{ "config", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nd_daemon_opts o = { 0 };
	struct nd_conf *conf = NULL;
	struct pd_error err;
	enum pd_log_level level;
	const char *file = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': file = optarg; break;
		case 'f': o.config = optarg; break;
		case 'l':
			if (pd_log_parse_level(optarg, &level) != PD_OK)
				return usage_error("node", usage, "bad "
				    "--log-level %s", optarg);
			pd_log_set_level(level);
			o.log_level_set = true;
			break;
		case 'h': help(); return 0;
		default: return bad_option("node", usage, argv);
		}
	}
	if ((file == NULL) == (o.config == NULL) || optind != argc)
		return usage_error("node", usage, "give --config FILE or "
		    "--check-config FILE, nothing else");
	pd_error_clear(&err);
	if (o.config != NULL) {
		o.announce = stdout;
		if (nd_daemon_run(&o, &err) != PD_OK)
			return fail(&err);
		return 0;
	}
	if (nd_conf_load(file, &conf, &err) != PD_OK ||
	    nd_conf_check_files(conf, &err) != PD_OK)
		goto out;
	summary(conf);
	rc = 0;
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	nd_conf_free(conf);
	return rc;
}
