/*
 * The deployment CA (DESIGN.md, "Wire"): one private key and a
 * self-signed CA certificate in a directory, from which every node gets
 * a key and a certificate that serves both as its TLS server
 * certificate and as its client certificate towards other nodes.
 *
 * Keys are ECDSA P-256, certificates signed with SHA-256: what every
 * TLS 1.2 and 1.3 stack (OpenSSL 3.0 under libcurl 7.88 and libevent,
 * browsers for the admin's pages) accepts for client authentication.
 * Private keys are written mode 0600 and no file is ever overwritten.
 * Library code: nothing printed; callable from any thread.
 *
 * Layout of DIR: ca.key, ca.crt; NAME.key, NAME.crt per issued node.
 */
#ifndef ND_TLS_CA_H
#define ND_TLS_CA_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define ND_CA_DAYS		3650	/* the CA certificate's validity */
#define ND_CA_CERT_DAYS		825	/* a node certificate's, default */
#define ND_CA_DAYS_MAX		36500
/* Certificates start this long before now: a peer whose clock is a
 * little behind still accepts them. */
#define ND_CA_BACKDATE		3600
#define ND_CA_NAME_MAX		64	/* bytes of a node name */
#define ND_CA_HOST_MAX		253	/* bytes of a DNS name */
#define ND_CA_HOSTS_MAX		16	/* --host given to one certificate */

/* What a node certificate says. */
struct nd_ca_cert_opts {
	const char	*name;		/* node name: CN, first DNS name and
					 * file name */
	const char *const *hosts;	/* further DNS names or IP addresses
					 * (v4 or v6), nhosts of them */
	size_t		 nhosts;
	unsigned	 days;		/* validity; 0: ND_CA_CERT_DAYS */
	int64_t		 not_before;	/* seconds since the epoch; 0: now
					 * less ND_CA_BACKDATE */
};

/*
 * Make a CA in dir (created mode 0700 if missing): ca.key (0600) and
 * ca.crt, valid ND_CA_DAYS.  PD_ERR_EXISTS if either file is there
 * (nothing is written then); PD_ERR_IO naming the path; PD_ERR_CRYPTO.
 * On failure nothing is left behind.
 */
enum pd_err nd_ca_init(const char *dir, struct pd_error *) PD_WARN_UNUSED;

/*
 * Issue a key and certificate for a node from the CA in dir: NAME.key
 * (0600) and NAME.crt, with CN=NAME, subjectAltName DNS:NAME and each
 * host (as IP: when it parses as an address), extendedKeyUsage
 * serverAuth and clientAuth, a random 127-bit serial.  PD_ERR_USAGE for
 * a bad name, host or validity (nothing written), PD_ERR_EXISTS if a
 * file of that name is there, PD_ERR_NOTFOUND or PD_ERR_PARSE for a
 * missing or unreadable CA, PD_ERR_IO, PD_ERR_CRYPTO.  On failure
 * nothing is left behind.  *not_after (if not NULL) is set to the
 * certificate's end of validity.
 */
enum pd_err nd_ca_issue(const char *dir, const struct nd_ca_cert_opts *,
	    int64_t *not_after, struct pd_error *) PD_WARN_UNUSED;

/* NULL if s is a good node name, else why not. */
const char *nd_ca_name_check(const char *s);

#endif
