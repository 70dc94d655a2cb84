/*
 * dlopen of libcurl, once.  The symbols are looked up by name into the
 * table through their offsets, so that a missing one (a libcurl older
 * than 7.66, which has no curl_multi_poll) is named in the error.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "../common/dso.h"
#include "curlso.h"

#define SYM(field)	{ "curl_" #field, offsetof(struct nd_curl, field) }

static const struct pd_dso_sym syms[] = {
	SYM(easy_init), SYM(easy_setopt), SYM(easy_getinfo),
	SYM(easy_pause), SYM(easy_cleanup), SYM(easy_strerror),
	SYM(multi_init), SYM(multi_setopt), SYM(multi_add_handle),
	SYM(multi_remove_handle), SYM(multi_perform), SYM(multi_poll),
	SYM(multi_info_read), SYM(multi_cleanup), SYM(multi_strerror),
	SYM(slist_append), SYM(slist_free_all), SYM(global_init),
};

static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static struct nd_curl	 api;
static struct pd_error	 load_err;	/* PD_OK: api is whole */

static void
load(void)
{
	static const struct pd_dso so = { "libcurl", ND_CURL_SONAME,
	    "libcurl4", "libcurl 7.66 or later", syms,
	    sizeof(syms) / sizeof(syms[0]) };

	if (pd_dso_load(&so, &api, &load_err) != PD_OK)
		return;
	if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		pd_fail(&load_err, PD_ERR_IO, "libcurl: curl_global_init "
		    "failed");
}

enum pd_err
nd_curl_load(const struct nd_curl **out, struct pd_error *err)
{
	pthread_once(&once, load);
	if (load_err.code != PD_OK)
		return pd_fail(err, load_err.code, "%s", load_err.msg);
	*out = &api;
	return PD_OK;
}
