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
