/*
 * pulpdist node --check-config FILE: read and check a node configuration
 * (node/config.h, doc/CONFIG.md) as the daemon will, and say what it
 * describes.  Checking is the only mode of this command so far.
 */
#include <getopt.h>
#include <stdio.h>

#include "../common/log.h"
#include "../node/config.h"
#include "cmd.h"

static const char usage[] = "pulpdist node --check-config FILE";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Check the node configuration FILE (see doc/CONFIG.md) as the\n"
	    "node daemon will read it: every section, key and value, the\n"
	    "rules between keys, and the files and directories it names\n"
	    "(keys, trust roots, TLS files, sources, publish and data\n"
	    "directories).  Prints a summary and \"configuration OK\", or\n"
	    "one line naming the file, line, section and key that are\n"
	    "wrong, and exits 1.  Nothing is changed.\n\n"
	    "Checking is the only mode of 'pulpdist node' in this release;\n"
	    "the daemon that runs from FILE is not part of it yet.\n", usage);
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nd_conf *conf = NULL;
	struct pd_error err;
	const char *file = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': file = optarg; break;
		case 'h': help(); return 0;
		default: return bad_option("node", usage, argv);
		}
	}
	if (file == NULL || optind != argc)
		return usage_error("node", usage, "give --check-config FILE, "
		    "nothing else");
	pd_error_clear(&err);
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
