/*
 * SHA-256 over OpenSSL EVP.  The digest method is fetched once per context
 * rather than looked up by name on every init.
 */
#include <openssl/evp.h>

#include "sha256.h"

struct pd_sha256 {
	EVP_MD_CTX	*ctx;
	EVP_MD		*md;
};

struct pd_sha256 *
pd_sha256_new(void)
{
	struct pd_sha256 *h;

	if ((h = OPENSSL_zalloc(sizeof(*h))) == NULL)
		return NULL;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL ||
	    (h->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1) {
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
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	OPENSSL_free(h);
}

enum pd_err
pd_sha256_init(struct pd_sha256 *h)
{
	return EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 ? PD_OK :
	    PD_ERR_CRYPTO;
}

enum pd_err
pd_sha256_update(struct pd_sha256 *h, const void *p, size_t n)
{
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? PD_OK : PD_ERR_CRYPTO;
}

enum pd_err
pd_sha256_final(struct pd_sha256 *h, unsigned char *out)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != PD_SHA256_LEN)
		return PD_ERR_CRYPTO;
	return PD_OK;
}

enum pd_err
pd_sha256(const void *p, size_t n, unsigned char *out)
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != PD_SHA256_LEN)
		return PD_ERR_CRYPTO;
	return PD_OK;
}
