/*
 * TLS contexts of a node: its files checked and loaded, the server's
 * SSL_CTX, one OpenSSL bufferevent per accepted connection, and the
 * peer's node name for the request handler.
 *
 * DESIGN: the files are read by us (capped, errors naming them) and
 * handed to OpenSSL as objects, never as paths, so that every failure
 * says which file and why.  The CA file fills a store of its own: the
 * system's trusted roots are never consulted.  Sessions are neither
 * cached nor ticketed: every connection is a full handshake, its
 * client certificate checked there and then (an expired certificate
 * cannot ride on a resumed session).  Handshakes run on the loop
 * thread; OpenSSL's error queue is per thread, and we empty it before
 * each new connection and after each failure of ours, so that one
 * connection's error is never read as another's (tls_int.h).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>

#include "../common/buf.h"
#include "../common/crypto.h"
#include "../common/fsx.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "sslso.h"
#include "tls.h"
#include "tls_int.h"

struct nd_tls {
	const struct nd_ssl *ssl;	/* libssl, open */
	SSL_CTX		*ctx;
};

/* ------------------------------------------------------------------ */
/* PEM files and OpenSSL errors (tls_int.h) */

enum pd_err
nd_ssl_fail(struct pd_error *err, enum pd_err code, const char *fmt, ...)
{
	char what[PD_ERRMSG_MAX], why[256] = "";
	unsigned long e = 0;
	const char *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* Without libcrypto there is no OpenSSL error to tell. */
	if (pd_crypto_load(NULL) != PD_OK)
		return pd_fail(err, code, "%s", what);
	e = pd_cr.ERR_peek_last_error();
	if (e != 0 && (r = pd_cr.ERR_reason_error_string(e)) != NULL)
		snprintf(why, sizeof(why), ": %s", r);
	else if (e != 0)
		snprintf(why, sizeof(why), ": OpenSSL error %lx", e);
	pd_cr.ERR_clear_error();
	return pd_fail(err, code, "%s%s", what, why);
}

static enum pd_err
read_pem(const char *path, struct pd_buf *b, BIO **bio, struct pd_error *err)
{
	enum pd_err rc;

	pd_buf_init(b, ND_TLS_FILE_MAX);
	if ((rc = pd_crypto_load(err)) != PD_OK ||
	    (rc = pd_read_file(path, ND_TLS_FILE_MAX, b, err)) != PD_OK)
		return rc;
	if (b->len == 0)
		return pd_fail(err, PD_ERR_PARSE, "%s: empty file", path);
	if ((*bio = pd_cr.BIO_new_mem_buf(b->data, (int)b->len)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", path);
	return PD_OK;
}

/* The buffer may have held a private key. */
static void
drop_pem(struct pd_buf *b, BIO *bio)
{
	if (bio != NULL)
		pd_cr.BIO_free(bio);
	if (b->data)
		explicit_bzero(b->data, b->size);
	pd_buf_free(b);
}

enum pd_err
nd_pem_key(const char *path, EVP_PKEY **out, struct pd_error *err)
{
	struct pd_buf b;
	BIO *bio = NULL;
	enum pd_err rc;

	*out = NULL;
	if ((rc = read_pem(path, &b, &bio, err)) == PD_OK &&
	    (*out = pd_cr.PEM_read_bio_PrivateKey(bio, NULL, NULL,
	    NULL)) == NULL)
		rc = nd_ssl_fail(err, PD_ERR_PARSE, "%s: not a PEM private "
		    "key", path);
	drop_pem(&b, bio);
	return rc;
}

enum pd_err
nd_pem_certs(const char *path, STACK_OF(X509) **out, struct pd_error *err)
{
	struct pd_buf b;
	BIO *bio = NULL;
	X509 *x;
	enum pd_err rc;

	*out = NULL;
	if ((rc = pd_crypto_load(err)) != PD_OK)
		return rc;
	if ((*out = (STACK_OF(X509) *)pd_cr.OPENSSL_sk_new_null()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", path);
	if ((rc = read_pem(path, &b, &bio, err)) != PD_OK)
		goto out;
	while ((x = pd_cr.PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!pd_cr.sk_X509_push(*out, x)) {
			pd_cr.X509_free(x);
			rc = pd_fail(err, PD_ERR_NOMEM, "%s", path);
			goto out;
		}
	/* The end of the file reads as "no start line": not an error
	 * once a certificate came. */
	if (pd_cr.sk_X509_num(*out) == 0)
		rc = nd_ssl_fail(err, PD_ERR_PARSE, "%s: no PEM certificate",
		    path);
	pd_cr.ERR_clear_error();
out:
	drop_pem(&b, bio);
	if (rc != PD_OK) {
		pd_cr.sk_X509_pop_free(*out, pd_cr.X509_free);
		*out = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Checking a node's files */

/* What a node's files hold, checked. */
struct loaded {
	EVP_PKEY	*key;
	STACK_OF(X509)	*chain;		/* the certificate first */
	STACK_OF(X509)	*cas;
	X509_STORE	*store;		/* the CA certificates */
};

static void
unload(struct loaded *l)
{
	pd_cr.EVP_PKEY_free(l->key);
	pd_cr.sk_X509_pop_free(l->chain, pd_cr.X509_free);
	pd_cr.sk_X509_pop_free(l->cas, pd_cr.X509_free);
	pd_cr.X509_STORE_free(l->store);
	memset(l, 0, sizeof(*l));
}

/* Does the certificate verify against the CA, now, for that use? */
static enum pd_err
verify_own(const struct nd_tls_files *t, struct loaded *l, bool server,
    struct pd_error *err)
{
	X509_STORE_CTX *c;
	STACK_OF(X509) *rest = NULL;
	enum pd_err rc = PD_OK;
	int i;

	if ((c = pd_cr.X509_STORE_CTX_new()) == NULL ||
	    (rest = (STACK_OF(X509) *)pd_cr.OPENSSL_sk_new_null()) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "%s", t->cert);
		goto out;
	}
	for (i = 1; i < pd_cr.sk_X509_num(l->chain); i++)
		if (!pd_cr.sk_X509_push(rest, pd_sk_X509_value(l->chain, i))) {
			rc = pd_fail(err, PD_ERR_NOMEM, "%s", t->cert);
			goto out;
		}
	if (!pd_cr.X509_STORE_CTX_init(c, l->store,
	    pd_sk_X509_value(l->chain, 0), rest) ||
	    !pd_cr.X509_STORE_CTX_set_purpose(c, server ?
	    X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT)) {
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "%s", t->cert);
		goto out;
	}
	if (pd_cr.X509_verify_cert(c) != 1) {
		rc = pd_fail(err, PD_ERR_SIGNATURE, "certificate %s does not "
		    "verify against CA %s as a TLS %s: %s", t->cert, t->ca,
		    server ? "server" : "client",
		    pd_cr.X509_verify_cert_error_string(
		    pd_cr.X509_STORE_CTX_get_error(c)));
		pd_cr.ERR_clear_error();
	}
out:
	pd_cr.sk_X509_free(rest);
	pd_cr.X509_STORE_CTX_free(c);
	return rc;
}

static enum pd_err
load(const struct nd_tls_files *t, bool server, struct loaded *l,
    struct pd_error *err)
{
	enum pd_err rc;
	int i;

	memset(l, 0, sizeof(*l));
	/* unload() calls into libcrypto: only once it is open. */
	if ((rc = pd_crypto_load(err)) != PD_OK)
		return rc;
	if ((rc = nd_pem_certs(t->cert, &l->chain, err)) != PD_OK ||
	    (rc = nd_pem_key(t->key, &l->key, err)) != PD_OK ||
	    (rc = nd_pem_certs(t->ca, &l->cas, err)) != PD_OK)
		goto out;
	if (pd_cr.X509_check_private_key(pd_sk_X509_value(l->chain, 0),
	    l->key) != 1) {
		rc = nd_ssl_fail(err, PD_ERR_PARSE, "key %s does not match "
		    "certificate %s", t->key, t->cert);
		goto out;
	}
	if ((l->store = pd_cr.X509_STORE_new()) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "%s", t->ca);
		goto out;
	}
	for (i = 0; i < pd_cr.sk_X509_num(l->cas); i++) {
		if (pd_cr.X509_check_ca(pd_sk_X509_value(l->cas, i)) != 1) {
			rc = pd_fail(err, PD_ERR_PARSE, "%s: certificate %d is "
			    "not a CA's", t->ca, i + 1);
			goto out;
		}
		if (!pd_cr.X509_STORE_add_cert(l->store,
		    pd_sk_X509_value(l->cas, i))) {
			rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "%s", t->ca);
			goto out;
		}
	}
	rc = verify_own(t, l, server, err);
out:
	if (rc != PD_OK)
		unload(l);
	return rc;
}

enum pd_err
nd_tls_check(const struct nd_tls_files *t, bool server, struct pd_error *err)
{
	struct loaded l;
	enum pd_err rc;

	if ((rc = load(t, server, &l, err)) == PD_OK)
		unload(&l);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The server */

static void
peer_addr(const SSL *ssl, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	int fd = nd_ssl_loaded()->get_fd(ssl);

	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, host, sizeof(host));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, host, sizeof(host));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(out, n, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

/*
 * Loop: OpenSSL's progress on a handshake.  A handshake step that ends
 * with an error queued has failed (one that waits for bytes queues
 * none): say with whom and why, ours ("peer did not return a
 * certificate", "certificate verify failed: certificate has expired")
 * or the client's ("tlsv1 alert unknown ca": it refused us).  The
 * queue is only looked at: libevent reads it next, to fail the
 * connection.
 */
static void
on_info(const SSL *ssl, int where, int ret)
{
	char addr[INET6_ADDRSTRLEN + 16];
	unsigned long e;
	const char *why;
	long v;

	if ((where & SSL_CB_ACCEPT_EXIT) != SSL_CB_ACCEPT_EXIT || ret > 0 ||
	    (e = pd_cr.ERR_peek_last_error()) == 0)
		return;
	peer_addr(ssl, addr, sizeof(addr));
	why = pd_cr.ERR_reason_error_string(e);
	v = nd_ssl_loaded()->get_verify_result(ssl);
	log_info("TLS handshake with client %s failed: %s%s%s", addr, why ?
	    why : "error", v != X509_V_OK ? ": " : "",
	    v != X509_V_OK ? pd_cr.X509_verify_cert_error_string(v) : "");
}

static enum pd_err
make_ctx(const struct nd_ssl *S, const struct nd_tls_files *t,
    struct loaded *l, SSL_CTX **out, struct pd_error *err)
{
	STACK_OF(X509_NAME) *names = NULL;
	X509_NAME *n;
	SSL_CTX *ctx;
	enum pd_err rc = PD_OK;
	int i;

	/* The SSL_CTX_set_* macros of <openssl/ssl.h> call SSL_CTX_ctrl,
	 * which the table holds: so are they spelt here. */
	if ((ctx = S->CTX_new(S->server_method())) == NULL)
		return nd_ssl_fail(err, PD_ERR_CRYPTO, "TLS context");
	if (!S->CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION,
	    NULL) ||
	    !S->CTX_use_certificate(ctx, pd_sk_X509_value(l->chain, 0))) {
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "%s", t->cert);
		goto out;
	}
	for (i = 1; i < pd_cr.sk_X509_num(l->chain); i++)
		if (!S->CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 1,
		    pd_sk_X509_value(l->chain, i))) {
			rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "%s", t->cert);
			goto out;
		}
	if (!S->CTX_use_PrivateKey(ctx, l->key) ||
	    !S->CTX_check_private_key(ctx)) {
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "%s", t->key);
		goto out;
	}
	/* The CA alone is trusted, and named to clients as the issuer
	 * whose certificates we take. */
	names = (STACK_OF(X509_NAME) *)pd_cr.OPENSSL_sk_new_null();
	if (names == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "%s", t->ca);
		goto out;
	}
	for (i = 0; i < pd_cr.sk_X509_num(l->cas); i++) {
		n = pd_cr.X509_NAME_dup(pd_cr.X509_get_subject_name(
		    pd_sk_X509_value(l->cas, i)));
		if (n == NULL || !pd_cr.sk_X509_NAME_push(names, n)) {
			pd_cr.X509_NAME_free(n);
			rc = pd_fail(err, PD_ERR_NOMEM, "%s", t->ca);
			goto out;
		}
	}
	S->CTX_set_client_CA_list(ctx, names);
	names = NULL;
	S->CTX_set_cert_store(ctx, l->store);
	l->store = NULL;
	S->CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Clients hold the CA: the certificate alone goes out. */
	S->CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_NO_AUTO_CHAIN, NULL);
	S->CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF,
	    NULL);
	S->CTX_set_num_tickets(ctx, 0);
	S->CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	S->CTX_set_info_callback(ctx, on_info);
out:
	pd_cr.sk_X509_NAME_pop_free(names, pd_cr.X509_NAME_free);
	if (rc != PD_OK)
		S->CTX_free(ctx);
	else
		*out = ctx;
	return rc;
}

enum pd_err
nd_tls_server_new(const struct nd_tls_files *t, struct nd_tls **out,
    struct pd_error *err)
{
	const struct nd_ssl *S;
	struct loaded l;
	struct nd_tls *tls;
	enum pd_err rc;

	*out = NULL;
	if ((rc = nd_ssl_load(&S, err)) != PD_OK ||
	    (rc = load(t, true, &l, err)) != PD_OK)
		return rc;
	if ((tls = pd_calloc(1, sizeof(*tls))) == NULL)
		rc = pd_fail(err, PD_ERR_NOMEM, "TLS context");
	else if ((rc = make_ctx(S, t, &l, &tls->ctx, err)) == PD_OK)
		tls->ssl = S;
	else {
		pd_free(tls);
		tls = NULL;
	}
	unload(&l);
	*out = tls;
	return rc;
}

void
nd_tls_free(struct nd_tls *tls)
{
	if (tls == NULL)
		return;
	tls->ssl->CTX_free(tls->ctx);
	pd_free(tls);
}

SSL *
nd_tls_ssl_new(const struct nd_tls *tls)
{
	SSL *ssl;

	/* Whatever an earlier step left must not be taken for this
	 * connection's failure. */
	pd_cr.ERR_clear_error();
	if ((ssl = tls->ssl->ssl_new(tls->ctx)) == NULL)
		pd_cr.ERR_clear_error();
	return ssl;
}

struct bufferevent *
nd_tls_bufferevent(const struct nd_tls *tls, struct event_base *base)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = nd_tls_ssl_new(tls)) == NULL)
		return NULL;
	/* Freed with the bufferevent from here on (CLOSE_ON_FREE). */
	if ((bev = tls->ssl->socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		tls->ssl->ssl_free(ssl);
		pd_cr.ERR_clear_error();
		return NULL;
	}
	/* A client that closes without close_notify has ended its
	 * connection, as over plain TCP: evhttp's end-of-connection path,
	 * not its error path. */
	tls->ssl->set_allow_dirty_shutdown(bev, 1);
	return bev;
}

bool
nd_tls_peer(const SSL *ssl, char *out, size_t n)
{
	const struct nd_ssl *S;
	X509 *x;
	X509_NAME *name;
	X509_NAME_ENTRY *ne;
	ASN1_STRING *s;
	const unsigned char *p;
	size_t i, len;
	int idx;

	if (n == 0)
		return false;
	out[0] = '\0';
	/* An SSL was made by a table that is loaded. */
	S = nd_ssl_loaded();
	if (!S->is_init_finished(ssl) ||
	    S->get_verify_result(ssl) != X509_V_OK ||
	    (x = S->get0_peer_certificate(ssl)) == NULL)
		return false;
	name = pd_cr.X509_get_subject_name(x);
	if ((idx = pd_cr.X509_NAME_get_index_by_NID(name, NID_commonName,
	    -1)) < 0 ||
	    (ne = pd_cr.X509_NAME_get_entry(name, idx)) == NULL ||
	    (s = pd_cr.X509_NAME_ENTRY_get_data(ne)) == NULL)
		return false;
	p = pd_cr.ASN1_STRING_get0_data(s);
	len = (size_t)pd_cr.ASN1_STRING_length(s);
	if (len > n - 1)
		len = n - 1;
	/* It goes into logs: nothing but a node name's bytes. */
	for (i = 0; i < len; i++)
		out[i] = (p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
		    p[i] == '.' || p[i] == '_' ? (char)p[i] : '?';
	out[len] = '\0';
	return len > 0;
}

bool
nd_tls_conn_peer(struct evhttp_connection *evcon, char *out, size_t n)
{
	const struct nd_ssl *S = nd_ssl_loaded();
	struct bufferevent *bev;
	SSL *ssl;

	if (n > 0)
		out[0] = '\0';
	/* Without the table, no connection of this process has TLS. */
	if (S == NULL || evcon == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (ssl = S->get_ssl(bev)) == NULL)
		return false;
	return nd_tls_peer(ssl, out, n);
}
