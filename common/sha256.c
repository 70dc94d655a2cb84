/*
 * SHA-256 over OpenSSL EVP.  The digest method is fetched once per context
 * rather than looked up by name on every init.  Making a context, or the
 * one-shot hash, opens libcrypto the first time (crypto.h); its errors
 * read as OpenSSL's would, NULL or PD_ERR_CRYPTO: the commands that hash
 * have opened it already, and reported what went wrong.
 */

#include "crypto.h"
#include "sha256.h"

struct pd_sha256 {
	EVP_MD_CTX	*ctx;
	EVP_MD		*md;
};

struct pd_sha256 *
pd_sha256_new(void)
{
	struct pd_sha256 *h;

	if (pd_crypto_load(NULL) != PD_OK)
		return NULL;
	if ((h = pd_cr.OPENSSL_zalloc(sizeof(*h))) == NULL)
		return NULL;
	if ((h->ctx = pd_cr.EVP_MD_CTX_new()) == NULL ||
	    (h->md = pd_cr.EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    pd_cr.EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1) {
		pd_sha256_free(h);
		return NULL;
	}
	return h;
}

void
pd_sha256_free(struct pd_sha256 *h)
{
	if (h == NULL)
		return;
	pd_cr.EVP_MD_CTX_free(h->ctx);
	pd_cr.EVP_MD_free(h->md);
	pd_cr.OPENSSL_free(h);
}

enum pd_err
pd_sha256_init(struct pd_sha256 *h)
{
	return pd_cr.EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 ? PD_OK :
	    PD_ERR_CRYPTO;
}

enum pd_err
pd_sha256_update(struct pd_sha256 *h, const void *p, size_t n)
{
	return pd_cr.EVP_DigestUpdate(h->ctx, p, n) == 1 ? PD_OK :
	    PD_ERR_CRYPTO;
}

enum pd_err
pd_sha256_final(struct pd_sha256 *h, unsigned char *out)
{
	unsigned int n = 0;

	if (pd_cr.EVP_DigestFinal_ex(h->ctx, out, &n) != 1 ||
	    n != PD_SHA256_LEN)
		return PD_ERR_CRYPTO;
	return PD_OK;
}

enum pd_err
pd_sha256(const void *p, size_t n, unsigned char *out)
{
	unsigned int len = 0;

	if (pd_crypto_load(NULL) != PD_OK)
		return PD_ERR_CRYPTO;
	if (pd_cr.EVP_Digest(p, n, out, &len, pd_cr.EVP_sha256(), NULL) != 1 ||
	    len != PD_SHA256_LEN)
		return PD_ERR_CRYPTO;
	return PD_OK;
}
