/*
 * dlopen of libcurl, once.  The symbols are looked up by name into the
 * table through their offsets, so that a missing one (a libcurl older
 * than 7.66, which has no curl_multi_poll) is named in the error.
 */
#include <stddef.h>

#include "../common/dso.h"
#include "curlso.h"

static struct nd_curl		 api;
static struct pd_dso_once	 once = PD_DSO_ONCE_INIT;

#define SYM(f)	PD_DSO_SYM(struct nd_curl, api, f, curl_##f)

static const struct pd_dso_sym syms[] = {
	SYM(easy_init), SYM(easy_setopt), SYM(easy_getinfo),
	SYM(easy_pause), SYM(easy_cleanup), SYM(easy_strerror),
	SYM(multi_init), SYM(multi_setopt), SYM(multi_add_handle),
	SYM(multi_remove_handle), SYM(multi_perform), SYM(multi_poll),
	SYM(multi_info_read), SYM(multi_cleanup), SYM(multi_strerror),
	SYM(slist_append), SYM(slist_free_all), SYM(global_init),
};

static enum pd_err
global_init(void *table, struct pd_error *err)
{
	const struct nd_curl *t = table;

	if (t->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return pd_fail(err, PD_ERR_IO, "libcurl: curl_global_init "
		    "failed");
	return PD_OK;
}

enum pd_err
nd_curl_load(const struct nd_curl **out, struct pd_error *err)
{
	static const struct pd_dso so = { "libcurl", ND_CURL_SONAME,
	    "libcurl4", "libcurl 7.66 or later", syms,
	    sizeof(syms) / sizeof(syms[0]) };
	enum pd_err rc;

	if ((rc = pd_dso_once(&once, &so, &api, global_init, err)) == PD_OK)
		*out = &api;
	return rc;
}
