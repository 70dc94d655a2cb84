/*
 * TLS between nodes (DESIGN.md, "Wire"): HTTPS where both ends show a
 * certificate from the deployment CA (node/tls_ca.h), and that CA is
 * the only trust anchor either end accepts.
 *
 * The server side is an SSL_CTX that libevent's evhttp uses through
 * OpenSSL bufferevents, one per connection, on the loop thread: TLS 1.2
 * at least, and SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, for
 * without the second flag a client that sends no certificate at all is
 * let in.  A refused handshake is logged (info) with the client's
 * address and OpenSSL's reason, and nothing of HTTP is ever read from
 * or sent to that connection.
 *
 * The client side is libcurl's (node/fetch.h), given the same three
 * files as struct nd_tls_files.
 */
#ifndef ND_TLS_H
#define ND_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "../common/err.h"

struct bufferevent;
struct event_base;
struct evhttp_connection;

/* Longest node name nd_tls_peer() gives, with its NUL. */
#define ND_PEER_MAX	65

/* A node's TLS files, all PEM. */
struct nd_tls_files {
	const char	*cert;	/* this node's certificate (its chain may
				 * follow) */
	const char	*key;	/* its private key */
	const char	*ca;	/* the deployment CA's certificate */
};

struct nd_tls;

/*
 * Check a node's files before using them: each readable and PEM, the
 * key matching the certificate, and the certificate valid now and
 * issued by the CA for a TLS server (server) or client (!server).
 * Errors name the file: PD_ERR_NOTFOUND, PD_ERR_IO, PD_ERR_PARSE,
 * PD_ERR_SIGNATURE (the certificate does not verify: expired, another
 * CA's, not for that use).  Any thread.
 */
enum pd_err nd_tls_check(const struct nd_tls_files *, bool server,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * A server context from the files (checked as nd_tls_check does).
 * Errors as nd_tls_check, and PD_ERR_CRYPTO, PD_ERR_NOMEM.  Free with
 * nd_tls_free after every connection using it is gone.
 */
enum pd_err nd_tls_server_new(const struct nd_tls_files *, struct nd_tls **,
	    struct pd_error *) PD_WARN_UNUSED;
void	nd_tls_free(struct nd_tls *);	/* NULL is a no-op */

/* A new server-side SSL for one connection (SSL_free), or NULL. */
SSL	*nd_tls_ssl_new(const struct nd_tls *);

/*
 * For evhttp_set_bevcb: an OpenSSL bufferevent accepting a handshake
 * (its socket set later by evhttp; the SSL and socket freed with it),
 * or NULL when out of memory.  Loop thread.  evhttp would make a plain
 * bufferevent of a NULL: the request handler must check nd_tls_peer
 * before it serves anything.
 */
struct bufferevent *nd_tls_bufferevent(const struct nd_tls *,
	    struct event_base *);

/*
 * The node name (certificate CN) of a peer whose certificate verified,
 * into out (at most ND_PEER_MAX bytes; bytes but letters, digits, '-',
 * '.' and '_' become '?'); false if the handshake is not done or the
 * peer has no verified certificate.  nd_tls_conn_peer does it for an
 * evhttp connection (false for one without TLS).
 */
bool	nd_tls_peer(const SSL *, char *out, size_t);
bool	nd_tls_conn_peer(struct evhttp_connection *, char *out, size_t);

#endif
