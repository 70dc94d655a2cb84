/*
 * One parser per type of configuration value (config_int.h), and the
 * free and compare that go with each.  A parser either fills its field
 * completely or leaves it alone and says why in one sentence, which
 * config.c puts after "FILE:LINE: [SECTION] KEY: ".
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/mem.h"
#include "../protocol/manifest.h"
#include "config_int.h"

#define FIELD(base, k, type)	((type *)(void *)((char *)(base) + (k)->off))
#define CFIELD(base, k, type)	\
	((const type *)(const void *)((const char *)(base) + (k)->off))

static const char * PD_PRINTF(3, 4)
say(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	return buf;
}

bool
nd_conf_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/*
 * Split "HOST:PORT" or "[V6]:PORT" (PORT optional when dflt >= 0) into a
 * copy of the host in the arena and the port.
 */
static const char *
host_port(const char *s, size_t len, int dflt, struct pd_arena *a,
    const char **host, unsigned *port, bool *nomem, char *buf, size_t sz)
{
	struct in6_addr a6;
	struct in_addr a4;
	const char *h = s, *colon = NULL, *p;
	size_t hl, i;
	unsigned long v;
	char tmp[256];

	if (len > 0 && s[0] == '[') {
		if ((p = memchr(s, ']', len)) == NULL)
			return "an IPv6 address needs its closing ]";
		h = s + 1;
		hl = (size_t)(p - h);
		if (p + 1 < s + len) {
			if (p[1] != ':')
				return "want [IPV6]:PORT";
			colon = p + 1;
		}
	} else {
		for (p = s; p < s + len; p++)
			if (*p == ':')
				colon = p;
		if (colon != NULL && memchr(s, ':', (size_t)(colon - s)))
			return "an IPv6 address goes in brackets, [::1]:8700";
		hl = colon ? (size_t)(colon - s) : len;
	}
	if (hl == 0 || hl >= sizeof(tmp))
		return hl == 0 ? "the host is missing" : "the host is too long";
	memcpy(tmp, h, hl);
	tmp[hl] = '\0';
	if (h != s) {
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return say(buf, sz, "%s is not an IPv6 address", tmp);
	} else if (strspn(tmp, "0123456789.") == hl) {
		if (inet_pton(AF_INET, tmp, &a4) != 1)
			return say(buf, sz, "%s is not an IPv4 address", tmp);
	} else {
		for (i = 0; i < hl; i++)
			if (!isalnum((unsigned char)tmp[i]) &&
			    tmp[i] != '-' && tmp[i] != '.')
				return say(buf, sz, "%s is not a host name",
				    tmp);
	}
	if (colon == NULL) {
		if (dflt < 0)
			return "the port is missing (HOST:PORT)";
		v = (unsigned long)dflt;
	} else {
		p = colon + 1;
		if (p == s + len || (size_t)(s + len - p) > 5)
			return "the port is a number from 0 to 65535";
		for (v = 0; p < s + len; p++) {
			if (!isdigit((unsigned char)*p))
				return "the port is a number from 0 to 65535";
			v = v * 10 + (unsigned long)(*p - '0');
		}
		if (v > 65535)
			return "the port is a number from 0 to 65535";
	}
	if ((*host = pd_arena_copy(a, tmp, hl)) == NULL) {
		*nomem = true;
		return "out of memory";
	}
	*port = (unsigned)v;
	return NULL;
}

static const char *
parse_url(const char *s, size_t len, struct nd_conf_url *u,
    struct pd_arena *a, bool *nomem, char *buf, size_t sz)
{
	const char *auth, *slash, *why;
	size_t alen;

	if (len > 8 && strncmp(s, "https://", 8) == 0) {
		u->https = true;
		auth = s + 8;
	} else if (len > 7 && strncmp(s, "http://", 7) == 0) {
		u->https = false;
		auth = s + 7;
	} else {
		return say(buf, sz, "%.*s: want http://HOST[:PORT] or "
		    "https://HOST[:PORT]", (int)len, s);
	}
	alen = len - (size_t)(auth - s);
	if ((slash = memchr(auth, '/', alen)) != NULL) {
		if (slash + 1 != s + len)
			return say(buf, sz, "%.*s: a node's URL has no path",
			    (int)len, s);
		alen = (size_t)(slash - auth);
		len--;
	}
	if (memchr(auth, '@', alen) || memchr(auth, '?', alen) ||
	    memchr(auth, '#', alen))
		return say(buf, sz, "%.*s: a node's URL has no user, query or "
		    "fragment", (int)len, s);
	if ((why = host_port(auth, alen, u->https ? 443 : 80, a, &u->host,
	    &u->port, nomem, buf, sz)) != NULL) {
		if (why != buf)
			say(buf, sz, "%.*s: %s", (int)len, s, why);
		return buf;
	}
	if (u->port == 0)
		return say(buf, sz, "%.*s: port 0", (int)len, s);
	if ((u->text = pd_arena_copy(a, s, len)) == NULL) {
		*nomem = true;
		return "out of memory";
	}
	return NULL;
}

static const char *
parse_urls(const char *v, const struct nd_conf_url **out, size_t *n,
    struct pd_arena *a, bool *nomem, char *buf, size_t sz)
{
	struct nd_conf_url u[ND_CONF_UPSTREAMS_MAX];
	const char *p = v, *why;
	size_t count = 0, len, i;
	struct nd_conf_url *copy;

	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		len = strcspn(p, " \t,");
		if (count == ND_CONF_UPSTREAMS_MAX)
			return say(buf, sz, "more than %d upstreams",
			    ND_CONF_UPSTREAMS_MAX);
		memset(&u[count], 0, sizeof(u[count]));
		if ((why = parse_url(p, len, &u[count], a, nomem, buf, sz)) !=
		    NULL)
			return why;
		for (i = 0; i < count; i++)
			if (strcmp(u[i].text, u[count].text) == 0)
				return say(buf, sz, "%s is listed twice",
				    u[i].text);
		count++;
		p += len;
	}
	if (count == 0)
		return "want one or more URLs, in order of preference";
	if ((copy = pd_calloc(count, sizeof(*copy))) == NULL) {
		*nomem = true;
		return "out of memory";
	}
	memcpy(copy, u, count * sizeof(*copy));
	*out = copy;
	*n = count;
	return NULL;
}

const char *
nd_conf_parse_rate(const char *v, uint64_t *out)
{
	static const char bad[] = "want a rate like 512K, 20M or 1G (bytes "
	    "per second, K/M/G = 1024 multiples, as rsync's --bwlimit), or 0 "
	    "for no limit";
	uint64_t n = 0, mult;

	if (strcmp(v, "0") == 0) {
		*out = 0;
		return NULL;
	}
	if (!isdigit((unsigned char)*v))
		return bad;
	for (; isdigit((unsigned char)*v); v++) {
		if (n > UINT64_MAX / 10 - 9)
			return bad;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	switch (*v) {
	case 'K': case 'k': mult = 1024; break;
	case 'M': case 'm': mult = 1024 * 1024; break;
	case 'G': case 'g': mult = 1024 * 1024 * 1024; break;
	default:
		return bad;
	}
	if (v[1] != '\0' || n == 0 || n > (1ULL << 40) / mult)
		return bad;
	*out = n * mult;
	return NULL;
}

static const char *
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return NULL;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return NULL;
		}
	}
	return "want yes or no (true/false, 1/0)";
}

static const char *
parse_uint(const struct keydef *k, const char *v, unsigned *out, char *buf,
    size_t sz)
{
	int64_t n = 0;
	const char *p = v;

	if (*p == '\0')
		goto bad;
	for (; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) || n > k->max)
			goto bad;
		n = n * 10 + (*p - '0');
	}
	if (n < k->min || n > k->max)
		goto bad;
	*out = (unsigned)n;
	return NULL;
bad:
	return say(buf, sz, "want a whole number from %lld to %lld",
	    (long long)k->min, (long long)k->max);
}

/* "90s", "15m", "2h", "366d": the largest unit that divides n. */
static void
dur_text(int64_t n, char *out, size_t sz)
{
	if (n != 0 && n % 86400 == 0)
		snprintf(out, sz, "%lldd", (long long)(n / 86400));
	else if (n != 0 && n % 3600 == 0)
		snprintf(out, sz, "%lldh", (long long)(n / 3600));
	else if (n != 0 && n % 60 == 0)
		snprintf(out, sz, "%lldm", (long long)(n / 60));
	else
		snprintf(out, sz, "%llds", (long long)n);
}

static const char *
parse_dur(const struct keydef *k, const char *v, int64_t *out, char *buf,
    size_t sz)
{
	char lo[24], hi[24];
	const char *why;
	int64_t n;

	if ((k->flags & K_NEVER) && strcmp(v, "never") == 0) {
		*out = 0;
		return NULL;
	}
	if ((why = nd_sched_duration(v, &n)) != NULL)
		return why;
	if (n < k->min || n > k->max) {
		dur_text(k->min, lo, sizeof(lo));
		dur_text(k->max, hi, sizeof(hi));
		return say(buf, sz, "want a duration from %s to %s%s", lo, hi,
		    k->flags & K_NEVER ? ", or never" : "");
	}
	*out = n;
	return NULL;
}

static const char *
copy_str(const char *v, const char **out, struct pd_arena *a, bool *nomem)
{
	if ((*out = pd_arena_copy(a, v, strlen(v))) == NULL) {
		*nomem = true;
		return "out of memory";
	}
	return NULL;
}

const char *
nd_conf_parse_value(const struct keydef *k, const char *v, void *base,
    struct pd_arena *a, bool *nomem, char *buf, size_t sz)
{
	struct nd_conf_addr *addr;
	struct pd_error e = { 0 };
	const char *why;
	size_t len;

	switch (k->type) {
	case T_NAME:
		if ((why = pr_tree_name_check(v)) != NULL)
			return say(buf, sz, "not a valid name (%s)", why);
		return copy_str(v, FIELD(base, k, const char *), a, nomem);
	case T_PATH:
		if (v[0] != '/')
			return "want an absolute path";
		if ((len = strlen(v)) >= PATH_MAX)
			return "path too long";
		/* "/srv/mirror/" is "/srv/mirror"; "/" stays. */
		while (len > 1 && v[len - 1] == '/')
			len--;
		if ((*FIELD(base, k, const char *) = pd_arena_copy(a, v,
		    len)) == NULL) {
			*nomem = true;
			return "out of memory";
		}
		return NULL;
	case T_COMMAND:
		if (v[0] == '\0')
			return "want a command";
		return copy_str(v, FIELD(base, k, const char *), a, nomem);
	case T_BOOL:
		return parse_bool(v, FIELD(base, k, bool));
	case T_UINT:
		return parse_uint(k, v, FIELD(base, k, unsigned), buf, sz);
	case T_DURATION:
		return parse_dur(k, v, FIELD(base, k, int64_t), buf, sz);
	case T_RATE:
		return nd_conf_parse_rate(v, FIELD(base, k, uint64_t));
	case T_LISTEN:
		addr = FIELD(base, k, struct nd_conf_addr);
		if ((why = host_port(v, strlen(v), -1, a, &addr->host,
		    &addr->port, nomem, buf, sz)) != NULL)
			return why;
		addr->loopback = nd_conf_loopback(addr->host);
		return copy_str(v, &addr->text, a, nomem);
	case T_URLS:
		return parse_urls(v, FIELD(base, k, const struct nd_conf_url *),
		    (size_t *)(void *)((char *)base + k->off +
		    sizeof(const struct nd_conf_url *)), a, nomem, buf, sz);
	case T_SCHED:
		if (nd_sched_parse(v, (struct nd_sched **)FIELD(base, k,
		    const struct nd_sched *), &e) != PD_OK) {
			*nomem = e.code == PD_ERR_NOMEM;
			return say(buf, sz, "%s", e.msg);
		}
		return NULL;
	case T_WINDOW:
		if (nd_window_parse(v, (struct nd_window **)FIELD(base, k,
		    const struct nd_window *), &e) != PD_OK) {
			*nomem = e.code == PD_ERR_NOMEM;
			return say(buf, sz, "%s", e.msg);
		}
		return NULL;
	case T_LEVEL:
		if (pd_log_parse_level(v, FIELD(base, k, enum pd_log_level)) !=
		    PD_OK)
			return "want error, warn, info or debug";
		return NULL;
	case T_ROLE:
		if (strcmp(v, "origin") == 0)
			*FIELD(base, k, enum nd_conf_role) = ND_CONF_ORIGIN;
		else if (strcmp(v, "mirror") == 0)
			*FIELD(base, k, enum nd_conf_role) = ND_CONF_MIRROR;
		else
			return "want origin or mirror";
		return NULL;
	}
	return "unknown type";
}

void
nd_conf_free_value(const struct keydef *k, void *base)
{
	switch (k->type) {
	case T_URLS:
		pd_free((void *)*FIELD(base, k, const struct nd_conf_url *));
		break;
	case T_SCHED:
		nd_sched_free((struct nd_sched *)*FIELD(base, k,
		    const struct nd_sched *));
		break;
	case T_WINDOW:
		nd_window_free((struct nd_window *)*FIELD(base, k,
		    const struct nd_window *));
		break;
	default:
		break;
	}
}

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
nd_conf_same_value(const struct keydef *k, const void *a, const void *b)
{
	const struct nd_conf_url *ua, *ub;
	const struct nd_sched *sa, *sb;
	const struct nd_window *wa, *wb;
	size_t na, nb, i;

	switch (k->type) {
	case T_NAME: case T_PATH: case T_COMMAND:
		return same_str(*CFIELD(a, k, const char *),
		    *CFIELD(b, k, const char *));
	case T_BOOL:
		return *CFIELD(a, k, bool) == *CFIELD(b, k, bool);
	case T_UINT:
		return *CFIELD(a, k, unsigned) == *CFIELD(b, k, unsigned);
	case T_DURATION:
		return *CFIELD(a, k, int64_t) == *CFIELD(b, k, int64_t);
	case T_RATE:
		return *CFIELD(a, k, uint64_t) == *CFIELD(b, k, uint64_t);
	case T_LISTEN:
		return same_str(CFIELD(a, k, struct nd_conf_addr)->text,
		    CFIELD(b, k, struct nd_conf_addr)->text);
	case T_URLS:
		ua = *CFIELD(a, k, const struct nd_conf_url *);
		ub = *CFIELD(b, k, const struct nd_conf_url *);
		na = *(const size_t *)(const void *)((const char *)a + k->off +
		    sizeof(ua));
		nb = *(const size_t *)(const void *)((const char *)b + k->off +
		    sizeof(ub));
		if (na != nb)
			return false;
		for (i = 0; i < na; i++)
			if (strcmp(ua[i].text, ub[i].text) != 0)
				return false;
		return true;
	case T_SCHED:
		sa = *CFIELD(a, k, const struct nd_sched *);
		sb = *CFIELD(b, k, const struct nd_sched *);
		return same_str(sa ? nd_sched_text(sa) : NULL,
		    sb ? nd_sched_text(sb) : NULL);
	case T_WINDOW:
		wa = *CFIELD(a, k, const struct nd_window *);
		wb = *CFIELD(b, k, const struct nd_window *);
		return same_str(wa ? nd_window_text(wa) : NULL,
		    wb ? nd_window_text(wb) : NULL);
	case T_LEVEL:
		return *CFIELD(a, k, enum pd_log_level) ==
		    *CFIELD(b, k, enum pd_log_level);
	case T_ROLE:
		return *CFIELD(a, k, enum nd_conf_role) ==
		    *CFIELD(b, k, enum nd_conf_role);
	}
	return false;
}
