/*
 * pulpdist ca init DIR | ca issue DIR NODENAME: the deployment CA whose
 * certificates nodes show each other over TLS (node/tls_ca.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/mem.h"
#include "../node/tls_ca.h"
#include "cmd.h"

static const char usage[] = "pulpdist ca init DIR\n"
    "       pulpdist ca issue DIR NODENAME [--days N] [--start DATE] "
    "[--host NAME_OR_IP]...";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Nodes authenticate each other with certificates from one\n"
	    "deployment CA; each node's certificate serves it both as a\n"
	    "TLS server and as a client.\n\n"
	    "init: make a CA in DIR (created mode 0700): DIR/ca.key, its\n"
	    "private key (mode 0600: keep it off the nodes), and DIR/ca.crt,\n"
	    "its certificate (valid %d days), which every node is given as\n"
	    "its trust anchor (--tls-ca).\n\n"
	    "issue: make DIR/NODENAME.key (mode 0600) and DIR/NODENAME.crt\n"
	    "for one node, signed by the CA in DIR.  The certificate says\n"
	    "CN=NODENAME and, as the names a client may use to reach the\n"
	    "node, DNS:NODENAME only, unless --host adds more.  Keys are\n"
	    "ECDSA P-256.\n\n"
	    "  --days N       validity in days (default %d)\n"
	    "  --start DATE   valid from DATE, YYYY-MM-DD or\n"
	    "                 YYYY-MM-DDTHH:MM:SSZ, UTC (default: now, less\n"
	    "                 an hour for clocks that are behind)\n"
	    "  --host NAME_OR_IP\n"
	    "                 one more name in the certificate: a DNS name,\n"
	    "                 or an IPv4 or IPv6 address (e.g. --host\n"
	    "                 127.0.0.1 --host localhost for loopback tests);\n"
	    "                 up to %d\n\n"
	    "Existing files are never overwritten.\n", usage, ND_CA_DAYS,
	    ND_CA_CERT_DAYS, ND_CA_HOSTS_MAX);
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ", UTC, to seconds. */
static bool
parse_date(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return false;
	if (*end == 'T' && ((end = strptime(end + 1, "%H:%M:%S", &tm)) ==
	    NULL || strcmp(end, "Z") != 0))
		return false;
	if (*end != '\0' && strcmp(end, "Z") != 0)
		return false;
	if (tm.tm_year < 70)
		return false;
	*out = (int64_t)timegm(&tm);
	return *out > 0;
}

static int
ca_init(int argc, char **argv)
{
	struct pd_error err;

	if (argc != 1)
		return usage_error("ca", usage, "ca init takes one DIR");
	if (argv[0][0] == '-')
		return usage_error("ca", usage, "unknown option %s", argv[0]);
	pd_error_clear(&err);
	if (nd_ca_init(argv[0], &err) != PD_OK)
		return fail(&err);
	printf("wrote %s/ca.key (private: keep it off the nodes) and "
	    "%s/ca.crt\n", argv[0], argv[0]);
	return 0;
}

static int
ca_issue(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "days", required_argument, NULL, 'd' },
		{ "start", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *hosts[ND_CA_HOSTS_MAX];
	struct nd_ca_cert_opts o;
	struct pd_error err;
	char until[32];
	int64_t na;
	uint64_t days;
	int c;

	memset(&o, 0, sizeof(o));
	o.hosts = hosts;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!parse_u64_arg(optarg, &days) || days == 0 ||
			    days > ND_CA_DAYS_MAX)
				return usage_error("ca", usage, "bad --days "
				    "%s (1 to %d)", optarg, ND_CA_DAYS_MAX);
			o.days = (unsigned)days;
			break;
		case 's':
			if (!parse_date(optarg, &o.not_before))
				return usage_error("ca", usage, "bad --start "
				    "%s (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
				    optarg);
			break;
		case 'H':
			if (o.nhosts == ND_CA_HOSTS_MAX)
				return usage_error("ca", usage, "more than %d "
				    "--host", ND_CA_HOSTS_MAX);
			hosts[o.nhosts++] = optarg;
			break;
		case 'h': help(); return 0;
		default: return bad_option("ca", usage, argv);
		}
	}
	if (argc - optind != 2)
		return usage_error("ca", usage, "ca issue takes DIR and "
		    "NODENAME");
	o.name = argv[optind + 1];
	pd_error_clear(&err);
	if (nd_ca_issue(argv[optind], &o, &na, &err) != PD_OK)
		return err.code == PD_ERR_USAGE ? usage_error("ca", usage,
		    "%s", err.msg) : fail(&err);
	fmt_time(na, until, sizeof(until));
	printf("wrote %s/%s.key (private: for node %s only) and %s/%s.crt, "
	    "valid until %s UTC\n", argv[optind], o.name, o.name,
	    argv[optind], o.name, until);
	return 0;
}

int
cmd_ca(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			help();
			return 0;
		}
	if (argc < 2)
		return usage_error("ca", usage, "init or issue?");
	if (strcmp(argv[1], "init") == 0)
		return ca_init(argc - 2, argv + 2);
	if (strcmp(argv[1], "issue") == 0)
		return ca_issue(argc - 1, argv + 1);
	return usage_error("ca", usage, "unknown ca command %s", argv[1]);
}
