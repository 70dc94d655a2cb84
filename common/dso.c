/*
 * dlopen and dlsym into a table of function pointers.
 */
#include <dlfcn.h>
#include <string.h>

#include "dso.h"

/* POSIX: dlsym's void * holds a function's address. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
    "function pointers are as wide as object pointers");

enum pd_err
pd_dso_load(const struct pd_dso *d, void *table, struct pd_error *err)
{
	const char *why;
	void *h, *p;
	size_t i;

	if ((h = dlopen(d->soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		return pd_fail(err, PD_ERR_IO, "cannot load %s (%s): %s; "
		    "Debian's package is %s", d->name, d->soname,
		    why ? why : "unknown error", d->pkg);
	}
	for (i = 0; i < d->nsyms; i++) {
		if ((p = dlsym(h, d->syms[i].name)) == NULL)
			return pd_fail(err, PD_ERR_IO, "%s has no %s: %s is "
			    "needed", d->soname, d->syms[i].name, d->need);
		memcpy((char *)table + d->syms[i].off, &p, sizeof(p));
	}
	return PD_OK;
}

enum pd_err
pd_dso_once(struct pd_dso_once *o, const struct pd_dso *d, void *table,
    enum pd_err (*init)(void *, struct pd_error *), struct pd_error *err)
{
	enum pd_err rc;

	pthread_mutex_lock(&o->mu);
	if (!o->tried) {
		o->tried = true;
		if (pd_dso_load(d, table, &o->err) == PD_OK && init != NULL)
			(void)init(table, &o->err);
	}
	rc = o->err.code;
	if (rc != PD_OK)
		(void)pd_fail(err, rc, "%s", o->err.msg);
	pthread_mutex_unlock(&o->mu);
	return rc;
}
