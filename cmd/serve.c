/*
 * pulpdist serve: answer the node protocol (spec/PROTOCOL.md) over HTTPS
 * with client certificates, or plain HTTP, for every tree of a data
 * directory, until SIGINT or SIGTERM.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../catalog/catalog.h"
#include "../common/log.h"
#include "../node/dcache.h"
#include "../node/server.h"
#include "../node/tls.h"
#include "cmd.h"

static const char usage[] = "pulpdist serve --data DIR --listen HOST:PORT "
    "[--workers N] [--max-queue Q] [--tls-cert F --tls-key F --tls-ca F] "
    "[--max-connections C] [--max-transfers T] [--header-timeout S] "
    "[--idle-timeout S] [--min-rate BYTES] [--timeout T]";

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Serve every tree of the data directory DIR on HOST:PORT (port\n"
	    "0 picks a free one): heads, signed manifests, manifest patches,\n"
	    "objects, deltas, pack parts and batches, as spec/PROTOCOL.md\n"
	    "describes.  The first line printed is \"listening on\n"
	    "https://HOST:PORT\" (http:// without TLS).  Deltas and\n"
	    "compressed forms are made once and kept in DIR.  N worker\n"
	    "threads (default: one per CPU) do the disk and CPU work; a\n"
	    "request that finds Q jobs waiting for them (default: 64 per\n"
	    "worker) is answered 503 with Retry-After.  SIGINT or SIGTERM\n"
	    "stops it.\n\n"
	    "  --tls-cert F   this node's certificate (pulpdist ca issue)\n"
	    "  --tls-key F    its private key\n"
	    "  --tls-ca F     the deployment CA's certificate (ca.crt)\n\n"
	    "With the three, it speaks HTTPS (TLS 1.2 or later) and serves\n"
	    "only clients that show a certificate issued by that CA; a\n"
	    "client without one is refused during the handshake.  Without\n"
	    "them it speaks plain HTTP, which has no authentication: use it\n"
	    "on loopback, for tests and demos.\n\n"
	    "Against overload and slow clients:\n"
	    "  --max-connections C  connections open at once (default 256);\n"
	    "                       past it a new one is answered 503 with\n"
	    "                       Retry-After and closed at once\n"
	    "  --max-transfers T    requests answered at once (default 64);\n"
	    "                       past it a request gets 503, Retry-After\n"
	    "  --header-timeout S   seconds a request may take to come in,\n"
	    "                       plus its bytes at the minimum rate\n"
	    "                       (default 10): slow-loris clients go\n"
	    "  --idle-timeout S     seconds a kept-alive connection may wait\n"
	    "                       for its next request (default 30)\n"
	    "  --min-rate BYTES     bytes/s a request or reply must average:\n"
	    "                       a reply of L bytes is cut after\n"
	    "                       T + L / BYTES seconds (default 16384)\n"
	    "  --timeout T          seconds a connection may stall reading\n"
	    "                       or writing (default 60)\n", usage);
}

static bool
is_loopback(const char *listen)
{
	return strncmp(listen, "127.", 4) == 0 ||
	    strncmp(listen, "localhost:", 10) == 0 ||
	    strncmp(listen, "[::1]:", 6) == 0;
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-queue", required_argument, NULL, 'q' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-ca", required_argument, NULL, 'A' },
		{ "max-connections", required_argument, NULL, 'M' },
		{ "max-transfers", required_argument, NULL, 'T' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "min-rate", required_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nd_server_opts o;
	struct nd_server_stats st;
	struct nd_dcache_stats ds;
	struct pd_error err;
	struct cat *cat = NULL;
	struct nd_dcache *dc = NULL;
	struct nd_server *srv = NULL;
	struct nd_tls_files tf = { NULL, NULL, NULL };
	struct nd_tls *tls = NULL;
	const char *data = NULL;
	char out[32];
	uint64_t workers = 0, queue = 0, v;
	int c, rc = 1;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'l': o.listen = optarg; break;
		case 'w':
			if (!parse_u64_arg(optarg, &workers) || workers == 0 ||
			    workers > 1024)
				return usage_error("serve", usage,
				    "bad --workers %s (1 to 1024)", optarg);
			break;
		case 'q':
			if (!parse_u64_arg(optarg, &queue) || queue == 0 ||
			    queue > 1000000)
				return usage_error("serve", usage,
				    "bad --max-queue %s (1 to 1000000)",
				    optarg);
			break;
		case 'C': tf.cert = optarg; break;
		case 'K': tf.key = optarg; break;
		case 'A': tf.ca = optarg; break;
		case 'M':
			if (!parse_u64_arg(optarg, &v) || v == 0 || v > 1000000)
				return usage_error("serve", usage,
				    "bad --max-connections %s (1 to 1000000)",
				    optarg);
			o.max_conns = (unsigned)v;
			break;
		case 'T':
			if (!parse_u64_arg(optarg, &v) || v == 0 || v > 1000000)
				return usage_error("serve", usage,
				    "bad --max-transfers %s (1 to 1000000)",
				    optarg);
			o.max_transfers = (unsigned)v;
			break;
		case 'H':
			if (!parse_u64_arg(optarg, &v) || v == 0 || v > 3600)
				return usage_error("serve", usage,
				    "bad --header-timeout %s (1 to 3600 "
				    "seconds)", optarg);
			o.header_timeout = (unsigned)v;
			break;
		case 'I':
			if (!parse_u64_arg(optarg, &v) || v == 0 || v > 86400)
				return usage_error("serve", usage,
				    "bad --idle-timeout %s (1 to 86400 "
				    "seconds)", optarg);
			o.idle_timeout = (unsigned)v;
			break;
		case 'R':
			if (!parse_u64_arg(optarg, &v) || v == 0 ||
			    v > (uint64_t)1 << 40)
				return usage_error("serve", usage,
				    "bad --min-rate %s (1 to 2^40 bytes/s)",
				    optarg);
			o.min_rate = v;
			break;
		case 't':
			if (!parse_u64_arg(optarg, &v) || v == 0 || v > 86400)
				return usage_error("serve", usage,
				    "bad --timeout %s (1 to 86400 seconds)",
				    optarg);
			o.timeout = (unsigned)v;
			break;
		case 'h': help(); return 0;
		default: return bad_option("serve", usage, argv);
		}
	}
	if (data == NULL || o.listen == NULL || optind != argc)
		return usage_error("serve", usage, "--data and --listen, "
		    "nothing else");
	if ((tf.cert || tf.key || tf.ca) && !(tf.cert && tf.key && tf.ca))
		return usage_error("serve", usage, "--tls-cert, --tls-key and "
		    "--tls-ca go together");
	o.workers = (unsigned)workers;
	o.max_queue = (unsigned)queue;
	/* A client gone mid-write must be an error code, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	pd_error_clear(&err);
	if (tf.cert != NULL && nd_tls_server_new(&tf, &tls, &err) != PD_OK)
		goto out;
	o.tls = tls;
	if (cat_open(data, 0, &cat, &err) != PD_OK ||
	    nd_dcache_new(cat, &dc, &err) != PD_OK ||
	    nd_server_new(cat, dc, &o, &srv, &err) != PD_OK)
		goto out;
	if (tls == NULL && !is_loopback(o.listen))
		log_warn("serving plain HTTP on %s, not a loopback address",
		    nd_server_addr(srv));
	printf("listening on %s://%s\n", tls ? "https" : "http",
	    nd_server_addr(srv));
	if (fflush(stdout) != 0) {
		pd_fail(&err, PD_ERR_IO, "writing to stdout");
		goto out;
	}
	if (nd_server_run(srv, &err) != PD_OK)
		goto out;
	nd_server_stats(srv, &st);
	nd_dcache_stats(dc, &ds);
	fmt_bytes(st.bytes_out, out, sizeof(out));
	log_info("served %llu requests (%llu errors, %llu overloaded), "
	    "%s out, %llu objects, %llu deltas, %llu batches of %llu items",
	    (unsigned long long)st.requests, (unsigned long long)st.errors,
	    (unsigned long long)st.overloaded, out,
	    (unsigned long long)st.objects, (unsigned long long)st.deltas,
	    (unsigned long long)st.batches,
	    (unsigned long long)st.batch_items);
	log_info("connections: %llu accepted (at most %u open), %llu "
	    "refused; %llu requests refused past the transfer cap; closed "
	    "%llu at the header deadline, %llu at the total deadline, %llu "
	    "idle", (unsigned long long)st.accepted, st.open_max,
	    (unsigned long long)st.refused_connections,
	    (unsigned long long)st.refused_transfers,
	    (unsigned long long)st.closed_header_deadline,
	    (unsigned long long)st.closed_total_deadline,
	    (unsigned long long)st.closed_idle);
	/* What serving cost beyond reading: a relay serving what it kept
	 * computes nothing here. */
	log_info("computed %llu deltas (%llu not worth it), compressed %llu "
	    "objects; %llu answers from the cache",
	    (unsigned long long)(ds.deltas_made + ds.wholes),
	    (unsigned long long)ds.wholes,
	    (unsigned long long)ds.zobj_made, (unsigned long long)ds.hits);
	rc = 0;
out:
	if (err.code != PD_OK)
		rc = fail(&err);
	nd_server_free(srv);
	nd_tls_free(tls);
	nd_dcache_free(dc);
	cat_close(cat);
	return rc;
}
