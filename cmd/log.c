/*
 * pulpdist log: a tree's versions, newest first.
 */
#include <getopt.h>
#include <stdio.h>

#include "../catalog/catalog.h"
#include "../common/mem.h"
#include "cmd.h"

static const char usage[] = "pulpdist log --data DIR --tree NAME [--json]";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "List the versions of tree NAME, newest first: when each was\n"
	    "made, its entries and size, and what changed from the version\n"
	    "before (+added -removed ~changed >renamed *metadata only).\n",
	    usage);
}

static json_t *
version_json(const struct cat_version *v)
{
	char id[2 * PD_SHA256_LEN + 1];

	hex(v->manifest_id, sizeof(v->manifest_id), id);
	return json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:{s:I, s:I, s:I, s:I, s:I}}",
	    "version", (json_int_t)v->number, "manifest", id,
	    "created", (json_int_t)v->created,
	    "committed", (json_int_t)v->committed,
	    "entries", (json_int_t)v->entries,
	    "files", (json_int_t)v->files, "dirs", (json_int_t)v->dirs,
	    "links", (json_int_t)v->links, "bytes", (json_int_t)v->bytes,
	    "changes", "added", (json_int_t)v->changes.added,
	    "removed", (json_int_t)v->changes.removed,
	    "changed", (json_int_t)v->changes.changed,
	    "renamed", (json_int_t)v->changes.renamed,
	    "metadata", (json_int_t)v->changes.meta);
}

static int
print_log(const struct cat_tree *t, const struct cat_version *v, size_t n,
    bool json)
{
	unsigned char kid[PR_KEYID_LEN];
	struct pr_key *key = NULL;
	struct pd_error err;
	enum pd_err rc;
	char date[32], size[32], khex[2 * PR_KEYID_LEN + 1] = "none";
	const struct cat_changes *c;
	json_t *arr;
	size_t i;

	if (t->has_key && pr_key_from_public(t->pubkey, &key, NULL) == PD_OK) {
		pd_error_clear(&err);
		rc = pr_key_id(key, kid, &err);
		pr_key_free(key);
		if (rc != PD_OK)
			return fail(&err);
		hex(kid, sizeof(kid), khex);
	}
	if (json) {
		if ((arr = json_array()) == NULL)
			return print_json(NULL);
		for (i = n; i-- > 0;)
			json_array_append_new(arr, version_json(&v[i]));
		return print_json(json_pack("{s:s, s:s, s:I, s:o}", "tree",
		    t->name, "key", khex, "head", (json_int_t)t->head,
		    "versions", arr));
	}
	printf("tree %s: %zu version%s, key %s\n", t->name, n,
	    n == 1 ? "" : "s", khex);
	printf("%8s  %-19s  %9s  %10s  %s\n", "version", "created (UTC)",
	    "entries", "size", "changes");
	for (i = n; i-- > 0;) {
		c = &v[i].changes;
		fmt_time(v[i].created, date, sizeof(date));
		fmt_bytes(v[i].bytes, size, sizeof(size));
		printf("%8llu  %-19s  %9llu  %10s  ",
		    (unsigned long long)v[i].number, date,
		    (unsigned long long)v[i].entries, size);
		if (v[i].number == 1)
			printf("(first version)\n");
		else
			printf("+%llu -%llu ~%llu >%llu *%llu\n",
			    (unsigned long long)c->added,
			    (unsigned long long)c->removed,
			    (unsigned long long)c->changed,
			    (unsigned long long)c->renamed,
			    (unsigned long long)c->meta);
	}
	return 0;
}

int
cmd_log(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "tree", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pd_error err;
	struct cat *cat = NULL;
	struct cat_txn *t = NULL;
	struct cat_tree tree;
	struct cat_version *v = NULL;
	const char *data = NULL, *name = NULL;
	size_t n = 0;
	bool json = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 't': name = optarg; break;
		case 'J': json = true; break;
		case 'h': help(); return 0;
		default: return bad_option("log", usage, argv);
		}
	}
	if (data == NULL || name == NULL || optind != argc)
		return usage_error("log", usage, "--data and --tree, nothing "
		    "else");
	pd_error_clear(&err);
	if (cat_open(data, CAT_RDONLY, &cat, &err) != PD_OK ||
	    cat_begin(cat, false, &t, &err) != PD_OK ||
	    cat_tree_get(t, name, &tree, &err) != PD_OK ||
	    cat_version_list(t, name, &v, &n, &err) != PD_OK)
		goto out;
	rc = print_log(&tree, v, n, json);
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	pd_free(v);
	cat_abort(t);
	cat_close(cat);
	return rc;
}
