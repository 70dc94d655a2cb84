/*
 * dlopen of libcrypto, once (crypto.h).  The fast path is one atomic
 * load: SHA-256 contexts are made for every file a pull checks.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "crypto.h"
#include "dso.h"

struct pd_crypto		 pd_cr;
static atomic_bool		 ready;

#define PD_CRYPTO_SYM(f)	PD_DSO_SYM(struct pd_crypto, pd_cr, f, f),

static const struct pd_dso_sym syms[] = {
	PD_CRYPTO_FNS(PD_CRYPTO_SYM)
};

enum pd_err
pd_crypto_load(struct pd_error *err)
{
	static const struct pd_dso so = { "libcrypto", PD_CRYPTO_SONAME,
	    "libssl3", "OpenSSL 3", syms, sizeof(syms) / sizeof(syms[0]) };
	static struct pd_dso_once once = PD_DSO_ONCE_INIT;
	enum pd_err rc;

	if (atomic_load_explicit(&ready, memory_order_acquire))
		return PD_OK;
	if ((rc = pd_dso_once(&once, &so, &pd_cr, NULL, err)) != PD_OK)
		return rc;
	atomic_store_explicit(&ready, true, memory_order_release);
	return PD_OK;
}
