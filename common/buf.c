/*
 * Growable, capped byte buffer.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

void
pd_buf_init(struct pd_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->size = 0;
	b->cap = cap;
}

void
pd_buf_free(struct pd_buf *b)
{
	pd_free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

void
pd_buf_reset(struct pd_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

enum pd_err
pd_buf_reserve(struct pd_buf *b, size_t n)
{
	size_t want, nsize;
	unsigned char *p;

	if (n > b->cap || b->len > b->cap - n)
		return PD_ERR_LIMIT;
	want = b->len + n + 1;		/* room for the trailing NUL */
	if (want <= b->size)
		return PD_OK;
	nsize = b->size ? b->size : 256;
	while (nsize < want)
		nsize = nsize > SIZE_MAX / 2 ? want : nsize * 2;
	if ((p = pd_reallocarray(b->data, nsize, 1)) == NULL)
		return PD_ERR_NOMEM;
	b->data = p;
	b->size = nsize;
	return PD_OK;
}

enum pd_err
pd_buf_add(struct pd_buf *b, const void *p, size_t n)
{
	enum pd_err rc;

	if ((rc = pd_buf_reserve(b, n)) != PD_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return PD_OK;
}

enum pd_err
pd_buf_addc(struct pd_buf *b, unsigned char c)
{
	return pd_buf_add(b, &c, 1);
}

enum pd_err
pd_buf_adds(struct pd_buf *b, const char *s)
{
	return pd_buf_add(b, s, strlen(s));
}

enum pd_err
pd_buf_printf(struct pd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum pd_err rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PD_ERR_PARSE;
	if ((rc = pd_buf_reserve(b, (size_t)n)) != PD_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return PD_OK;
}

unsigned char *
pd_buf_take(struct pd_buf *b, size_t *lenp)
{
	unsigned char *p = b->data;

	if (lenp)
		*lenp = b->len;
	b->data = NULL;
	b->len = b->size = 0;
	return p;
}
