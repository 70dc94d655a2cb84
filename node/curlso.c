/*
 * dlopen of libcurl, once.  The symbols are looked up by name into the
 * table through their offsets, so that a missing one (a libcurl older
 * than 7.66, which has no curl_multi_poll) is named in the error.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "curlso.h"

/* POSIX: dlsym's void * holds a function's address. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
    "function pointers are as wide as object pointers");

#define SYM(field)	{ "curl_" #field, offsetof(struct nd_curl, field) }

static const struct {
	const char	*name;
	size_t		 off;
} syms[] = {
	SYM(easy_init), SYM(easy_setopt), SYM(easy_getinfo),
	SYM(easy_pause), SYM(easy_cleanup), SYM(easy_strerror),
	SYM(multi_init), SYM(multi_setopt), SYM(multi_add_handle),
	SYM(multi_remove_handle), SYM(multi_perform), SYM(multi_poll),
	SYM(multi_info_read), SYM(multi_cleanup), SYM(multi_strerror),
	SYM(slist_append), SYM(slist_free_all),
};

static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static struct nd_curl	 api;
static struct pd_error	 load_err;	/* PD_OK: api is whole */

static void
load(void)
{
	CURLcode (*global_init)(long);
	const char *why;
	void *h, *p;
	size_t i;

	if ((h = dlopen(ND_CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		pd_fail(&load_err, PD_ERR_IO, "cannot load libcurl (%s): %s; "
		    "Debian's package is libcurl4", ND_CURL_SONAME,
		    why ? why : "unknown error");
		return;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if ((p = dlsym(h, syms[i].name)) == NULL) {
			pd_fail(&load_err, PD_ERR_IO, "%s has no %s: "
			    "libcurl 7.66 or later is needed", ND_CURL_SONAME,
			    syms[i].name);
			return;
		}
		memcpy((char *)&api + syms[i].off, &p, sizeof(p));
	}
	if ((p = dlsym(h, "curl_global_init")) == NULL) {
		pd_fail(&load_err, PD_ERR_IO, "%s has no curl_global_init",
		    ND_CURL_SONAME);
		return;
	}
	memcpy(&global_init, &p, sizeof(p));
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		pd_fail(&load_err, PD_ERR_IO, "libcurl: curl_global_init "
		    "failed");
	/* The handle is never closed: the table points into it. */
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
