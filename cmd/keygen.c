/*
 * pulpdist keygen NAME: a tree signing key pair, NAME.key and NAME.pub.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../common/mem.h"
#include "../protocol/sign.h"
#include "cmd.h"

static const char usage[] = "pulpdist keygen NAME";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Write a new Ed25519 key pair: NAME.key (the private key, mode\n"
	    "0600, for the origin that imports the tree) and NAME.pub (the\n"
	    "public key, the tree's trust root on every other node).\n"
	    "Existing files are never overwritten.\n", usage);
}

int
cmd_keygen(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pd_error err;
	struct pr_key *key = NULL;
	unsigned char id[PR_KEYID_LEN];
	char *priv = NULL, *pub = NULL, idhex[2 * PR_KEYID_LEN + 1];
	size_t n;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			help();
			return 0;
		}
		return bad_option("keygen", usage, argv);
	}
	if (argc - optind != 1)
		return usage_error("keygen", usage, "give one NAME");
	pd_error_clear(&err);
	n = strlen(argv[optind]) + 5;
	if ((priv = pd_malloc(n)) == NULL || (pub = pd_malloc(n)) == NULL) {
		pd_fail(&err, PD_ERR_NOMEM, "keygen");
		goto out;
	}
	snprintf(priv, n, "%s.key", argv[optind]);
	snprintf(pub, n, "%s.pub", argv[optind]);
	if (pr_key_generate(&key, &err) != PD_OK ||
	    pr_key_write_private(key, priv, &err) != PD_OK)
		goto out;
	if (pr_key_write_public(key, pub, &err) != PD_OK) {
		/* Half a pair is useless; do not leave the private half. */
		remove(priv);
		goto out;
	}
	if (pr_key_id(key, id, &err) != PD_OK)
		goto out;
	hex(id, sizeof(id), idhex);
	printf("wrote %s (private: keep it on the origin only) and %s\n"
	    "key id %s\n", priv, pub, idhex);
	rc = 0;
out:
	if (rc != 0)
		fail(&err);
	pr_key_free(key);
	pd_free(priv);
	pd_free(pub);
	return rc;
}
