/*
 * Error codes and the first-failure-wins error text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static const char *const names[] = {
	[PD_OK] = "success",
	[PD_ERR_NOMEM] = "out of memory",
	[PD_ERR_IO] = "I/O error",
	[PD_ERR_USAGE] = "usage error",
	[PD_ERR_PARSE] = "parse error",
	[PD_ERR_LIMIT] = "limit exceeded",
	[PD_ERR_NOTFOUND] = "not found",
	[PD_ERR_EXISTS] = "already exists",
	[PD_ERR_SIGNATURE] = "bad signature",
	[PD_ERR_CORRUPT] = "corrupt data",
	[PD_ERR_DB] = "catalog error",
	[PD_ERR_CHANGED] = "source changed while read",
	[PD_ERR_CRYPTO] = "cryptography error",
	[PD_ERR_CONFLICT] = "conflict",
	[PD_ERR_UNSAFE] = "unsafe path",
};

const char *
pd_strerror(enum pd_err code)
{
	if ((size_t)code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown error";
}

static void
vset(struct pd_error *err, enum pd_err code, int errnum, const char *fmt,
    va_list ap)
{
	int n;

	if (err == NULL || err->code != PD_OK)
		return;
	err->code = code;
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0) {
		err->msg[0] = '\0';
		n = 0;
	}
	if (errnum != 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
		    strerror(errnum));
}

enum pd_err
pd_fail(struct pd_error *err, enum pd_err code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

enum pd_err
pd_fail_errno(struct pd_error *err, enum pd_err code, int errnum,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, code, errnum, fmt, ap);
	va_end(ap);
	return code;
}

void
pd_error_clear(struct pd_error *err)
{
	err->code = PD_OK;
	err->msg[0] = '\0';
}

enum pd_err
pd_prefix(struct pd_error *err, const char *fmt, ...)
{
	char old[PD_ERRMSG_MAX];
	va_list ap;
	int n;

	if (err == NULL || err->code == PD_OK)
		return PD_OK;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* Truncation is fine: the front of the message matters most. */
	if (n >= 0 && (size_t)n < sizeof(err->msg) &&
	    snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", old) < 0)
		err->msg[n] = '\0';
	return err->code;
}
