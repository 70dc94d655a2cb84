/*
 * dlopen of libssl and libevent_openssl, once.  Each field is checked
 * against the library's prototype (PD_DSO_SYM), so nothing refers to
 * either library at link time.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "../common/dso.h"
#include "sslso.h"

static struct nd_ssl		 api;
static atomic_bool		 loaded;

#define NSYM(s, f)	PD_DSO_SYM(struct nd_ssl, api, f, s)
#define SSYM(f)		NSYM(SSL_##f, f)
#define ESYM(f)		NSYM(bufferevent_openssl_##f, f)

static const struct pd_dso_sym ssl_syms[] = {
	SSYM(CTX_new), SSYM(CTX_free), SSYM(CTX_ctrl),
	SSYM(CTX_use_certificate), SSYM(CTX_use_PrivateKey),
	SSYM(CTX_check_private_key), SSYM(CTX_set_client_CA_list),
	SSYM(CTX_set_cert_store), SSYM(CTX_set_verify),
	SSYM(CTX_set_num_tickets), SSYM(CTX_set_options),
	SSYM(CTX_set_info_callback), SSYM(get_fd),
	SSYM(get_verify_result), SSYM(is_init_finished),
	SSYM(get0_peer_certificate),
	NSYM(SSL_new, ssl_new), NSYM(SSL_free, ssl_free),
	NSYM(TLS_server_method, server_method),
};

static const struct pd_dso_sym evssl_syms[] = {
	ESYM(socket_new), ESYM(get_ssl), ESYM(set_allow_dirty_shutdown),
};

/* libevent_openssl goes second: libssl is open by then. */
static enum pd_err
load_evssl(void *table, struct pd_error *err)
{
	static const struct pd_dso so = { "libevent_openssl",
	    ND_EVSSL_SONAME, "libevent-openssl-2.1-7",
	    "libevent 2.1 with OpenSSL", evssl_syms,
	    sizeof(evssl_syms) / sizeof(evssl_syms[0]) };

	return pd_dso_load(&so, table, err);
}

enum pd_err
nd_ssl_load(const struct nd_ssl **out, struct pd_error *err)
{
	static const struct pd_dso so = { "libssl", ND_SSL_SONAME, "libssl3",
	    "OpenSSL 3", ssl_syms, sizeof(ssl_syms) / sizeof(ssl_syms[0]) };
	static struct pd_dso_once once = PD_DSO_ONCE_INIT;
	enum pd_err rc;

	if ((rc = pd_dso_once(&once, &so, &api, load_evssl, err)) != PD_OK)
		return rc;
	atomic_store(&loaded, true);
	*out = &api;
	return PD_OK;
}

const struct nd_ssl *
nd_ssl_loaded(void)
{
	return atomic_load(&loaded) ? &api : NULL;
}
