/*
 * libcurl, loaded the first time a transfer starts.
 *
 * Linked in, libcurl and the 33 libraries it brings (gnutls, LDAP,
 * Kerberos, ...) cost every start of pulpdist about 18 ms of ld.so's
 * relocations, though most commands never transfer anything, and a
 * pull that finds its mirror current needs one small GET (fetch.h says
 * how that one goes without libcurl).  So libcurl is opened with
 * dlopen, once per process, and its functions are called through this
 * table; the types still come from <curl/curl.h>.
 */
#ifndef ND_CURLSO_H
#define ND_CURLSO_H

#include <curl/curl.h>

#include "../common/err.h"

/* The soname of libcurl 7.x and 8.x. */
#define ND_CURL_SONAME	"libcurl.so.4"

struct nd_curl {
	CURL		*(*easy_init)(void);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode	 (*easy_pause)(CURL *, int);
	void		 (*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	CURLM		*(*multi_init)(void);
	CURLMcode	 (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	 (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_perform)(CURLM *, int *);
	CURLMcode	 (*multi_poll)(CURLM *, struct curl_waitfd [],
			    unsigned, int, int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	CURLMcode	 (*multi_cleanup)(CURLM *);
	const char	*(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
	CURLcode	 (*global_init)(long);	/* nd_curl_load calls it */
};

/*
 * The table, libcurl opened and initialised (curl_global_init) the
 * first time in the process, whichever thread asks; the same answer,
 * table or error, every time after.  The table stays valid until exit.
 */
enum pd_err nd_curl_load(const struct nd_curl **, struct pd_error *)
	    PD_WARN_UNUSED;

#endif
