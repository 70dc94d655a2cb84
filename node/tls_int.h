/*
 * Between tls.c and tls_ca.c: reading PEM files with a cap and turning
 * OpenSSL's error queue into one pd_error sentence.
 *
 * OpenSSL keeps its errors per thread.  Whatever fails here drains the
 * calling thread's queue, so that a stale entry can never be mistaken
 * for the failure of a later, unrelated TLS call on the same thread
 * (libevent's bufferevents read the queue after SSL_read/SSL_write).
 */
#ifndef ND_TLS_INT_H
#define ND_TLS_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../common/err.h"

#define ND_TLS_FILE_MAX	(256 * 1024)	/* bytes of a PEM file */

/*
 * pd_fail with ": " and the reason of OpenSSL's most recent error (if
 * any) appended; empties the thread's error queue.
 */
enum pd_err nd_ssl_fail(struct pd_error *, enum pd_err, const char *fmt,
	    ...) PD_PRINTF(3, 4);

/* The private key in a PEM file; *out is the caller's. */
enum pd_err nd_pem_key(const char *path, EVP_PKEY **out, struct pd_error *)
	    PD_WARN_UNUSED;
/* Every certificate of a PEM file (at least one); *out is the caller's
 * (sk_X509_pop_free(.., X509_free)). */
enum pd_err nd_pem_certs(const char *path, STACK_OF(X509) **out,
	    struct pd_error *) PD_WARN_UNUSED;

#endif
