/*
 * pulpdist show: a version's manifest in readable form or as JSON.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../catalog/catalog.h"
#include "../common/mem.h"
#include "../node/load.h"
#include "cmd.h"

static const char usage[] = "pulpdist show --data DIR --tree NAME "
    "[--version N] [--json]";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Print the signed manifest of a version of tree NAME (default:\n"
	    "the newest), after verifying its signature: header, then one\n"
	    "line per entry: mode, size, mtime (UTC), the first 16 hex\n"
	    "digits of the SHA-256 (--json has it all), path.\n"
	    "Paths are printed as the manifest spells them: bytes that are\n"
	    "not printable UTF-8 (and space, %%) as %%XX.\n", usage);
}

static void
mode_str(const struct pr_entry *e, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	out[0] = e->type == PR_FILE ? '-' : (char)e->type;
	for (i = 0; i < 9; i++)
		out[1 + i] = (e->mode & (0400 >> i)) ? rwx[i] : '-';
	if (e->mode & 04000)
		out[3] = (e->mode & 0100) ? 's' : 'S';
	if (e->mode & 02000)
		out[6] = (e->mode & 0010) ? 's' : 'S';
	if (e->mode & 01000)
		out[9] = (e->mode & 0001) ? 't' : 'T';
	out[10] = '\0';
}

static const char *
type_name(enum pr_type t)
{
	return t == PR_FILE ? "file" : t == PR_DIR ? "dir" : "link";
}

static json_t *
entry_json(const struct pr_entry *e)
{
	char mode[8], mtime[40], sha[PD_SHA256_HEX];
	json_t *j;

	snprintf(mode, sizeof(mode), "%04o", e->mode);
	snprintf(mtime, sizeof(mtime), "%lld.%09u", (long long)e->mtime.sec,
	    e->mtime.nsec);
	j = json_pack("{s:s, s:o, s:s, s:s}", "type", type_name(e->type),
	    "path", json_path(e->path, e->path_len), "mode", mode,
	    "mtime", mtime);
	if (j == NULL)
		return NULL;
	if (e->type == PR_FILE) {
		hex(e->sha, sizeof(e->sha), sha);
		json_object_set_new(j, "size",
		    json_integer((json_int_t)e->size));
		json_object_set_new(j, "sha256", json_string(sha));
		if (e->link)
			json_object_set_new(j, "hardlink",
			    json_integer(e->link));
	} else if (e->type == PR_LINK)
		json_object_set_new(j, "target",
		    json_path(e->target, e->target_len));
	return j;
}

static int
show_json(const struct pr_manifest *m)
{
	char id[PD_SHA256_HEX], parent[PD_SHA256_HEX] = "";
	char kid[2 * PR_KEYID_LEN + 1], rmode[8], rmtime[40];
	json_t *arr, *j;
	size_t i;

	hex(m->id, sizeof(m->id), id);
	if (m->has_parent)
		hex(m->parent, sizeof(m->parent), parent);
	hex(m->keyid, sizeof(m->keyid), kid);
	snprintf(rmode, sizeof(rmode), "%04o", m->root_mode);
	snprintf(rmtime, sizeof(rmtime), "%lld.%09u",
	    (long long)m->root_mtime.sec, m->root_mtime.nsec);
	if ((arr = json_array()) == NULL)
		return print_json(NULL);
	for (i = 0; i < m->nentries; i++)
		if (json_array_append_new(arr,
		    entry_json(&m->entries[i])) != 0) {
			json_decref(arr);
			return print_json(NULL);
		}
	j = json_pack("{s:s, s:I, s:s, s:s?, s:I, s:I, s:s, "
	    "s:{s:s, s:s}, s:o}", "tree", m->tree,
	    "version", (json_int_t)m->version, "manifest", id,
	    "parent", m->has_parent ? parent : NULL,
	    "created", (json_int_t)m->created,
	    "expires", (json_int_t)m->expires, "key", kid,
	    "root", "mode", rmode, "mtime", rmtime, "entries", arr);
	return print_json(j);
}

static void
show_text(const struct pr_manifest *m)
{
	const struct pr_entry *e;
	struct pr_stats st;
	char buf[64], mode[11], sha[PD_SHA256_HEX];
	size_t i;

	pr_manifest_stats(m, &st);
	printf("tree      %s\nversion   %llu\n", m->tree,
	    (unsigned long long)m->version);
	hex(m->id, sizeof(m->id), sha);
	printf("manifest  %s\n", sha);
	if (m->has_parent)
		hex(m->parent, sizeof(m->parent), sha);
	printf("parent    %s\n", m->has_parent ? sha : "-");
	fmt_time(m->created, buf, sizeof(buf));
	printf("created   %s UTC\n", buf);
	if (m->expires)
		fmt_time(m->expires, buf, sizeof(buf));
	printf("expires   %s%s\n", m->expires ? buf : "never",
	    m->expires ? " UTC" : "");
	hex(m->keyid, sizeof(m->keyid), sha);
	printf("key       %s\n", sha);
	fmt_bytes(st.bytes, buf, sizeof(buf));
	printf("entries   %zu: %llu files, %llu directories, %llu links, "
	    "%s\n\n", m->nentries, (unsigned long long)st.files,
	    (unsigned long long)st.dirs, (unsigned long long)st.links, buf);
	for (i = 0; i < m->nentries; i++) {
		e = &m->entries[i];
		mode_str(e, mode);
		fmt_time(e->mtime.sec, buf, sizeof(buf));
		if (e->type == PR_FILE) {
			hex(e->sha, sizeof(e->sha), sha);
			printf("%s %12llu %s %.16s ", mode,
			    (unsigned long long)e->size, buf, sha);
		} else
			printf("%s %12s %s %-16s ", mode, "-", buf, "-");
		put_path(stdout, e->path, e->path_len);
		if (e->type == PR_LINK) {
			fputs(" -> ", stdout);
			put_path(stdout, e->target, e->target_len);
		}
		if (e->link)
			printf("  (hardlink group %u)", e->link);
		putchar('\n');
	}
}

int
cmd_show(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "tree", required_argument, NULL, 't' },
		{ "version", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pd_error err;
	struct cat *cat = NULL;
	struct pr_manifest *m = NULL;
	const char *data = NULL, *name = NULL;
	uint64_t version = 0;
	bool json = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 't': name = optarg; break;
		case 'v':
			if (!parse_u64_arg(optarg, &version) || version == 0)
				return usage_error("show", usage,
				    "bad --version %s", optarg);
			break;
		case 'J': json = true; break;
		case 'h': help(); return 0;
		default: return bad_option("show", usage, argv);
		}
	}
	if (data == NULL || name == NULL || optind != argc)
		return usage_error("show", usage, "--data and --tree, nothing "
		    "else");
	pd_error_clear(&err);
	if (cat_open(data, CAT_RDONLY, &cat, &err) != PD_OK ||
	    nd_load_version(cat, name, version, NULL, NULL, NULL, &m, &err) !=
	    PD_OK)
		goto out;
	if (json)
		rc = show_json(m);
	else {
		show_text(m);
		rc = 0;
	}
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	pr_manifest_free(m);
	cat_close(cat);
	return rc;
}
