/*
 * pulpdist import: snapshot a directory as the next version of a tree.
 */
#include <getopt.h>
#include <stdio.h>

#include "../catalog/catalog.h"
#include "../common/log.h"
#include "../node/import.h"
#include "cmd.h"

static const char usage[] = "pulpdist import --data DIR --tree NAME "
    "--key KEYFILE [--expires DURATION] [--threads N] [--json] SRC";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Snapshot the directory SRC as the next version of tree NAME in\n"
	    "the node data directory DIR (created if missing), signed with\n"
	    "KEYFILE (from 'pulpdist keygen').  Files whose size, times and\n"
	    "inode are unchanged since the last import are not read again.\n"
	    "If nothing changed, no version is made.  Symbolic links are\n"
	    "stored as links; devices, fifos and sockets are skipped.\n"
	    "Then the deltas from the previous version of every changed\n"
	    "file are computed and kept, for the nodes that will pull it.\n\n"
	    "  --expires DURATION  manifest lifetime: 90s, 15m, 12h, 30d or\n"
	    "                      never (default 365d)\n"
	    "  --threads N         hashing threads (default: one per CPU)\n"
	    "  --json              print the result as JSON\n", usage);
}

static void
warn_cb(void *arg, const char *msg)
{
	(void)arg;
	log_warn("%s", msg);
}

static int
report(const char *tree, const struct nd_import_result *r, bool json)
{
	const struct cat_version *v = &r->version;
	const struct cat_changes *c = &v->changes;
	char size[32], hashed[32];

	if (json)
		return print_json(json_pack("{s:s, s:I, s:b, s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I, "
		    "s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:I}",
		    "tree", tree, "version", (json_int_t)v->number,
		    "unchanged", r->unchanged,
		    "entries", (json_int_t)v->entries,
		    "files", (json_int_t)v->files,
		    "dirs", (json_int_t)v->dirs,
		    "links", (json_int_t)v->links,
		    "bytes", (json_int_t)v->bytes,
		    "created", (json_int_t)v->created,
		    "changes",
		    "added", (json_int_t)c->added,
		    "removed", (json_int_t)c->removed,
		    "changed", (json_int_t)c->changed,
		    "renamed", (json_int_t)c->renamed,
		    "metadata", (json_int_t)c->meta,
		    "files_hashed", (json_int_t)r->files_hashed,
		    "files_cached", (json_int_t)r->files_cached,
		    "objects_new", (json_int_t)r->objects_new,
		    "skipped", (json_int_t)r->skipped,
		    "duration_ms", (json_int_t)v->duration_ms,
		    "deltas",
		    "computed", (json_int_t)r->deltas_made,
		    "whole", (json_int_t)r->deltas_whole,
		    "failed", (json_int_t)r->deltas_failed,
		    "pack_parts", (json_int_t)r->pack_parts));
	fmt_bytes(v->bytes, size, sizeof(size));
	if (r->unchanged) {
		printf("tree %s: unchanged since version %llu; no new "
		    "version\n", tree, (unsigned long long)v->number);
		return 0;
	}
	fmt_bytes(v->hashed_bytes, hashed, sizeof(hashed));
	printf("tree %s: version %llu, %llu entries, %s\n"
	    "  changes: %llu added, %llu removed, %llu changed, "
	    "%llu renamed, %llu metadata only\n"
	    "  read %llu files (%s), %llu unchanged by the stat cache, "
	    "%llu new objects, %.2f s\n", tree,
	    (unsigned long long)v->number, (unsigned long long)v->entries,
	    size, (unsigned long long)c->added,
	    (unsigned long long)c->removed, (unsigned long long)c->changed,
	    (unsigned long long)c->renamed, (unsigned long long)c->meta,
	    (unsigned long long)r->files_hashed, hashed,
	    (unsigned long long)r->files_cached,
	    (unsigned long long)r->objects_new, v->duration_ms / 1000.0);
	if (r->deltas_made + r->deltas_whole + r->deltas_failed > 0)
		printf("  deltas: %llu computed, %llu not worth it (sent "
		    "whole), %llu failed\n", (unsigned long long)r->deltas_made,
		    (unsigned long long)r->deltas_whole,
		    (unsigned long long)r->deltas_failed);
	if (r->pack_parts > 0)
		printf("  pack for mirrors of the previous version: %lu "
		    "parts, compressed once\n", (unsigned long)r->pack_parts);
	if (r->skipped)
		printf("  skipped %llu special files\n",
		    (unsigned long long)r->skipped);
	return 0;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "tree", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "expires", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nd_import_opts o = { .expires_in = 365 * 86400 };
	struct nd_import_result r;
	struct pd_error err;
	struct pr_key *key = NULL;
	struct cat *cat = NULL;
	const char *data = NULL, *keyfile = NULL;
	uint64_t threads = 0;
	bool json = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 't': o.tree = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'e':
			if (!parse_duration(optarg, &o.expires_in))
				return usage_error("import", usage,
				    "bad --expires %s", optarg);
			break;
		case 'j':
			if (!parse_u64_arg(optarg, &threads) || threads == 0 ||
			    threads > 256)
				return usage_error("import", usage,
				    "bad --threads %s", optarg);
			break;
		case 'J': json = true; break;
		case 'h': help(); return 0;
		default: return bad_option("import", usage, argv);
		}
	}
	if (data == NULL || o.tree == NULL || keyfile == NULL)
		return usage_error("import", usage,
		    "--data, --tree and --key are required");
	if (argc - optind != 1)
		return usage_error("import", usage, "give one SRC directory");
	o.src = argv[optind];
	o.threads = (unsigned)threads;
	o.warn = warn_cb;
	pd_error_clear(&err);
	if (pr_key_load(keyfile, &key, &err) != PD_OK)
		goto out;
	if (!pr_key_has_private(key)) {
		pd_fail(&err, PD_ERR_USAGE, "%s is a public key; importing "
		    "needs the private key (NAME.key)", keyfile);
		goto out;
	}
	o.key = key;
	if (cat_open(data, CAT_CREATE, &cat, &err) != PD_OK ||
	    nd_import(cat, &o, &r, &err) != PD_OK)
		goto out;
	rc = report(o.tree, &r, json);
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	cat_close(cat);
	pr_key_free(key);
	return rc;
}
