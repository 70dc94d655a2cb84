/*
 * Ed25519 keys over OpenSSL 3's EVP_PKEY.  The raw public key and its id
 * are computed once when the key is made, so callers never ask OpenSSL.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string.h>

#include "../common/buf.h"
#include "../common/fsx.h"
#include "../common/mem.h"
#include "../common/sha256.h"
#include "limits.h"
#include "sign.h"

struct pr_key {
	EVP_PKEY	*pkey;
	bool		 priv;
	unsigned char	 pub[PR_PUBKEY_LEN];
	unsigned char	 id[PR_KEYID_LEN];
};

static enum pd_err
wrap(EVP_PKEY *pkey, bool priv, struct pr_key **out, struct pd_error *err)
{
	unsigned char digest[PD_SHA256_LEN];
	struct pr_key *k;
	size_t len = PR_PUBKEY_LEN;

	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return pd_fail(err, PD_ERR_CRYPTO, "not an Ed25519 key");
	}
	if ((k = pd_calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return pd_fail(err, PD_ERR_NOMEM, "key");
	}
	k->pkey = pkey;
	k->priv = priv;
	if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 ||
	    len != PR_PUBKEY_LEN || pd_sha256(k->pub, len, digest) != PD_OK) {
		pr_key_free(k);
		return pd_fail(err, PD_ERR_CRYPTO, "reading public key");
	}
	memcpy(k->id, digest, PR_KEYID_LEN);
	*out = k;
	return PD_OK;
}

enum pd_err
pr_key_generate(struct pr_key **out, struct pd_error *err)
{
	EVP_PKEY *pkey;

	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		return pd_fail(err, PD_ERR_CRYPTO, "generating Ed25519 key");
	return wrap(pkey, true, out, err);
}

enum pd_err
pr_key_load(const char *path, struct pr_key **out, struct pd_error *err)
{
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
	if ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "%s", path);
		goto out;
	}
	pkey = priv ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (pkey == NULL) {
		rc = pd_fail(err, PD_ERR_PARSE,
		    "%s: not a PEM Ed25519 %s key", path,
		    priv ? "private" : "public");
		goto out;
	}
	if ((rc = wrap(pkey, priv, out, err)) != PD_OK)
		pd_fail(err, rc, "%s", path);
out:
	BIO_free(bio);
	/* The buffer may have held a private key. */
	if (b.data)
		OPENSSL_cleanse(b.data, b.size);
	pd_buf_free(&b);
	return rc;
}

enum pd_err
pr_key_from_public(const unsigned char *raw, struct pr_key **out,
    struct pd_error *err)
{
	EVP_PKEY *pkey;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
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
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", path);
	ok = priv ? PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_bio_PUBKEY(bio, k->pkey);
	if (!ok || (n = BIO_get_mem_data(bio, &p)) <= 0) {
		BIO_free(bio);
		return pd_fail(err, PD_ERR_CRYPTO, "%s: encoding key", path);
	}
	rc = pd_write_file(path, p, (size_t)n, priv ? 0600 : 0644,
	    PD_WRITE_EXCL, err);
	OPENSSL_cleanse(p, (size_t)n);
	BIO_free(bio);
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

void
pr_key_id(const struct pr_key *k, unsigned char *id)
{
	memcpy(id, k->id, PR_KEYID_LEN);
}

void
pr_key_free(struct pr_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
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
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "signing");
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, n) != 1 ||
	    siglen != PR_SIG_LEN)
		rc = pd_fail(err, PD_ERR_CRYPTO, "Ed25519 signing failed");
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum pd_err
pr_verify(const struct pr_key *k, const void *msg, size_t n,
    const unsigned char *sig, struct pd_error *err)
{
	EVP_MD_CTX *ctx;
	enum pd_err rc = PD_OK;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "verifying");
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1)
		rc = pd_fail(err, PD_ERR_CRYPTO, "Ed25519 verify init failed");
	else if (EVP_DigestVerify(ctx, sig, PR_SIG_LEN, msg, n) != 1)
		rc = pd_fail(err, PD_ERR_SIGNATURE, "signature does not match "
		    "key");
	EVP_MD_CTX_free(ctx);
	return rc;
}
