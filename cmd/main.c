/*
 * pulpdist: one binary, subcommands as in git.  main() only dispatches.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../common/crypto.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "cmd.h"

#define PULPDIST_VERSION	"0.1.0"

/*
 * A command opens libcrypto before it starts (common/crypto.h), so that a
 * system without it gets one clear error first, except pull: an up to
 * date mirror answers without it, and pull opens it once it knows it has
 * something to fetch.
 */
static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*summary;
	bool		 crypto_later;
} commands[] = {
	{ "keygen", cmd_keygen, "make a tree signing key pair" },
	{ "import", cmd_import, "snapshot a directory as a tree's next "
	    "version" },
	{ "log", cmd_log, "list a tree's versions" },
	{ "show", cmd_show, "print a version's manifest" },
	{ "diff", cmd_diff, "what changed between two versions" },
	{ "pull", cmd_pull, "mirror a tree's newest version from a node",
	    true },
	{ "serve", cmd_serve, "serve trees to other nodes over HTTP" },
	{ "node", cmd_node, "run a node daemon from its configuration" },
	{ "status", cmd_status, "what a running node holds and does" },
	{ "tasks", cmd_tasks, "list a node's newest tasks" },
	{ "sync", cmd_sync, "tell a node to bring a tree up to date now" },
	{ "cancel", cmd_cancel, "cancel a task on a node" },
	{ "ca", cmd_ca, "a deployment CA and the nodes' TLS certificates" },
	{ "verify", cmd_verify, "re-hash stored content against the signed "
	    "manifest" },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void
help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pulpdist [--log-level LEVEL] COMMAND [ARGS]\n\n"
	    "pulpdist mirrors filesystem trees between sites as signed,\n"
	    "immutable versions.  Commands:\n\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "\n'pulpdist COMMAND --help' describes a command.\n"
	    "LEVEL is error, warn, info (default) or debug.\n");
}

int
main(int argc, char **argv)
{
	struct pd_error err = { 0 };
	enum pd_log_level level;
	size_t i;
	int a = 1;

	pd_mem_tune();
	/* Commands report bad options themselves, naming the command. */
	opterr = 0;
	while (a < argc && argv[a][0] == '-') {
		if (strcmp(argv[a], "--help") == 0 ||
		    strcmp(argv[a], "-h") == 0) {
			help(stdout);
			return 0;
		}
		if (strcmp(argv[a], "--version") == 0) {
			printf("pulpdist %s\n", PULPDIST_VERSION);
			return 0;
		}
		if (strcmp(argv[a], "--log-level") == 0) {
			if (a + 1 == argc || pd_log_parse_level(argv[a + 1],
			    &level) != PD_OK) {
				fprintf(stderr, "pulpdist: --log-level takes "
				    "error, warn, info or debug\n");
				return EXIT_USAGE;
			}
			pd_log_set_level(level);
			a += 2;
			continue;
		}
		fprintf(stderr, "pulpdist: unknown option %s\n", argv[a]);
		help(stderr);
		return EXIT_USAGE;
	}
	if (a == argc) {
		help(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[a], "help") == 0) {
		if (a + 1 == argc) {
			help(stdout);
			return 0;
		}
		for (i = 0; i < NCOMMANDS; i++)
			if (strcmp(argv[a + 1], commands[i].name) == 0) {
				char *hv[] = { argv[a + 1], "--help", NULL };
				return commands[i].fn(2, hv);
			}
		fprintf(stderr, "pulpdist: unknown command %s\n", argv[a + 1]);
		help(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[a], commands[i].name) != 0)
			continue;
		if (!commands[i].crypto_later && pd_crypto_load(&err) != PD_OK)
			return fail(&err);
		return commands[i].fn(argc - a, argv + a);
	}
	fprintf(stderr, "pulpdist: unknown command %s\n", argv[a]);
	help(stderr);
	return EXIT_USAGE;
}
