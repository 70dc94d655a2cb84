/*
 * Reading the node configuration file (config.h) with libinih.
 *
 * libinih splits lines into sections and key = value pairs, strips
 * comments and blanks; Debian's build gives its handler no line number
 * (INI_HANDLER_LINENO is 0), so the file is fed through
 * ini_parse_stream with a reader of ours that counts lines: the handler
 * runs while the line the reader last returned is being parsed, so that
 * count is the handler's line.  The reader also notes each "[...]" line:
 * libinih does not report a section that has no key, nor tell two
 * sections of the same name apart, and it cuts section names at 49
 * bytes, while tree names may have 64.  Lines longer than libinih's
 * buffer are refused by the reader rather than split by libinih.
 * Continuation lines (libinih's multi-line values) are turned off, so an
 * indented "key = value" is a key of its own: Debian's libinih has its
 * options as process-wide variables (ini_allow_multiline), set around
 * the parse and put back after it.
 *
 * Then, in order: the pairs of each section become typed values
 * (config_val.c, driven by the key table in config_use.c), required keys
 * are looked for and defaults filled in, and the rules between keys and
 * sections are checked.  The first error ends the load.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <ini.h>

#include "../common/mem.h"
#include "../protocol/manifest.h"
#include "config_int.h"

/* Longest line read; libinih's own buffer is smaller still. */
#define LINE_MAX_READ	4096

struct kv {
	char		*key;
	char		*value;
	unsigned	 line;
};

struct sect {
	char		*name;		/* between the brackets, trimmed */
	unsigned	 line;
	struct kv	*kv;
	size_t		 nkv;
};

struct parse {
	const char	*path;
	FILE		*f;
	unsigned	 line;		/* of the line last read */
	char		 lb[LINE_MAX_READ];
	struct sect	*s;
	size_t		 ns;
	struct pd_error	 first;		/* our first error ... */
	unsigned	 first_line;	/* ... and its line */
	int		 read_errno;
};

static void PD_PRINTF(2, 3)
perr(struct parse *p, const char *fmt, ...)
{
	char msg[PD_ERRMSG_MAX];
	va_list ap;

	if (p->first.code != PD_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->first_line = p->line;
	pd_fail(&p->first, PD_ERR_PARSE, "%s:%u: %s", p->path, p->line, msg);
}

static void
nomem(struct parse *p)
{
	if (p->first.code == PD_OK)
		p->first_line = p->line;
	pd_fail(&p->first, PD_ERR_NOMEM, "%s:%u: out of memory", p->path,
	    p->line);
}

/* Length of s without leading and trailing white space. */
static size_t
trimmed(const char *s)
{
	size_t n;

	s += strspn(s, " \t");
	for (n = strlen(s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
		;
	return n;
}

/* A "[...]" line at s (NUL-terminated): note the section it opens. */
static bool
header(struct parse *p, const char *s)
{
	const char *end = strchr(s, ']'), *rest, *a, *b;
	struct sect *ns;

	if (end == NULL) {
		perr(p, "%.*s: a section header needs its closing ]",
		    (int)trimmed(s), s);
		return false;
	}
	rest = end + 1 + strspn(end + 1, " \t\r\n\f\v");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		perr(p, "%.*s: text after the section header",
		    (int)(end + 1 - s), s);
		return false;
	}
	for (a = s + 1; a < end && isspace((unsigned char)*a); a++)
		;
	for (b = end; b > a && isspace((unsigned char)b[-1]); b--)
		;
	if (memchr(a, ';', (size_t)(b - a)) != NULL) {
		perr(p, "%.*s: a section name has no ;", (int)(end + 1 - s),
		    s);
		return false;
	}
	if ((ns = pd_reallocarray(p->s, p->ns + 1, sizeof(*p->s))) == NULL) {
		nomem(p);
		return false;
	}
	p->s = ns;
	memset(&p->s[p->ns], 0, sizeof(p->s[p->ns]));
	p->s[p->ns].line = p->line;
	if ((p->s[p->ns].name = pd_memdup0(a, (size_t)(b - a))) == NULL) {
		nomem(p);
		return false;
	}
	p->ns++;
	return true;
}

/* libinih's ini_reader: one line per call, counted. */
static char *
reader(char *str, int num, void *arg)
{
	struct parse *p = arg;
	size_t n = 0, len;
	const char *s;
	int c;

	if (p->first.code != PD_OK)
		return NULL;
	errno = 0;
	while ((c = getc(p->f)) != EOF) {
		if (n == sizeof(p->lb) - 1)
			break;
		p->lb[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (n == 0) {
		if (ferror(p->f))
			p->read_errno = errno ? errno : EIO;
		return NULL;
	}
	p->lb[n] = '\0';
	p->line++;
	len = n;
	if (len > 0 && p->lb[len - 1] == '\n')
		len--;
	if (len > 0 && p->lb[len - 1] == '\r')
		len--;
	if (strlen(p->lb) != n) {
		perr(p, "a NUL byte: this is not a text file");
		return NULL;
	}
	if (num < 4 || len > (size_t)num - 3) {
		perr(p, "line longer than %d bytes", num - 3);
		return NULL;
	}
	s = p->lb;
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '[' && !header(p, s))
		return NULL;
	memcpy(str, p->lb, n + 1);
	return str;
}

/* libinih's ini_handler: one key = value of the current section. */
static int
handler(void *arg, const char *section, const char *name, const char *value)
{
	struct parse *p = arg;
	struct sect *s;
	struct kv *nkv;
	size_t i;

	(void)section;	/* ours (header) is whole, libinih's may be cut */
	if (p->first.code != PD_OK)
		return 0;
	if (name[0] == '\0') {
		perr(p, "a value without a key");
		return 0;
	}
	if (p->ns == 0) {
		perr(p, "%s: a key before any [section]", name);
		return 0;
	}
	s = &p->s[p->ns - 1];
	for (i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, name) == 0) {
			perr(p, "[%s] %s: given twice (first at line %u)",
			    s->name, name, s->kv[i].line);
			return 0;
		}
	if ((nkv = pd_reallocarray(s->kv, s->nkv + 1, sizeof(*s->kv))) ==
	    NULL) {
		nomem(p);
		return 0;
	}
	s->kv = nkv;
	s->kv[s->nkv].line = p->line;
	s->kv[s->nkv].key = pd_strdup(name);
	s->kv[s->nkv].value = pd_strdup(value);
	s->nkv++;
	if (s->kv[s->nkv - 1].key == NULL || s->kv[s->nkv - 1].value == NULL) {
		nomem(p);
		return 0;
	}
	return 1;
}

/* Run libinih over the file: p->s holds every section and its pairs. */
static enum pd_err
read_file(struct parse *p, struct pd_error *err)
{
	bool multiline = ini_allow_multiline, stop = ini_stop_on_first_error;
	int ret;

	if ((p->f = fopen(p->path, "re")) == NULL)
		return pd_fail_errno(err, errno == ENOENT ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, errno, "%s", p->path);
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	ret = ini_parse_stream(reader, p, handler, p);
	ini_allow_multiline = multiline;
	ini_stop_on_first_error = stop;
	fclose(p->f);
	p->f = NULL;
	if (p->read_errno != 0)
		return pd_fail_errno(err, PD_ERR_IO, p->read_errno, "%s",
		    p->path);
	if (ret > 0 && (p->first.code == PD_OK || (unsigned)ret <
	    p->first_line)) {
		/* libinih stopped at that line: it is still in lb. */
		if ((unsigned)ret == p->line)
			return pd_fail(err, PD_ERR_PARSE, "%s:%d: %.*s: want "
			    "key = value, [node] or [tree NAME]", p->path,
			    ret, (int)trimmed(p->lb), p->lb +
			    strspn(p->lb, " \t"));
		return pd_fail(err, PD_ERR_PARSE, "%s:%d: want key = value, "
		    "[node] or [tree NAME]", p->path, ret);
	}
	if (p->first.code != PD_OK)
		return pd_fail(err, p->first.code, "%s", p->first.msg);
	if (ret < 0)
		return pd_fail(err, PD_ERR_NOMEM, "%s: out of memory",
		    p->path);
	return PD_OK;
}

static enum pd_err PD_PRINTF(6, 7)
kfail(struct pd_error *err, const struct nd_conf *c, unsigned line,
    const char *sect, const char *key, const char *fmt, ...)
{
	char msg[PD_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key == NULL)
		return pd_fail(err, PD_ERR_PARSE, "%s:%u: [%s]: %s", c->path,
		    line, sect, msg);
	return pd_fail(err, PD_ERR_PARSE, "%s:%u: [%s] %s: %s", c->path, line,
	    sect, key, msg);
}

static size_t
kidx(const char *name)
{
	size_t i;

	for (i = 0; i < nd_conf_nkeys; i++)
		if (strcmp(nd_conf_keys[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static const char *
where_name(unsigned where)
{
	return where == W_NODE ? "[node]" : where == W_ORIGIN ? "an origin" :
	    "a mirror";
}

/* The typed values of one section's pairs, then the missing ones. */
static enum pd_err
section(struct nd_conf *c, const struct sect *s, const char *name,
    unsigned where, void *base, unsigned *line, struct pd_error *err)
{
	const struct keydef *k;
	const char *why;
	char buf[PD_ERRMSG_MAX / 2];
	bool oom = false;
	size_t i, j;

	for (i = 0; i < s->nkv; i++) {
		if ((j = kidx(s->kv[i].key)) == SIZE_MAX)
			return kfail(err, c, s->kv[i].line, name, s->kv[i].key,
			    "unknown key");
		k = &nd_conf_keys[j];
		if (!(k->where & where))
			return kfail(err, c, s->kv[i].line, name, k->name,
			    "not a key of %s; it belongs in %s",
			    where_name(where), k->where == W_NODE ? "[node]" :
			    k->where == W_TREE ? "[tree NAME]" :
			    where_name(k->where & W_TREE));
		line[j] = s->kv[i].line;
		if (k->type == T_ROLE)
			continue;	/* parsed first, by the caller */
		why = nd_conf_parse_value(k, s->kv[i].value, base, &c->arena,
		    &oom, buf, sizeof(buf));
		if (oom)
			return pd_fail(err, PD_ERR_NOMEM, "%s: out of memory",
			    c->path);
		/* Schedules, windows and URLs name the bad part. */
		if (why != NULL && (k->type == T_SCHED ||
		    k->type == T_WINDOW || k->type == T_URLS))
			return kfail(err, c, s->kv[i].line, name, k->name,
			    "%s", why);
		if (why != NULL)
			return kfail(err, c, s->kv[i].line, name, k->name,
			    "\"%s\": %s", s->kv[i].value, why);
	}
	for (j = 0; j < nd_conf_nkeys; j++) {
		k = &nd_conf_keys[j];
		if (!(k->where & where) || line[j] != 0)
			continue;
		if (k->flags & K_REQUIRED)
			return kfail(err, c, s->line, name, k->name,
			    "missing; %s needs it", where_name(where));
		if (k->def != NULL && nd_conf_parse_value(k, k->def, base,
		    &c->arena, &oom, buf, sizeof(buf)) != NULL)
			return pd_fail(err, oom ? PD_ERR_NOMEM : PD_ERR_PARSE,
			    "default of %s: %s", k->name, buf);
	}
	return PD_OK;
}

static enum pd_err
tree_section(struct nd_conf *c, const struct sect *s, const char *tname,
    struct pd_error *err)
{
	struct nd_conf_trec *t, *nt;
	const char *why;
	char name[128], buf[256];
	size_t i, r = kidx("role");
	bool oom = false;

	snprintf(name, sizeof(name), "tree %s", tname);
	for (i = 0; i < c->ntrees; i++)
		if (strcmp(c->trees[i].t.name, tname) == 0)
			return kfail(err, c, s->line, name, NULL, "tree %s is "
			    "already defined at line %u", tname,
			    c->trees[i].hdr);
	if ((nt = pd_reallocarray(c->trees, c->ntrees + 1,
	    sizeof(*c->trees))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", c->path);
	c->trees = nt;
	t = &c->trees[c->ntrees];
	memset(t, 0, sizeof(*t));
	if ((t->line = pd_calloc(nd_conf_nkeys, sizeof(*t->line))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", c->path);
	c->ntrees++;
	t->hdr = s->line;
	if ((t->t.name = pd_arena_copy(&c->arena, tname, strlen(tname))) ==
	    NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", c->path);
	for (i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, "role") == 0)
			break;
	if (i == s->nkv)
		return kfail(err, c, s->line, name, "role", "missing; origin "
		    "or mirror");
	why = nd_conf_parse_value(&nd_conf_keys[r], s->kv[i].value, &t->t,
	    &c->arena, &oom, buf, sizeof(buf));
	if (why != NULL)
		return kfail(err, c, s->kv[i].line, name, "role", "\"%s\": %s",
		    s->kv[i].value, why);
	return section(c, s, name, t->t.role == ND_CONF_ORIGIN ? W_ORIGIN :
	    W_MIRROR, &t->t, t->line, err);
}

static enum pd_err
node_rules(struct nd_conf *c, struct pd_error *err)
{
	static const char *const tls[] = { "tls_cert", "tls_key", "tls_ca" };
	const struct nd_conf_node *n = &c->node;
	size_t i, j;

	for (i = 0; i < 3; i++) {
		j = kidx(tls[i]);
		if (n->insecure_http && c->node_line[j] != 0)
			return kfail(err, c, c->node_line[j], "node", tls[i],
			    "not used with insecure_http = yes (plain HTTP); "
			    "remove it, or set insecure_http = no");
		if (!n->insecure_http && c->node_line[j] == 0)
			return kfail(err, c, c->node_hdr, "node", tls[i],
			    "missing; required unless insecure_http = yes "
			    "(loopback tests and demos)");
	}
	if (n->insecure_http && !n->listen.loopback)
		return kfail(err, c, c->node_line[kidx("listen")], "node",
		    "listen", "%s is not a loopback address; insecure_http = "
		    "yes serves plain HTTP on 127.0.0.1, ::1 or localhost "
		    "only", n->listen.text);
	return PD_OK;
}

static enum pd_err
tree_rules(struct nd_conf *c, struct nd_conf_trec *r, struct pd_error *err)
{
	struct nd_conf_tree *t = &r->t;
	const struct nd_conf_url *u;
	struct pd_error e = { 0 };
	char name[128];
	size_t i;

	snprintf(name, sizeof(name), "tree %s", t->name);
	if (r->line[kidx("hook_timeout")] != 0 && t->on_publish == NULL)
		return kfail(err, c, r->line[kidx("hook_timeout")], name,
		    "hook_timeout", "only used with on_publish");
	if (t->role == ND_CONF_ORIGIN) {
		if (!t->watch && t->schedule == NULL)
			return kfail(err, c, r->hdr, name, "schedule",
			    "missing; an origin needs a schedule, or watch = "
			    "yes");
		if (!t->watch && r->line[kidx("quiet")] != 0)
			return kfail(err, c, r->line[kidx("quiet")], name,
			    "quiet", "only used with watch = yes");
		return PD_OK;
	}
	if (t->schedule == NULL && nd_sched_parse(ND_CONF_MIRROR_SCHEDULE,
	    (struct nd_sched **)&t->schedule, &e) != PD_OK)
		return pd_fail(err, e.code, "%s", e.msg);
	for (i = 0; i < t->nupstream; i++) {
		u = &t->upstream[i];
		if (c->node.insecure_http && u->https)
			return kfail(err, c, r->line[kidx("upstream")], name,
			    "upstream", "%s: https needs TLS, which "
			    "insecure_http = yes turns off", u->text);
		if (c->node.insecure_http && !nd_conf_loopback(u->host))
			return kfail(err, c, r->line[kidx("upstream")], name,
			    "upstream", "%s: plain http:// only to a loopback "
			    "address (127.0.0.1, ::1, localhost)", u->text);
		if (!c->node.insecure_http && !u->https)
			return kfail(err, c, r->line[kidx("upstream")], name,
			    "upstream", "%s: plain http:// needs insecure_http "
			    "= yes (loopback tests and demos)", u->text);
	}
	return PD_OK;
}

static enum pd_err
build(struct parse *p, struct nd_conf *c, struct pd_error *err)
{
	const struct sect *s;
	const char *tname, *why;
	enum pd_err rc;
	size_t i;

	for (i = 0; i < p->ns; i++) {
		s = &p->s[i];
		if (strcmp(s->name, "node") == 0) {
			if (c->node_hdr != 0)
				return kfail(err, c, s->line, s->name, NULL,
				    "given twice (first at line %u)",
				    c->node_hdr);
			c->node_hdr = s->line;
			rc = section(c, s, "node", W_NODE, &c->node,
			    c->node_line, err);
		} else if (strncmp(s->name, "tree", 4) == 0 &&
		    (s->name[4] == ' ' || s->name[4] == '\t')) {
			tname = s->name + 4 + strspn(s->name + 4, " \t");
			if ((why = pr_tree_name_check(tname)) != NULL)
				return kfail(err, c, s->line, s->name, NULL,
				    "%s", why);
			rc = tree_section(c, s, tname, err);
		} else {
			return kfail(err, c, s->line, s->name, NULL, "unknown "
			    "section; want [node] or [tree NAME]");
		}
		if (rc != PD_OK)
			return rc;
	}
	if (c->node_hdr == 0)
		return pd_fail(err, PD_ERR_PARSE, "%s: no [node] section",
		    c->path);
	if ((rc = node_rules(c, err)) != PD_OK)
		return rc;
	for (i = 0; i < c->ntrees; i++)
		if ((rc = tree_rules(c, &c->trees[i], err)) != PD_OK)
			return rc;
	return PD_OK;
}

enum pd_err
nd_conf_load(const char *path, struct nd_conf **out, struct pd_error *err)
{
	struct parse *p;
	struct nd_conf *c;
	enum pd_err rc;
	size_t i, j;

	*out = NULL;
	if ((p = pd_calloc(1, sizeof(*p))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", path);
	p->path = path;
	if ((c = pd_calloc(1, sizeof(*c))) == NULL ||
	    (c->path = pd_strdup(path)) == NULL ||
	    (c->node_line = pd_calloc(nd_conf_nkeys,
	    sizeof(*c->node_line))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "%s", path);
		goto out;
	}
	if ((rc = read_file(p, err)) != PD_OK ||
	    (rc = build(p, c, err)) != PD_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	for (i = 0; i < p->ns; i++) {
		for (j = 0; j < p->s[i].nkv; j++) {
			pd_free(p->s[i].kv[j].key);
			pd_free(p->s[i].kv[j].value);
		}
		pd_free(p->s[i].kv);
		pd_free(p->s[i].name);
	}
	pd_free(p->s);
	pd_free(p);
	nd_conf_free(c);
	return rc;
}
