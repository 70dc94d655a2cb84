/*
 * Ed25519 keys and signatures (OpenSSL).
 *
 * A tree's origin holds a private key; every node holds the public key as
 * the tree's trust root.  Key files are PEM, as OpenSSL writes them
 * (PKCS#8 "PRIVATE KEY", SubjectPublicKeyInfo "PUBLIC KEY"), so
 * `openssl pkey` can read them.  A key id is the first 8 bytes of the
 * SHA-256 of the raw 32-byte public key.
 *
 * The private key is touched only here: pr_sign() is the one place that
 * signs, so code that faces the network never needs to open a key file.
 *
 * A key may be shared by threads once made: every function here that
 * takes a const key is safe to call concurrently.  pr_key_free() must not
 * race with any of them.
 */
#ifndef PR_SIGN_H
#define PR_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"

#define PR_PUBKEY_LEN	32
#define PR_SIG_LEN	64
#define PR_KEYID_LEN	8

struct pr_key;

enum pd_err pr_key_generate(struct pr_key **, struct pd_error *)
	    PD_WARN_UNUSED;
/* Load a PEM private or public key file; errors name the path. */
enum pd_err pr_key_load(const char *path, struct pr_key **, struct pd_error *)
	    PD_WARN_UNUSED;
/* A public-only key from its raw 32 bytes. */
enum pd_err pr_key_from_public(const unsigned char *raw, struct pr_key **,
	    struct pd_error *) PD_WARN_UNUSED;
/*
 * Write the private key (mode 0600) or the public key (0644) to a new
 * file; an existing file is never overwritten (PD_ERR_EXISTS).
 */
enum pd_err pr_key_write_private(const struct pr_key *, const char *path,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err pr_key_write_public(const struct pr_key *, const char *path,
	    struct pd_error *) PD_WARN_UNUSED;
bool	pr_key_has_private(const struct pr_key *);
/* The raw 32 bytes; never touches OpenSSL. */
void	pr_key_public(const struct pr_key *, unsigned char *raw);
/*
 * The PR_KEYID_LEN-byte key id.  A public key read from a file computes
 * it (and its OpenSSL key) on first use, so this can fail: PD_ERR_CRYPTO
 * or PD_ERR_NOMEM.
 */
enum pd_err pr_key_id(const struct pr_key *, unsigned char *id,
	    struct pd_error *) PD_WARN_UNUSED;
void	pr_key_free(struct pr_key *);

/* Sign n bytes; the key must hold the private half. */
enum pd_err pr_sign(const struct pr_key *, const void *, size_t,
	    unsigned char *sig, struct pd_error *) PD_WARN_UNUSED;
/* PD_OK if sig is a valid signature of the bytes, else PD_ERR_SIGNATURE. */
enum pd_err pr_verify(const struct pr_key *, const void *, size_t,
	    const unsigned char *sig, struct pd_error *) PD_WARN_UNUSED;

#endif
