/*
 * pulpdist verify: re-hash a version's stored content against its
 * signed manifest.
 */
#include <getopt.h>
#include <stdio.h>

#include "../catalog/catalog.h"
#include "../node/verify.h"
#include "cmd.h"

static const char usage[] = "pulpdist verify --data DIR --tree NAME "
    "[--version N] [--trust PUBKEY] [--json]";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Check version N (default: the newest) of tree NAME: the\n"
	    "manifest's signature (with PUBKEY, or the tree's recorded key),\n"
	    "then every stored file's size and SHA-256.  Each bad path is\n"
	    "named; the exit status is 1 if any is bad.\n", usage);
}

struct bad_list {
	bool	 json;
	json_t	*arr;
};

static void
bad_cb(void *arg, const struct pr_entry *e, const char *why)
{
	struct bad_list *b = arg;

	if (b->json) {
		json_array_append_new(b->arr, json_pack("{s:o, s:s}", "path",
		    json_path(e->path, e->path_len), "error", why));
		return;
	}
	fputs("bad: ", stdout);
	put_path(stdout, e->path, e->path_len);
	printf(": %s\n", why);
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "tree", required_argument, NULL, 't' },
		{ "version", required_argument, NULL, 'v' },
		{ "trust", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nd_verify_result r;
	struct bad_list bl = { false, NULL };
	struct pd_error err;
	struct cat *cat = NULL;
	struct pr_key *trust = NULL;
	const char *data = NULL, *name = NULL, *trustfile = NULL;
	char size[32];
	uint64_t version = 0;
	enum pd_err vrc;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 't': name = optarg; break;
		case 'T': trustfile = optarg; break;
		case 'v':
			if (!parse_u64_arg(optarg, &version) || version == 0)
				return usage_error("verify", usage,
				    "bad --version %s", optarg);
			break;
		case 'J': bl.json = true; break;
		case 'h': help(); return 0;
		default: return bad_option("verify", usage, argv);
		}
	}
	if (data == NULL || name == NULL || optind != argc)
		return usage_error("verify", usage, "--data and --tree, "
		    "nothing else");
	pd_error_clear(&err);
	if (bl.json && (bl.arr = json_array()) == NULL) {
		pd_fail(&err, PD_ERR_NOMEM, "verify");
		goto out;
	}
	if ((trustfile && pr_key_load(trustfile, &trust, &err) != PD_OK) ||
	    cat_open(data, CAT_RDONLY, &cat, &err) != PD_OK)
		goto out;
	vrc = nd_verify(cat, name, version, trust, 0, bad_cb, &bl, &r, &err);
	if (vrc != PD_OK && vrc != PD_ERR_CORRUPT)
		goto out;
	if (bl.json) {
		rc = print_json(json_pack("{s:s, s:I, s:b, s:I, s:I, s:O}",
		    "tree", name, "version", (json_int_t)r.version,
		    "ok", vrc == PD_OK, "objects", (json_int_t)r.objects,
		    "bytes", (json_int_t)r.bytes, "bad", bl.arr));
		if (vrc != PD_OK)
			rc = 1;
		goto out;
	}
	fmt_bytes(r.bytes, size, sizeof(size));
	if (vrc == PD_OK) {
		printf("tree %s version %llu: signature good, %llu objects "
		    "(%s) match the manifest\n", name,
		    (unsigned long long)r.version,
		    (unsigned long long)r.objects, size);
		rc = 0;
	}
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	json_decref(bl.arr);
	pr_key_free(trust);
	cat_close(cat);
	return rc;
}
