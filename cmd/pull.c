/*
 * pulpdist pull: mirror the newest version of a tree from an upstream node
 * and publish it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../catalog/catalog.h"
#include "../node/config.h"
#include "../node/pull.h"
#include "cmd.h"

static const char usage[] = "pulpdist pull --data DIR --from URL --tree NAME "
    "--trust KEY.pub --publish PUBDIR [--keep N] [--no-spare] "
    "[--no-relay] [--parallel N] [--threads N] [--bwlimit RATE] "
    "[--json] [--tls-cert F --tls-key F --tls-ca F]";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Fetch the newest version of tree NAME from the node at URL\n"
	    "(https://HOST:PORT, or http://HOST:PORT for a node serving\n"
	    "plain HTTP), check its manifest's signature with the\n"
	    "tree's public key, fetch only what changed (librsync deltas\n"
	    "against the version held, whole content otherwise; content\n"
	    "already held costs nothing), check every file's SHA-256, and\n"
	    "publish it: PUBDIR/NAME becomes a symbolic link to the new\n"
	    "version's directory, switched in one step.  A pull that was\n"
	    "stopped resumes from what it had fetched.  The node then\n"
	    "serves the tree onwards (pulpdist serve): the step's pack\n"
	    "parts, manifest patch, deltas and batches are kept as they\n"
	    "came, once verified, and served as they are.\n\n"
	    "  --keep N       published versions kept (default %d)\n"
	    "  --no-spare     remove retired versions; by default the\n"
	    "                 newest is kept aside, and the next build\n"
	    "                 takes over its files whose content did not\n"
	    "                 change instead of copying them when only\n"
	    "                 their mode or mtime did\n"
	    "  --no-relay     keep nothing of what came but the tree: a\n"
	    "                 node that serves no one saves the disk\n"
	    "  --parallel N   transfers at once (default 4)\n"
	    "  --threads N    threads applying deltas (default: per CPU)\n"
	    "  --bwlimit RATE receive at most RATE bytes per second, e.g.\n"
	    "                 512K or 20M (1024 multiples, as rsync's)\n"
	    "  --json         print the result as JSON\n"
	    "  --tls-cert F   this node's certificate (pulpdist ca issue),\n"
	    "  --tls-key F    its private key and\n"
	    "  --tls-ca F     the deployment CA's certificate: required for\n"
	    "                 an https:// URL, whose node must show a\n"
	    "                 certificate from that CA naming URL's host\n",
	    usage, ND_PULL_KEEP);
}

static int
report(const char *tree, const struct nd_pull_result *r, bool json)
{
	char wire[32], written[32], content[32], saved[48] = "";

	if (json)
		return print_json(json_pack("{s:s, s:b, s:I, s:I, "
		    "s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
		    "s:f, s:f, s:f, s:f, s:f, s:s}",
		    "tree", tree, "up_to_date", r->up_to_date,
		    "from_version", (json_int_t)r->from_version,
		    "to_version", (json_int_t)r->to_version,
		    "files",
		    "added", (json_int_t)r->added,
		    "changed", (json_int_t)r->changed,
		    "removed", (json_int_t)r->removed,
		    "reused", (json_int_t)r->reused,
		    "deltas_applied", (json_int_t)r->deltas,
		    "objects_fetched", (json_int_t)r->objects,
		    "delta_fallbacks", (json_int_t)r->fallbacks,
		    "resumed_bytes", (json_int_t)r->resumed,
		    "requests", (json_int_t)r->requests,
		    "retried_requests", (json_int_t)r->retried,
		    "pack_parts", (json_int_t)r->pack_parts,
		    "pack_misses", (json_int_t)r->pack_misses,
		    "content_bytes", (json_int_t)r->content_bytes,
		    "wire_bytes", (json_int_t)r->wire_bytes,
		    "sent_bytes", (json_int_t)r->sent_bytes,
		    "bytes_written", (json_int_t)r->bytes_written,
		    "recycled", (json_int_t)r->recycled,
		    "transfer_loops", (json_int_t)r->loops,
		    "kept",
		    "pack_parts", (json_int_t)r->kept.packs,
		    "batches", (json_int_t)r->kept.batches,
		    "manifest_patches", (json_int_t)r->kept.mpatches,
		    "objects", (json_int_t)r->kept.objects,
		    "deltas", (json_int_t)r->kept.deltas,
		    "wholes", (json_int_t)r->kept.wholes,
		    "bytes", (json_int_t)r->kept.bytes,
		    "seconds", r->seconds,
		    "seconds_transfer", r->seconds_transfer,
		    "seconds_build_early", r->seconds_build_early,
		    "seconds_build", r->seconds_build,
		    "seconds_sync", r->seconds_sync, "published", r->path));
	if (r->up_to_date) {
		printf("tree %s: up to date at version %llu\n", tree,
		    (unsigned long long)r->to_version);
		return 0;
	}
	fmt_bytes(r->wire_bytes, wire, sizeof(wire));
	fmt_bytes(r->bytes_written, written, sizeof(written));
	fmt_bytes(r->content_bytes, content, sizeof(content));
	/* Against what the new content weighs as whole files: the saving
	 * deltas, batching and compression made. */
	if (r->content_bytes > r->wire_bytes)
		snprintf(saved, sizeof(saved), ", %.1f%% saved",
		    100.0 - 100.0 * (double)r->wire_bytes /
		    (double)r->content_bytes);
	printf("tree %s: version %llu -> %llu\n"
	    "  files: %llu added, %llu changed, %llu removed, %llu reused\n"
	    "  deltas applied: %llu, whole objects fetched: %llu",
	    tree, (unsigned long long)r->from_version,
	    (unsigned long long)r->to_version,
	    (unsigned long long)r->added, (unsigned long long)r->changed,
	    (unsigned long long)r->removed, (unsigned long long)r->reused,
	    (unsigned long long)r->deltas, (unsigned long long)r->objects);
	if (r->fallbacks)
		printf(" (%llu deltas fell back to whole content)",
		    (unsigned long long)r->fallbacks);
	printf("\n  %s on the wire in %llu requests", wire,
	    (unsigned long long)r->requests);
	if (r->retried)
		printf(" (%llu of them again: the upstream was busy)",
		    (unsigned long long)r->retried);
	printf(" for %s of new content%s\n  wrote %s", content, saved,
	    written);
	if (r->recycled)
		printf(" (%llu files taken over from a retired version)",
		    (unsigned long long)r->recycled);
	printf(" in %.2f s, published %s\n", r->seconds, r->path);
	return 0;
}

static bool
count_arg(const char *s, unsigned max, unsigned *out)
{
	uint64_t v;

	if (!parse_u64_arg(s, &v) || v == 0 || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

int
cmd_pull(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "from", required_argument, NULL, 'f' },
		{ "tree", required_argument, NULL, 't' },
		{ "trust", required_argument, NULL, 'T' },
		{ "publish", required_argument, NULL, 'p' },
		{ "keep", required_argument, NULL, 'k' },
		{ "no-spare", no_argument, NULL, 'S' },
		{ "no-relay", no_argument, NULL, 'R' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "threads", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, 'J' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-ca", required_argument, NULL, 'A' },
		{ "bwlimit", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nd_pull_opts o = { 0 };
	struct nd_tls_files tf = { NULL, NULL, NULL };
	struct nd_pull_result r;
	struct pd_error err;
	struct pr_key *key = NULL;
	struct cat *cat = NULL;
	const char *data = NULL, *trust = NULL, *why;
	bool json = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'f': o.from = optarg; break;
		case 't': o.tree = optarg; break;
		case 'T': trust = optarg; break;
		case 'p': o.pubdir = optarg; break;
		case 'k':
			if (!count_arg(optarg, 1000, &o.keep))
				return usage_error("pull", usage,
				    "bad --keep %s", optarg);
			break;
		case 'B':
			if ((why = nd_conf_parse_rate(optarg, &o.rate)) != NULL)
				return usage_error("pull", usage, "bad "
				    "--bwlimit %s: %s", optarg, why);
			break;
		case 'S': o.no_spare = true; break;
		case 'R': o.no_relay = true; break;
		case 'P':
			if (!count_arg(optarg, 64, &o.parallel))
				return usage_error("pull", usage,
				    "bad --parallel %s", optarg);
			break;
		case 'j':
			if (!count_arg(optarg, 256, &o.threads))
				return usage_error("pull", usage,
				    "bad --threads %s", optarg);
			break;
		case 'J': json = true; break;
		case 'C': tf.cert = optarg; break;
		case 'K': tf.key = optarg; break;
		case 'A': tf.ca = optarg; break;
		case 'h': help(); return 0;
		default: return bad_option("pull", usage, argv);
		}
	}
	if (data == NULL || o.from == NULL || o.tree == NULL ||
	    trust == NULL || o.pubdir == NULL)
		return usage_error("pull", usage, "--data, --from, --tree, "
		    "--trust and --publish are required");
	if (optind != argc)
		return usage_error("pull", usage, "unexpected argument %s",
		    argv[optind]);
	if ((tf.cert || tf.key || tf.ca) && !(tf.cert && tf.key && tf.ca))
		return usage_error("pull", usage, "--tls-cert, --tls-key and "
		    "--tls-ca go together");
	if (strncmp(o.from, "https://", 8) == 0 && tf.cert == NULL)
		return usage_error("pull", usage, "an https:// upstream needs "
		    "--tls-cert, --tls-key and --tls-ca");
	if (strncmp(o.from, "https://", 8) != 0 && tf.cert != NULL)
		return usage_error("pull", usage, "--tls-cert, --tls-key and "
		    "--tls-ca are for an https:// upstream");
	if (tf.cert != NULL)
		o.tls = &tf;
	pd_error_clear(&err);
	if (pr_key_load(trust, &key, &err) != PD_OK)
		goto out;
	o.trust = key;
	if (cat_open(data, CAT_CREATE, &cat, &err) != PD_OK ||
	    nd_pull(cat, &o, &r, &err) != PD_OK)
		goto out;
	rc = report(o.tree, &r, json);
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	cat_close(cat);
	pr_key_free(key);
	return rc;
}
