/*
 * Canonical path escaping and path validation.
 */
#include <stdio.h>
#include <string.h>

#include "limits.h"
#include "pathenc.h"

/*
 * Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0
 * if p does not start one.  Overlong forms, surrogates and code points
 * past U+10FFFF are not well formed (RFC 3629).
 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 0;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static bool
plain_ascii(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

enum pd_err
pr_escape(struct pd_buf *b, const void *src, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = src;
	unsigned char esc[3] = { '%', 0, 0 };
	enum pd_err rc;
	size_t i = 0, u;

	/* Worst case every byte triples; reserve once. */
	if ((rc = pd_buf_reserve(b, n)) != PD_OK)
		return rc;
	while (i < n) {
		if (plain_ascii(p[i])) {
			/* A run at a time: most paths are nothing else. */
			for (u = i + 1; u < n && plain_ascii(p[u]); u++)
				;
			rc = pd_buf_add(b, p + i, u - i);
			i = u;
		} else if ((u = utf8_len(p + i, n - i)) > 0) {
			rc = pd_buf_add(b, p + i, u);
			i += u;
		} else {
			esc[1] = (unsigned char)hex[p[i] >> 4];
			esc[2] = (unsigned char)hex[p[i] & 15];
			rc = pd_buf_add(b, esc, 3);
			i++;
		}
		if (rc != PD_OK)
			return rc;
	}
	return PD_OK;
}

/* True if escaping the n decoded bytes gives exactly the m bytes in. */
static bool
escapes_to(const char *dec, size_t n, const char *in, size_t m)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)dec;
	size_t i = 0, j = 0, u;

	while (i < n) {
		if (plain_ascii(p[i]))
			u = 1;
		else if ((u = utf8_len(p + i, n - i)) == 0) {
			if (m - j < 3 || in[j] != '%' ||
			    in[j + 1] != hex[p[i] >> 4] ||
			    in[j + 2] != hex[p[i] & 15])
				return false;
			i++;
			j += 3;
			continue;
		}
		if (m - j < u || memcmp(in + j, dec + i, u) != 0)
			return false;
		i += u;
		j += u;
	}
	return j == m;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
pr_unescape(const char *in, size_t n, char *out, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0, u;
	int hi, lo;
	unsigned char c;

	while (i < n) {
		if (p[i] == '%') {
			if (n - i < 3 || (hi = hexval(in[i + 1])) < 0 ||
			    (lo = hexval(in[i + 2])) < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			/* An escaped byte must be one that needs escaping. */
			if (plain_ascii(c))
				return false;
			out[o++] = (char)c;
			i += 3;
		} else if (plain_ascii(p[i])) {
			out[o++] = in[i++];
		} else if ((u = utf8_len(p + i, n - i)) > 0) {
			memcpy(out + o, in + i, u);
			o += u;
			i += u;
		} else
			return false;
	}
	*outlen = o;
	/*
	 * Escaped bytes that together form valid UTF-8 ("%C3%A9") should
	 * have been literal; only re-escaping the output shows that.
	 */
	return escapes_to(out, o, in, n);
}

bool
pr_is_plain(const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t i = 0, u;

	while (i < n) {
		if (plain_ascii(p[i]))
			i++;
		else if ((u = utf8_len(p + i, n - i)) > 0)
			i += u;
		else
			return false;
	}
	return true;
}

const char *
pr_path_show(const char *p, size_t n, char *out, size_t outsz)
{
	struct pd_buf b;
	size_t head, tail;

	pd_buf_init(&b, 3 * (size_t)PR_PATH_MAX + 16);
	if (pr_escape(&b, p, n) != PD_OK || b.data == NULL) {
		snprintf(out, outsz, "(unprintable path)");
	} else if (b.len < outsz) {
		memcpy(out, b.data, b.len + 1);
	} else {
		/* Keep more of the end: it names the file. */
		tail = (outsz - 4) / 2;
		head = outsz - 4 - tail;
		memcpy(out, b.data, head);
		memcpy(out + head, "...", 3);
		memcpy(out + head + 3, b.data + b.len - tail, tail);
		out[outsz - 1] = '\0';
	}
	pd_buf_free(&b);
	return out;
}

bool
pr_is_printable(const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t i = 0, u;

	while (i < n) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			i++;
		else if ((u = utf8_len(p + i, n - i)) > 0)
			i += u;
		else
			return false;
	}
	return true;
}

const char *
pr_path_check(const char *path, size_t n)
{
	size_t i, start = 0, clen;

	if (n == 0)
		return "empty path";
	if (n > PR_PATH_MAX)
		return "path too long";
	if (memchr(path, '\0', n) != NULL)
		return "NUL byte in path";
	if (path[0] == '/')
		return "absolute path";
	for (i = 0; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		clen = i - start;
		if (clen == 0)
			return "empty path component";
		if (clen > PR_NAME_MAX)
			return "path component too long";
		if (clen == 1 && path[start] == '.')
			return "\".\" component";
		if (clen == 2 && path[start] == '.' && path[start + 1] == '.')
			return "\"..\" component";
		start = i + 1;
	}
	return NULL;
}
