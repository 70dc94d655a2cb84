/*
 * The deployment CA (node/tls_ca.h) and the node TLS contexts
 * (node/tls.h): files and modes, what an issued certificate says and
 * whom it verifies against, and handshakes, in memory, against the
 * server context: a client with no certificate, another CA's or an
 * expired one never completes one.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../../common/buf.h"
#include "../../common/fsx.h"
#include "../../common/log.h"
#include "../../common/mem.h"
#include "../../node/sslso.h"
#include "../../node/tls.h"
#include "../../node/tls_ca.h"
#include "unit.h"

#define JAN_2020	1577836800	/* 2020-01-01T00:00:00Z */

/* A CA in TMP/NAME and nodes issued from it, for the tests below. */
static char *tmp;
static char ca1[4096], ca2[4096];

static void
path(char *out, const char *dir, const char *file)
{
	unit_pjoin(out, 4096, dir, file);
}

static void
issue(const char *dir, const char *name, int64_t not_before, unsigned days)
{
	static const char *const hosts[] = { "127.0.0.1", "localhost" };
	struct nd_ca_cert_opts o = { name, hosts, 2, days, not_before };
	struct pd_error err = { 0 };

	CU_ASSERT_EQUAL_FATAL(nd_ca_issue(dir, &o, NULL, &err), PD_OK);
}

static int
setup(void)
{
	struct pd_error err = { 0 };
	if ((tmp = unit_mkdtemp()) == NULL)
		return -1;
	snprintf(ca1, sizeof(ca1), "%s/ca1", tmp);
	snprintf(ca2, sizeof(ca2), "%s/ca2", tmp);
	if (nd_ca_init(ca1, &err) != PD_OK || nd_ca_init(ca2, &err) != PD_OK)
		return -1;
	return 0;
}

static int
teardown(void)
{
	int rc = pd_remove_tree_at(AT_FDCWD, tmp, NULL) == PD_OK ? 0 : -1;

	pd_free(tmp);
	return rc;
}

static X509 *
load_cert(const char *dir, const char *file)
{
	char p[4096];
	X509 *x;
	FILE *f;

	path(p, dir, file);
	f = fopen(p, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	return x;
}

static unsigned
mode_of(const char *dir, const char *file)
{
	char p[4096];
	struct stat sb;

	path(p, dir, file);
	if (stat(p, &sb) != 0)
		return 0;
	return (unsigned)(sb.st_mode & 07777);
}

static bool
exists(const char *dir, const char *file)
{
	char p[4096];

	path(p, dir, file);
	return access(p, F_OK) == 0;
}

/* X509_verify_cert of x against the CA of dir for a purpose. */
static int
verify(const char *dir, X509 *x, int purpose)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *c = X509_STORE_CTX_new();
	X509 *ca = load_cert(dir, "ca.crt");
	int rc;

	CU_ASSERT_FATAL(st != NULL && c != NULL);
	CU_ASSERT_FATAL(X509_STORE_add_cert(st, ca) == 1);
	CU_ASSERT_FATAL(X509_STORE_CTX_init(c, st, x, NULL) == 1);
	CU_ASSERT_FATAL(X509_STORE_CTX_set_purpose(c, purpose) == 1);
	rc = X509_verify_cert(c) == 1 ? X509_V_OK :
	    X509_STORE_CTX_get_error(c);
	X509_STORE_CTX_free(c);
	X509_STORE_free(st);
	X509_free(ca);
	ERR_clear_error();
	return rc;
}

static void
read_all(const char *dir, const char *file, struct pd_buf *b)
{
	char p[4096];

	path(p, dir, file);
	pd_buf_init(b, 1 << 20);
	CU_ASSERT_EQUAL(pd_read_file(p, 1 << 20, b, NULL), PD_OK);
}

static void
test_ca_init(void)
{
	struct pd_error err = { 0 };
	struct pd_buf k1, k2, c1, c2;
	char d[4096];
	X509 *ca;
	EVP_PKEY *pub;
	struct stat sb;

	CU_ASSERT_EQUAL(stat(ca1, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0700);
	CU_ASSERT_EQUAL(mode_of(ca1, "ca.key"), 0600);
	ca = load_cert(ca1, "ca.crt");
	CU_ASSERT_EQUAL(X509_check_ca(ca), 1);
	pub = X509_get0_pubkey(ca);
	CU_ASSERT_EQUAL(X509_verify(ca, pub), 1);
	CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
	CU_ASSERT_EQUAL(verify(ca1, ca, X509_PURPOSE_ANY), X509_V_OK);
	X509_free(ca);

	/* Again: refused, and neither file changes. */
	read_all(ca1, "ca.key", &k1);
	read_all(ca1, "ca.crt", &c1);
	CU_ASSERT_EQUAL(nd_ca_init(ca1, &err), PD_ERR_EXISTS);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ca.key"));
	read_all(ca1, "ca.key", &k2);
	read_all(ca1, "ca.crt", &c2);
	CU_ASSERT(k1.len == k2.len && memcmp(k1.data, k2.data, k1.len) == 0);
	CU_ASSERT(c1.len == c2.len && memcmp(c1.data, c2.data, c1.len) == 0);
	pd_buf_free(&k1);
	pd_buf_free(&k2);
	pd_buf_free(&c1);
	pd_buf_free(&c2);

	/* A certificate alone is enough to refuse: no key appears. */
	snprintf(d, sizeof(d), "%s/half", tmp);
	CU_ASSERT_EQUAL_FATAL(mkdir(d, 0700), 0);
	unit_write(d, "ca.crt", "x", 1);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_ca_init(d, &err), PD_ERR_EXISTS);
	CU_ASSERT(!exists(d, "ca.key"));
	/* A missing parent is an error naming the directory. */
	snprintf(d, sizeof(d), "%s/no/such", tmp);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_ca_init(d, &err), PD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no/such"));
}

static bool
has_san(X509 *x, int type, const char *want, size_t n)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	GENERAL_NAME *g;
	ASN1_STRING *s;
	bool found = false;
	int i;

	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != type)
			continue;
		s = type == GEN_DNS ? g->d.dNSName : g->d.iPAddress;
		if ((size_t)ASN1_STRING_length(s) == n &&
		    memcmp(ASN1_STRING_get0_data(s), want, n) == 0)
			found = true;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static int
san_count(X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	int n = gens ? sk_GENERAL_NAME_num(gens) : -1;

	GENERAL_NAMES_free(gens);
	return n;
}

static void
test_ca_issue(void)
{
	static const char *const hosts[] = { "127.0.0.1", "localhost", "::1",
	    "node-a.example", "127.0.0.1" };
	static const unsigned char v6[16] = { [15] = 1 };
	struct nd_ca_cert_opts o = { "node-a.example", hosts, 5, 0, 0 };
	struct pd_error err = { 0 };
	X509 *x, *y;
	X509_NAME *n;
	BIGNUM *bn;
	char cn[128];
	int64_t na = 0, now = (int64_t)time(NULL);
	int days, secs;

	CU_ASSERT_EQUAL_FATAL(nd_ca_issue(ca1, &o, &na, &err), PD_OK);
	CU_ASSERT_EQUAL(mode_of(ca1, "node-a.example.key"), 0600);
	CU_ASSERT(na >= now + ND_CA_CERT_DAYS * 86400 - 60 &&
	    na <= now + ND_CA_CERT_DAYS * 86400 + 60);
	x = load_cert(ca1, "node-a.example.crt");
	CU_ASSERT_EQUAL(verify(ca1, x, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	CU_ASSERT_EQUAL(verify(ca1, x, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	/* Not a CA: it cannot sign other nodes' certificates. */
	CU_ASSERT_EQUAL(X509_check_ca(x), 0);
	CU_ASSERT_EQUAL(verify(ca2, x, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	n = X509_get_subject_name(x);
	CU_ASSERT(X509_NAME_get_text_by_NID(n, NID_commonName, cn,
	    sizeof(cn)) > 0);
	CU_ASSERT_STRING_EQUAL(cn, "node-a.example");
	CU_ASSERT((X509_get_extended_key_usage(x) & (XKU_SSL_SERVER |
	    XKU_SSL_CLIENT)) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
	/* The name once, each host once, IPs as IP names. */
	CU_ASSERT_EQUAL(san_count(x), 4);
	CU_ASSERT(has_san(x, GEN_DNS, "node-a.example", 14));
	CU_ASSERT(has_san(x, GEN_DNS, "localhost", 9));
	CU_ASSERT(has_san(x, GEN_IPADD, "\x7f\0\0\x01", 4));
	CU_ASSERT(has_san(x, GEN_IPADD, (const char *)v6, 16));
	CU_ASSERT(!has_san(x, GEN_DNS, "127.0.0.1", 9));
	CU_ASSERT_EQUAL(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	CU_ASSERT_EQUAL(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	CU_ASSERT_EQUAL(X509_check_host(x, "other.example", 0, 0, NULL), 0);
	/* Valid from an hour ago for 825 days. */
	CU_ASSERT(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)) == 1);
	CU_ASSERT(days == ND_CA_CERT_DAYS && secs == ND_CA_BACKDATE);

	/* Serials are random: two nodes never share one. */
	o.name = "node-b";
	o.nhosts = 0;
	o.days = 30;
	CU_ASSERT_EQUAL_FATAL(nd_ca_issue(ca1, &o, NULL, &err), PD_OK);
	y = load_cert(ca1, "node-b.crt");
	CU_ASSERT_NOT_EQUAL(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
	    X509_get0_serialNumber(y)), 0);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(y), NULL);
	CU_ASSERT(bn != NULL && BN_num_bits(bn) > 64);
	BN_free(bn);
	CU_ASSERT_EQUAL(san_count(y), 1);
	CU_ASSERT(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(y),
	    X509_get0_notAfter(y)) == 1);
	CU_ASSERT_EQUAL(days, 30);
	X509_free(x);
	X509_free(y);
}

static void
test_ca_issue_refused(void)
{
	static const char *const bad_hosts[] = { "a,b", "", "a b",
	    "IP:1.2.3.4", "x..y", "-x", "DNS:evil" };
	static const char *const bad_names[] = { "", "ca", "../x", "a/b",
	    "-x", ".x", "x.", "a b", "a,DNS:evil", "n\xc3\xa9",
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "1234" };
	struct nd_ca_cert_opts o = { "node-r", NULL, 0, 0, 0 };
	struct pd_error err = { 0 };
	struct pd_buf k1, k2;
	const char *h[1];
	size_t i;

	issue(ca1, "node-r", 0, 0);
	read_all(ca1, "node-r.key", &k1);
	CU_ASSERT_EQUAL(nd_ca_issue(ca1, &o, NULL, &err), PD_ERR_EXISTS);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "node-r.key"));
	read_all(ca1, "node-r.key", &k2);
	CU_ASSERT(k1.len == k2.len && memcmp(k1.data, k2.data, k1.len) == 0);
	pd_buf_free(&k1);
	pd_buf_free(&k2);

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		o.name = bad_names[i];
		pd_error_clear(&err);
		if (nd_ca_issue(ca1, &o, NULL, &err) != PD_ERR_USAGE)
			CU_FAIL(bad_names[i]);
	}
	o.name = "node-h";
	o.hosts = h;
	o.nhosts = 1;
	for (i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
		h[0] = bad_hosts[i];
		pd_error_clear(&err);
		if (nd_ca_issue(ca1, &o, NULL, &err) != PD_ERR_USAGE)
			CU_FAIL(bad_hosts[i]);
		CU_ASSERT(!exists(ca1, "node-h.key"));
	}
	o.nhosts = 0;
	o.days = ND_CA_DAYS_MAX + 1;
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_ca_issue(ca1, &o, NULL, &err), PD_ERR_USAGE);
	CU_ASSERT(!exists(ca1, "node-h.key"));
	CU_ASSERT(!exists(ca1, "node-h.crt"));

	/* No CA there: nothing written either. */
	o.days = 0;
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_ca_issue(tmp, &o, NULL, &err), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ca.key"));
	CU_ASSERT(!exists(tmp, "node-h.key"));
}

static void
test_ca_expired(void)
{
	X509 *x;

	issue(ca1, "old", JAN_2020, 1);
	x = load_cert(ca1, "old.crt");
	CU_ASSERT_EQUAL(verify(ca1, x, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_CERT_HAS_EXPIRED);
	X509_free(x);
	/* Not yet valid, too. */
	issue(ca1, "future", (int64_t)time(NULL) + 86400, 1);
	x = load_cert(ca1, "future.crt");
	CU_ASSERT_EQUAL(verify(ca1, x, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_CERT_NOT_YET_VALID);
	X509_free(x);
}

/* The files of node name from dir, checked as a server. */
static enum pd_err
server_new(const char *certdir, const char *name, const char *keydir,
    const char *keyname, const char *cadir, struct nd_tls **out,
    struct pd_error *err)
{
	static char c[4096], k[4096], a[4096];
	struct nd_tls_files f = { c, k, a };

	snprintf(c, sizeof(c), "%s/%s.crt", certdir, name);
	snprintf(k, sizeof(k), "%s/%s.key", keydir, keyname);
	path(a, cadir, "ca.crt");
	pd_error_clear(err);
	return nd_tls_server_new(&f, out, err);
}

static void
test_tls_files(void)
{
	const struct nd_ssl *S;
	struct pd_error err = { 0 };
	struct nd_tls *t = NULL;
	struct nd_tls_files f;
	char c[4096], k[4096];

	issue(ca1, "srv", 0, 0);
	issue(ca2, "srv2", 0, 0);
	issue(ca1, "gone", JAN_2020, 1);
	CU_ASSERT_EQUAL(server_new(ca1, "srv", ca1, "srv", ca1, &t, &err),
	    PD_OK);
	CU_ASSERT_PTR_NOT_NULL(t);
	nd_tls_free(t);
	nd_tls_free(NULL);
	/* The server opened libssl; asking again gives the same table. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(nd_ssl_loaded());
	CU_ASSERT_EQUAL_FATAL(nd_ssl_load(&S, &err), PD_OK);
	CU_ASSERT_PTR_EQUAL(S, nd_ssl_loaded());
	CU_ASSERT_PTR_EQUAL(S->server_method(), TLS_server_method());

	/* Each mistake is named, with its file. */
	CU_ASSERT_EQUAL(server_new(ca1, "nosuch", ca1, "srv", ca1, &t, &err),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nosuch.crt"));
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_EQUAL(server_new(ca1, "srv", ca1, "node-b", ca1, &t, &err),
	    PD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "node-b.key does not match"));
	CU_ASSERT_EQUAL(server_new(ca2, "srv2", ca2, "srv2", ca1, &t, &err),
	    PD_ERR_SIGNATURE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "srv2.crt"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "local issuer"));
	CU_ASSERT_EQUAL(server_new(ca1, "gone", ca1, "gone", ca1, &t, &err),
	    PD_ERR_SIGNATURE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "expired"));
	/* A key where the certificate goes, a node's as the CA. */
	CU_ASSERT_EQUAL(server_new(ca1, "srv", ca1, "srv", ca1, &t, &err),
	    PD_OK);
	nd_tls_free(t);
	path(c, ca1, "srv.key");
	path(k, ca1, "srv.key");
	f.cert = c;
	f.key = k;
	f.ca = c;
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_tls_check(&f, true, &err), PD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "srv.key: no PEM certificate"));
	path(c, ca1, "srv.crt");
	f.ca = c;
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_tls_check(&f, false, &err), PD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a CA's"));
	unit_write(tmp, "empty.pem", "", 0);
	path(k, tmp, "empty.pem");
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_tls_check(&f, false, &err), PD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "empty.pem: empty file"));
	/* OpenSSL's queue is left empty for the next TLS call. */
	CU_ASSERT_EQUAL(ERR_peek_error(), 0);
}

/* ------------------------------------------------------------------ */
/* Handshakes in memory */

struct hs {
	bool		 client_ok, server_ok;
	int		 server_reason;	/* ERR_GET_REASON of its failure */
	long		 verify;	/* server's verify result */
	char		 peer[ND_PEER_MAX];
};

/* A client with node name's certificate from dir (NULL: none). */
static SSL_CTX *
client_ctx(const char *dir, const char *name)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char p[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	path(p, ca1, "ca.crt");
	CU_ASSERT_FATAL(SSL_CTX_load_verify_locations(ctx, p, NULL) == 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (name != NULL) {
		snprintf(p, sizeof(p), "%s/%s.crt", dir, name);
		CU_ASSERT_FATAL(SSL_CTX_use_certificate_file(ctx, p,
		    SSL_FILETYPE_PEM) == 1);
		snprintf(p, sizeof(p), "%s/%s.key", dir, name);
		CU_ASSERT_FATAL(SSL_CTX_use_PrivateKey_file(ctx, p,
		    SSL_FILETYPE_PEM) == 1);
	}
	return ctx;
}

static bool
stuck(SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);

	return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
}

/* Run a handshake between the server context and a client. */
static void
handshake(const struct nd_tls *t, SSL_CTX *cctx, int max_version,
    struct hs *h)
{
	SSL *srv = nd_tls_ssl_new(t), *cli = SSL_new(cctx);
	BIO *a = NULL, *b = NULL;
	bool cdone = false, sdone = false, cfail = false, sfail = false;
	char buf[1];
	int i, rc;

	memset(h, 0, sizeof(*h));
	CU_ASSERT_FATAL(srv != NULL && cli != NULL);
	CU_ASSERT_FATAL(BIO_new_bio_pair(&a, 0, &b, 0) == 1);
	SSL_set_bio(srv, a, a);
	SSL_set_bio(cli, b, b);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
	if (max_version)
		SSL_set_max_proto_version(cli, max_version);
	for (i = 0; i < 50 && !(cfail || sfail) && !(cdone && sdone); i++) {
		if (!cdone && !cfail) {
			rc = SSL_do_handshake(cli);
			cdone = rc == 1;
			cfail = rc != 1 && stuck(cli, rc);
			ERR_clear_error();
		}
		if (!sdone && !sfail) {
			rc = SSL_do_handshake(srv);
			sdone = rc == 1;
			if (rc != 1 && (sfail = stuck(srv, rc)))
				h->server_reason = ERR_GET_REASON(
				    ERR_peek_last_error());
			ERR_clear_error();
		}
		/* TLS 1.3: the client is done first and learns of a refusal
		 * when it reads. */
		if (cdone && !cfail && (rc = SSL_read(cli, buf, 1)) <= 0 &&
		    stuck(cli, rc))
			cfail = true;
		ERR_clear_error();
	}
	h->client_ok = cdone && !cfail;
	h->server_ok = sdone && !sfail;
	h->verify = SSL_get_verify_result(srv);
	nd_tls_peer(srv, h->peer, sizeof(h->peer));
	SSL_free(srv);
	SSL_free(cli);
}

static void
test_tls_handshake(void)
{
	struct pd_error err = { 0 };
	struct nd_tls *t = NULL;
	SSL_CTX *cctx;
	struct hs h;

	issue(ca1, "cli", 0, 0);
	issue(ca2, "cli2", 0, 0);
	CU_ASSERT_EQUAL_FATAL(server_new(ca1, "srv", ca1, "srv", ca1, &t,
	    &err), PD_OK);
	/* The server's log lines about refused clients are not wanted. */
	pd_log_set_level(PD_LOG_ERROR);

	/* A certificate from the CA: in, and named. */
	cctx = client_ctx(ca1, "cli");
	handshake(t, cctx, 0, &h);
	CU_ASSERT(h.client_ok && h.server_ok);
	CU_ASSERT_STRING_EQUAL(h.peer, "cli");
	handshake(t, cctx, TLS1_2_VERSION, &h);
	CU_ASSERT(h.client_ok && h.server_ok);
	CU_ASSERT_STRING_EQUAL(h.peer, "cli");
	SSL_CTX_free(cctx);

	/* No certificate at all: refused (SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
	 * over TLS 1.3 and 1.2 alike. */
	cctx = client_ctx(NULL, NULL);
	handshake(t, cctx, 0, &h);
	CU_ASSERT(!h.server_ok && !h.client_ok);
	CU_ASSERT_EQUAL(h.server_reason,
	    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);
	CU_ASSERT_STRING_EQUAL(h.peer, "");
	handshake(t, cctx, TLS1_2_VERSION, &h);
	CU_ASSERT(!h.server_ok && !h.client_ok);
	CU_ASSERT_EQUAL(h.server_reason,
	    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);
	/* Nor below TLS 1.2. */
	handshake(t, cctx, TLS1_1_VERSION, &h);
	CU_ASSERT(!h.server_ok && !h.client_ok);
	SSL_CTX_free(cctx);

	/* Another CA's certificate. */
	cctx = client_ctx(ca2, "cli2");
	handshake(t, cctx, 0, &h);
	CU_ASSERT(!h.server_ok && !h.client_ok);
	CU_ASSERT_EQUAL(h.verify, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	CU_ASSERT_STRING_EQUAL(h.peer, "");
	SSL_CTX_free(cctx);

	/* Our CA's, expired. */
	cctx = client_ctx(ca1, "old");
	handshake(t, cctx, 0, &h);
	CU_ASSERT(!h.server_ok && !h.client_ok);
	CU_ASSERT_EQUAL(h.verify, X509_V_ERR_CERT_HAS_EXPIRED);
	SSL_CTX_free(cctx);

	pd_log_set_level(PD_LOG_INFO);
	nd_tls_free(t);
}

static int
add_tls(void)
{
	static const struct unit_test tests[] = {
		{ "ca init: key 0600, self-signed CA, no overwrite",
		    test_ca_init },
		{ "ca issue: names, uses, serials, validity", test_ca_issue },
		{ "ca issue: bad names and hosts, existing files",
		    test_ca_issue_refused },
		{ "ca issue: expired and not yet valid", test_ca_expired },
		{ "tls files: each mistake named", test_tls_files },
		{ "tls handshakes: no certificate, other CA, expired",
		    test_tls_handshake },
	};

	return UNIT_SUITE("tls", setup, teardown, tests);
}

UNIT_REGISTER("tls", add_tls)
