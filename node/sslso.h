/*
 * libssl and libevent_openssl, loaded when a node first makes a TLS
 * server (node/tls.h).
 *
 * Only a node that serves HTTPS needs them (a pull's TLS is libcurl's,
 * which brings its own), yet linked in they cost every start of
 * pulpdist about 1.2 ms of ld.so's work: a no-op pull is a few times
 * that in all.  So they are opened with dlopen, once per process, and
 * called through this table; the types and constants still come from
 * <openssl/ssl.h> and <event2/bufferevent_ssl.h>.  libcrypto, which
 * libssl needs, is opened the same way (common/crypto.h).
 */
#ifndef ND_SSLSO_H
#define ND_SSLSO_H

#include <stdint.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "../common/err.h"

/* The sonames of OpenSSL 3's libssl and libevent 2.1's TLS layer. */
#define ND_SSL_SONAME		"libssl.so.3"
#define ND_EVSSL_SONAME		"libevent_openssl-2.1.so.7"

/* SSL_<field>, then bufferevent_openssl_<field>. */
struct nd_ssl {
	SSL_CTX		*(*CTX_new)(const SSL_METHOD *);
	void		 (*CTX_free)(SSL_CTX *);
	long		 (*CTX_ctrl)(SSL_CTX *, int, long, void *);
	int		 (*CTX_use_certificate)(SSL_CTX *, X509 *);
	int		 (*CTX_use_PrivateKey)(SSL_CTX *, EVP_PKEY *);
	int		 (*CTX_check_private_key)(const SSL_CTX *);
	void		 (*CTX_set_client_CA_list)(SSL_CTX *,
			    STACK_OF(X509_NAME) *);
	void		 (*CTX_set_cert_store)(SSL_CTX *, X509_STORE *);
	void		 (*CTX_set_verify)(SSL_CTX *, int, SSL_verify_cb);
	int		 (*CTX_set_num_tickets)(SSL_CTX *, size_t);
	uint64_t	 (*CTX_set_options)(SSL_CTX *, uint64_t);
	void		 (*CTX_set_info_callback)(SSL_CTX *,
			    void (*)(const SSL *, int, int));
	SSL		*(*ssl_new)(SSL_CTX *);	/* SSL_new */
	void		 (*ssl_free)(SSL *);		/* SSL_free */
	int		 (*get_fd)(const SSL *);
	long		 (*get_verify_result)(const SSL *);
	int		 (*is_init_finished)(const SSL *);
	X509		*(*get0_peer_certificate)(const SSL *);
	const SSL_METHOD *(*server_method)(void);	/* TLS_server_method */

	struct bufferevent *(*socket_new)(struct event_base *,
			    evutil_socket_t, SSL *, enum bufferevent_ssl_state,
			    int);
	SSL		*(*get_ssl)(struct bufferevent *);
	void		 (*set_allow_dirty_shutdown)(struct bufferevent *, int);
};

/*
 * The table, both libraries opened the first time in the process,
 * whichever thread asks; the same answer, table or error, every time
 * after.  Errors (PD_ERR_IO) name the library and its Debian package.
 */
enum pd_err nd_ssl_load(const struct nd_ssl **, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * The table if nd_ssl_load succeeded before, else NULL: then no TLS
 * server, nor any connection of one, exists in the process.
 */
const struct nd_ssl *nd_ssl_loaded(void);

#endif
