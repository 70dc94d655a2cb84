/*
 * pulpdist diff: what changed between two versions of a tree.
 */
#include <getopt.h>
#include <stdio.h>

#include "../catalog/catalog.h"
#include "../node/load.h"
#include "../protocol/mdiff.h"
#include "cmd.h"

static const char usage[] = "pulpdist diff --data DIR --tree NAME "
    "[--all] [--json] A B";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "What changed from version A to version B of tree NAME, one line\n"
	    "per path: added, removed, changed (content, link target or\n"
	    "type), renamed (same content, new path: old -> new), mode\n"
	    "(permissions only).  Paths whose mtime alone changed are\n"
	    "counted, and listed as 'touched' with --all.\n", usage);
}

static json_t *
change_json(const struct pr_change *c)
{
	const struct pr_entry *e = c->new ? c->new : c->old;
	json_t *j;

	j = json_pack("{s:s, s:o}", "kind", pr_change_name(c->kind), "path",
	    json_path(e->path, e->path_len));
	if (j != NULL && c->kind == PR_RENAMED)
		json_object_set_new(j, "from",
		    json_path(c->old->path, c->old->path_len));
	if (j != NULL && c->kind == PR_MODE) {
		char m[16];
		snprintf(m, sizeof(m), "%04o", c->old->mode);
		json_object_set_new(j, "old_mode", json_string(m));
		snprintf(m, sizeof(m), "%04o", c->new->mode);
		json_object_set_new(j, "new_mode", json_string(m));
	}
	return j;
}

static int
print_diff(const struct pr_diff *d, bool all, bool json)
{
	const struct pr_change *c;
	const struct pr_entry *e;
	json_t *arr;
	size_t i;

	if (json) {
		if ((arr = json_array()) == NULL)
			return print_json(NULL);
		for (i = 0; i < d->n; i++)
			if (all || d->changes[i].kind != PR_TOUCHED)
				json_array_append_new(arr,
				    change_json(&d->changes[i]));
		return print_json(json_pack("{s:o, s:{s:I, s:I, s:I, s:I, "
		    "s:I, s:I}, s:b}", "changes", arr, "counts",
		    "added", (json_int_t)d->count[PR_ADDED],
		    "removed", (json_int_t)d->count[PR_REMOVED],
		    "changed", (json_int_t)d->count[PR_CHANGED],
		    "renamed", (json_int_t)d->count[PR_RENAMED],
		    "mode", (json_int_t)d->count[PR_MODE],
		    "touched", (json_int_t)d->count[PR_TOUCHED],
		    "root_changed", d->root_changed));
	}
	for (i = 0; i < d->n; i++) {
		c = &d->changes[i];
		if (c->kind == PR_TOUCHED && !all)
			continue;
		e = c->new ? c->new : c->old;
		printf("%-8s ", pr_change_name(c->kind));
		if (c->kind == PR_RENAMED) {
			put_path(stdout, c->old->path, c->old->path_len);
			fputs(" -> ", stdout);
		}
		put_path(stdout, e->path, e->path_len);
		if (c->kind == PR_MODE)
			printf(" (%04o -> %04o)", c->old->mode, c->new->mode);
		if (c->kind == PR_CHANGED && c->old->type != c->new->type)
			printf(" (%s -> %s)", c->old->type == PR_FILE ? "file" :
			    c->old->type == PR_DIR ? "directory" : "link",
			    c->new->type == PR_FILE ? "file" :
			    c->new->type == PR_DIR ? "directory" : "link");
		putchar('\n');
	}
	printf("%zu added, %zu removed, %zu changed, %zu renamed, %zu mode, "
	    "%zu touched\n", d->count[PR_ADDED], d->count[PR_REMOVED],
	    d->count[PR_CHANGED], d->count[PR_RENAMED], d->count[PR_MODE],
	    d->count[PR_TOUCHED]);
	return 0;
}

int
cmd_diff(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "tree", required_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pd_error err;
	struct cat *cat = NULL;
	struct pr_manifest *a = NULL, *b = NULL;
	struct pr_diff d = { 0 };
	const char *data = NULL, *name = NULL;
	uint64_t va, vb;
	bool json = false, all = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 't': name = optarg; break;
		case 'a': all = true; break;
		case 'J': json = true; break;
		case 'h': help(); return 0;
		default: return bad_option("diff", usage, argv);
		}
	}
	if (data == NULL || name == NULL)
		return usage_error("diff", usage, "--data and --tree are "
		    "required");
	if (argc - optind != 2 || !parse_u64_arg(argv[optind], &va) ||
	    !parse_u64_arg(argv[optind + 1], &vb) || va == 0 || vb == 0)
		return usage_error("diff", usage, "give two version numbers");
	pd_error_clear(&err);
	if (cat_open(data, CAT_RDONLY, &cat, &err) != PD_OK ||
	    nd_load_version(cat, name, va, NULL, NULL, NULL, &a, &err) !=
	    PD_OK ||
	    nd_load_version(cat, name, vb, NULL, NULL, NULL, &b, &err) !=
	    PD_OK ||
	    pr_diff(a, b, &d, &err) != PD_OK)
		goto out;
	rc = print_diff(&d, all, json);
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	pr_diff_free(&d);
	pr_manifest_free(a);
	pr_manifest_free(b);
	cat_close(cat);
	return rc;
}
