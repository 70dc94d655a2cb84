/*
 * Ed25519 keys over OpenSSL 3's EVP_PKEY.  The raw public key is kept as
 * bytes; a public key read from a file gets its EVP_PKEY and id only when
 * first needed, because opening libcrypto (common/crypto.h) and its first
 * call, which loads its providers and configuration, cost a few ms each,
 * and a no-op pull only compares the raw key with the one the catalog
 * holds.  Every path that reaches an OpenSSL call loads libcrypto first;
 * a key with a pkey proves it was.
 */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/crypto.h"
#include "../common/fsx.h"
#include "../common/mem.h"
#include "../common/sha256.h"
#include "limits.h"
#include "sign.h"

struct pr_key {
	pthread_mutex_t	 mu;		/* guards pkey and has_id */
	EVP_PKEY	*pkey;		/* NULL until ready() */
	bool		 priv;		/* pkey holds the private half */
	bool		 has_id;	/* id is set */
	unsigned char	 pub[PR_PUBKEY_LEN];
	unsigned char	 id[PR_KEYID_LEN];
};

/*
 * A public key PEM exactly as OpenSSL writes an Ed25519 one: the base64 of
 * the DER SubjectPublicKeyInfo (RFC 8410), these 12 bytes and the raw key,
 * on one line.  Anything else goes to OpenSSL's reader.
 */
static const char pem_begin[] = "-----BEGIN PUBLIC KEY-----\n";
static const char pem_end[] = "\n-----END PUBLIC KEY-----\n";
static const unsigned char spki_ed25519[] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
};
#define SPKI_LEN	(sizeof(spki_ed25519) + PR_PUBKEY_LEN)
#define SPKI_B64_LEN	((SPKI_LEN + 2) / 3 * 4)

static struct pr_key *
key_new(void)
{
	struct pr_key *k;

	if ((k = pd_calloc(1, sizeof(*k))) == NULL)
		return NULL;
	if (pthread_mutex_init(&k->mu, NULL) != 0) {
		pd_free(k);
		return NULL;
	}
	return k;
}

/*
 * Make what a key read by read_pem_ed25519() lacks, and any key's id.
 * The key is const to its users and may be shared by threads, hence the
 * cast and the lock.
 */
static enum pd_err
ready(const struct pr_key *ck, struct pd_error *err)
{
	struct pr_key *k = (struct pr_key *)ck;
	unsigned char digest[PD_SHA256_LEN];
	enum pd_err rc = PD_OK;

	if ((rc = pd_crypto_load(err)) != PD_OK)
		return rc;
	pthread_mutex_lock(&k->mu);
	if (k->pkey == NULL && (k->pkey = pd_cr.EVP_PKEY_new_raw_public_key(
	    EVP_PKEY_ED25519, NULL, k->pub, PR_PUBKEY_LEN)) == NULL) {
		rc = pd_fail(err, PD_ERR_CRYPTO, "making Ed25519 public key");
		goto out;
	}
	if (!k->has_id) {
		if ((rc = pd_sha256(k->pub, PR_PUBKEY_LEN, digest)) != PD_OK) {
			rc = pd_fail(err, rc, "hashing public key");
			goto out;
		}
		memcpy(k->id, digest, PR_KEYID_LEN);
		k->has_id = true;
	}
out:
	pthread_mutex_unlock(&k->mu);
	return rc;
}

static enum pd_err
wrap(EVP_PKEY *pkey, bool priv, struct pr_key **out, struct pd_error *err)
{
	struct pr_key *k;
	size_t len = PR_PUBKEY_LEN;
	enum pd_err rc;

	if (pd_cr.EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		pd_cr.EVP_PKEY_free(pkey);
		return pd_fail(err, PD_ERR_CRYPTO, "not an Ed25519 key");
	}
	if ((k = key_new()) == NULL) {
		pd_cr.EVP_PKEY_free(pkey);
		return pd_fail(err, PD_ERR_NOMEM, "key");
	}
	k->pkey = pkey;
	k->priv = priv;
	if (pd_cr.EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 ||
	    len != PR_PUBKEY_LEN) {
		pr_key_free(k);
		return pd_fail(err, PD_ERR_CRYPTO, "reading public key");
	}
	/* OpenSSL is started already: the id costs nothing to make now. */
	if ((rc = ready(k, err)) != PD_OK) {
		pr_key_free(k);
		return rc;
	}
	*out = k;
	return PD_OK;
}

/* A base64 digit's value, -1 for anything else. */
static int
b64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == '/' ? 63 : -1;
}

/*
 * The SPKI_LEN bytes of SPKI_B64_LEN base64 characters ending in the one
 * '=' that SPKI_LEN bytes need; false for anything else, including unused
 * bits that are not zero (no other text encodes the same bytes).
 */
static bool
b64_spki(const char *in, unsigned char *out)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int v;

	_Static_assert(SPKI_LEN % 3 == 2, "one '=' of padding");
	if (in[SPKI_B64_LEN - 1] != '=')
		return false;
	for (i = 0; i < SPKI_B64_LEN - 1; i++) {
		if ((v = b64_digit(in[i])) < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* Three digits left: 18 bits, of which 2 are padding. */
	if ((acc & 3) != 0)
		return false;
	out[o++] = (unsigned char)(acc >> 10);
	out[o++] = (unsigned char)(acc >> 2);
	return o == SPKI_LEN;
}

/*
 * The raw key of a file that is exactly an Ed25519 public key as OpenSSL
 * writes it, without initialising OpenSSL; false for any other file.
 * Whatever is accepted here OpenSSL reads to the same key.
 */
static bool
read_pem_ed25519(const char *p, size_t n, unsigned char *pub)
{
	unsigned char der[SPKI_LEN];
	const size_t nb = sizeof(pem_begin) - 1, ne = sizeof(pem_end) - 1;
	const char *b64 = p + nb;

	if (n != nb + SPKI_B64_LEN + ne || memcmp(p, pem_begin, nb) != 0 ||
	    memcmp(b64 + SPKI_B64_LEN, pem_end, ne) != 0)
		return false;
	if (!b64_spki(b64, der) ||
	    memcmp(der, spki_ed25519, sizeof(spki_ed25519)) != 0)
		return false;
	memcpy(pub, der + sizeof(spki_ed25519), PR_PUBKEY_LEN);
	return true;
}

enum pd_err
pr_key_generate(struct pr_key **out, struct pd_error *err)
{
	EVP_PKEY *pkey;
	enum pd_err rc;

	if ((rc = pd_crypto_load(err)) != PD_OK)
		return rc;
	if ((pkey = pd_cr.EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		return pd_fail(err, PD_ERR_CRYPTO, "generating Ed25519 key");
	return wrap(pkey, true, out, err);
}

enum pd_err
pr_key_load(const char *path, struct pr_key **out, struct pd_error *err)
{
	unsigned char pub[PR_PUBKEY_LEN];
	struct pd_buf b;
	EVP_PKEY *pkey = NULL;
	enum pd_err rc;
	bool priv;
	BIO *bio = NULL;

	pd_buf_init(&b, PR_KEY_FILE_MAX);
	if ((rc = pd_read_file(path, PR_KEY_FILE_MAX, &b, err)) != PD_OK)
		goto out;
	if (b.len == 0) {
		rc = pd_fail(err, PD_ERR_PARSE, "%s: empty key file", path);
		goto out;
	}
	priv = strstr((char *)b.data, "PRIVATE KEY-----") != NULL;
	/* The common case needs no OpenSSL; ready() does the rest later. */
	if (!priv && read_pem_ed25519((char *)b.data, b.len, pub)) {
		if ((*out = key_new()) == NULL) {
			rc = pd_fail(err, PD_ERR_NOMEM, "%s", path);
			goto out;
		}
		memcpy((*out)->pub, pub, PR_PUBKEY_LEN);
		goto out;
	}
	if ((rc = pd_crypto_load(err)) != PD_OK)
		goto out;
	if ((bio = pd_cr.BIO_new_mem_buf(b.data, (int)b.len)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "%s", path);
		goto out;
	}
	pkey = priv ? pd_cr.PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    pd_cr.PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (pkey == NULL) {
		rc = pd_fail(err, PD_ERR_PARSE,
		    "%s: not a PEM Ed25519 %s key", path,
		    priv ? "private" : "public");
		goto out;
	}
	if ((rc = wrap(pkey, priv, out, err)) != PD_OK)
		pd_prefix(err, "%s", path);
out:
	if (bio != NULL)
		pd_cr.BIO_free(bio);
	/* The buffer may have held a private key. */
	if (b.data)
		explicit_bzero(b.data, b.size);
	pd_buf_free(&b);
	return rc;
}

enum pd_err
pr_key_from_public(const unsigned char *raw, struct pr_key **out,
    struct pd_error *err)
{
	EVP_PKEY *pkey;
	enum pd_err rc;

	if ((rc = pd_crypto_load(err)) != PD_OK)
		return rc;
	pkey = pd_cr.EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
	    PR_PUBKEY_LEN);
	if (pkey == NULL)
		return pd_fail(err, PD_ERR_CRYPTO, "bad Ed25519 public key");
	return wrap(pkey, false, out, err);
}

static enum pd_err
write_pem(const struct pr_key *k, bool priv, const char *path,
    struct pd_error *err)
{
	BIO *bio;
	char *p;
	long n;
	enum pd_err rc;
	int ok;

	if (priv && !k->priv)
		return pd_fail(err, PD_ERR_USAGE, "%s: no private key", path);
	if ((rc = ready(k, err)) != PD_OK)
		return rc;
	if ((bio = pd_cr.BIO_new(pd_cr.BIO_s_mem())) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", path);
	ok = priv ? pd_cr.PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0,
	    NULL, NULL) : pd_cr.PEM_write_bio_PUBKEY(bio, k->pkey);
	if (!ok || (n = pd_cr.BIO_get_mem_data(bio, &p)) <= 0) {
		pd_cr.BIO_free(bio);
		return pd_fail(err, PD_ERR_CRYPTO, "%s: encoding key", path);
	}
	rc = pd_write_file(path, p, (size_t)n, priv ? 0600 : 0644,
	    PD_WRITE_EXCL, err);
	pd_cr.OPENSSL_cleanse(p, (size_t)n);
	pd_cr.BIO_free(bio);
	return rc;
}

enum pd_err
pr_key_write_private(const struct pr_key *k, const char *path,
    struct pd_error *err)
{
	return write_pem(k, true, path, err);
}

enum pd_err
pr_key_write_public(const struct pr_key *k, const char *path,
    struct pd_error *err)
{
	return write_pem(k, false, path, err);
}

bool
pr_key_has_private(const struct pr_key *k)
{
	return k->priv;
}

void
pr_key_public(const struct pr_key *k, unsigned char *raw)
{
	memcpy(raw, k->pub, PR_PUBKEY_LEN);
}

enum pd_err
pr_key_id(const struct pr_key *k, unsigned char *id, struct pd_error *err)
{
	enum pd_err rc;

	if ((rc = ready(k, err)) != PD_OK)
		return rc;
	memcpy(id, k->id, PR_KEYID_LEN);
	return PD_OK;
}

void
pr_key_free(struct pr_key *k)
{
	if (k == NULL)
		return;
	if (k->pkey != NULL)
		pd_cr.EVP_PKEY_free(k->pkey);
	pthread_mutex_destroy(&k->mu);
	pd_free(k);
}

enum pd_err
pr_sign(const struct pr_key *k, const void *msg, size_t n,
    unsigned char *sig, struct pd_error *err)
{
	EVP_MD_CTX *ctx;
	size_t siglen = PR_SIG_LEN;
	enum pd_err rc = PD_OK;

	if (!k->priv)
		return pd_fail(err, PD_ERR_USAGE,
		    "signing needs a private key");
	if ((ctx = pd_cr.EVP_MD_CTX_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "signing");
	if (pd_cr.EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    pd_cr.EVP_DigestSign(ctx, sig, &siglen, msg, n) != 1 ||
	    siglen != PR_SIG_LEN)
		rc = pd_fail(err, PD_ERR_CRYPTO, "Ed25519 signing failed");
	pd_cr.EVP_MD_CTX_free(ctx);
	return rc;
}

enum pd_err
pr_verify(const struct pr_key *k, const void *msg, size_t n,
    const unsigned char *sig, struct pd_error *err)
{
	EVP_MD_CTX *ctx;
	enum pd_err rc;

	if ((rc = ready(k, err)) != PD_OK)
		return rc;
	if ((ctx = pd_cr.EVP_MD_CTX_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "verifying");
	if (pd_cr.EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1)
		rc = pd_fail(err, PD_ERR_CRYPTO, "Ed25519 verify init failed");
	else if (pd_cr.EVP_DigestVerify(ctx, sig, PR_SIG_LEN, msg, n) != 1)
		rc = pd_fail(err, PD_ERR_SIGNATURE, "signature does not match "
		    "key");
	pd_cr.EVP_MD_CTX_free(ctx);
	return rc;
}
