/*
 * Source tree walk for import.
 *
 * Directories are read whole, then each name is lstat'ed with fstatat
 * relative to the directory's descriptor, so a symbolic link anywhere in
 * the tree is recorded as a link and never followed, and a directory
 * renamed during the walk cannot redirect it elsewhere.  Depth is capped
 * (PR_DEPTH_MAX), which also caps the descriptors held open.
 *
 * After the walk the items are sorted into manifest order and hardlink
 * groups are numbered as the manifest requires: in order of each group's
 * first path, and only for inodes with two or more paths in the tree.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem.h"
#include "../protocol/pathenc.h"
#include "scan.h"

struct walk {
	struct nd_scan	*s;
	const char	*src;
	const struct stat *exclude;
	nd_warn_fn	*warn;
	void		*warn_arg;
	struct pd_error	*err;
	char		 path[PR_PATH_MAX + 1];
};

static void
warnf(struct walk *w, const char *fmt, const char *path, size_t len)
{
	char msg[PR_SHOW_MAX + 512], ps[PR_SHOW_MAX];

	if (w->warn == NULL)
		return;
	snprintf(msg, sizeof(msg), fmt, w->src,
	    pr_path_show(path, len, ps, sizeof(ps)));
	w->warn(w->warn_arg, msg);
}

/* Fail naming src/path (escaped if it needs it). */
static enum pd_err
failp(struct walk *w, enum pd_err code, int errnum, const char *path,
    size_t len, const char *what)
{
	char ps[PR_SHOW_MAX];

	pr_path_show(path, len, ps, sizeof(ps));
	if (errnum)
		return pd_fail_errno(w->err, code, errnum, "%s/%s: %s", w->src,
		    ps, what);
	return pd_fail(w->err, code, "%s/%s: %s", w->src, ps, what);
}

static struct pr_time
ts(const struct timespec *t)
{
	struct pr_time p = { (int64_t)t->tv_sec, (uint32_t)t->tv_nsec };

	return p;
}

static enum pd_err
add_item(struct walk *w, const struct stat *st, size_t plen,
    const char *target, size_t tlen)
{
	struct nd_scan *s = w->s;
	struct nd_item *it;

	if (s->n >= PR_ENTRIES_MAX)
		return failp(w, PD_ERR_LIMIT, 0, w->path, plen,
		    "more entries than a manifest may hold");
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		if ((it = pd_reallocarray(s->items, cap, sizeof(*it))) == NULL)
			return pd_fail(w->err, PD_ERR_NOMEM, "scanning %s",
			    w->src);
		s->items = it;
		s->cap = cap;
	}
	it = &s->items[s->n];
	memset(it, 0, sizeof(*it));
	if ((it->e.path = pd_arena_copy(&s->arena, w->path, plen)) == NULL ||
	    (target != NULL &&
	    (it->e.target = pd_arena_copy(&s->arena, target, tlen)) == NULL))
		return pd_fail(w->err, PD_ERR_NOMEM, "scanning %s", w->src);
	/* Within PR_PATH_MAX and PR_TARGET_MAX: w->path, read_link. */
	it->e.path_len = (uint16_t)plen;
	it->e.target_len = (uint16_t)tlen;
	it->e.mode = st->st_mode & 07777;
	it->e.mtime = ts(&st->st_mtim);
	if (S_ISDIR(st->st_mode))
		it->e.type = PR_DIR;
	else if (S_ISLNK(st->st_mode)) {
		it->e.type = PR_LINK;
		it->e.mode = 0777;
	} else {
		it->e.type = PR_FILE;
		it->e.size = (uint64_t)st->st_size;
	}
	it->dev = (uint64_t)st->st_dev;
	it->ino = (uint64_t)st->st_ino;
	it->nlink = (uint64_t)st->st_nlink;
	it->ctime = ts(&st->st_ctim);
	s->n++;
	return PD_OK;
}

static enum pd_err
read_link(struct walk *w, int dfd, const char *name, size_t plen,
    const struct stat *st)
{
	char target[PR_TARGET_MAX + 1];
	ssize_t n;

	n = readlinkat(dfd, name, target, sizeof(target));
	if (n < 0)
		return failp(w, PD_ERR_IO, errno, w->path, plen,
		    "reading symbolic link");
	if ((size_t)n > PR_TARGET_MAX || n == 0)
		return failp(w, PD_ERR_LIMIT, 0, w->path, plen,
		    "symbolic link target too long");
	return add_item(w, st, plen, target, (size_t)n);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read all names of a directory (without . and ..) into a new array. */
static enum pd_err
read_names(struct walk *w, int dfd, size_t plen, char ***out, size_t *nout,
    struct pd_arena *names)
{
	struct dirent *de;
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;
	DIR *d;
	int fd;

	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return failp(w, PD_ERR_IO, errno, w->path, plen,
		    "reading directory");
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = pd_reallocarray(v, cap, sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[n++] = pd_arena_copy(names, de->d_name,
		    strlen(de->d_name))) == NULL)
			goto nomem;
	}
	if (errno != 0) {
		closedir(d);
		pd_free(v);
		return failp(w, PD_ERR_IO, errno, w->path, plen,
		    "reading directory");
	}
	closedir(d);
	/* Sorted names keep the later sort cheap and the walk repeatable. */
	if (n > 1)
		qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	*nout = n;
	return PD_OK;
nomem:
	closedir(d);
	pd_free(v);
	return pd_fail(w->err, PD_ERR_NOMEM, "scanning %s", w->src);
}

static enum pd_err walk_dir(struct walk *, int, size_t, unsigned);

static enum pd_err
visit(struct walk *w, int dfd, const char *name, size_t plen, unsigned depth)
{
	struct stat st;
	size_t nlen = strlen(name), clen;
	enum pd_err rc;
	int fd;

	/* path = path "/" name */
	clen = plen ? plen + 1 + nlen : nlen;
	if (clen > PR_PATH_MAX)
		return failp(w, PD_ERR_LIMIT, 0, w->path, plen,
		    "a path below is too long");
	if (plen)
		w->path[plen] = '/';
	memcpy(w->path + (plen ? plen + 1 : 0), name, nlen);
	w->path[clen] = '\0';

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) {	/* gone since readdir: not there */
			w->path[plen] = '\0';
			return PD_OK;
		}
		return failp(w, PD_ERR_IO, errno, w->path, clen, "stat");
	}
	/* The limit counts '/' in a path (spec/MANIFEST.md, "Paths"). */
	if (depth >= PR_DEPTH_MAX)
		return failp(w, PD_ERR_LIMIT, 0, w->path, clen,
		    "directories nested too deep");
	if (!pr_is_printable(name, nlen))
		warnf(w, "%s/%s: name has control characters or is not "
		    "UTF-8; stored escaped", w->path, clen);
	if (S_ISREG(st.st_mode))
		rc = add_item(w, &st, clen, NULL, 0);
	else if (S_ISLNK(st.st_mode))
		rc = read_link(w, dfd, name, clen, &st);
	else if (S_ISDIR(st.st_mode) && w->exclude != NULL &&
	    st.st_dev == w->exclude->st_dev &&
	    st.st_ino == w->exclude->st_ino) {
		warnf(w, "%s/%s: skipped: the node's own data directory",
		    w->path, clen);
		rc = PD_OK;
	} else if (S_ISDIR(st.st_mode)) {
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0)
			return failp(w, PD_ERR_IO, errno, w->path, clen,
			    "opening directory");
		if ((rc = add_item(w, &st, clen, NULL, 0)) == PD_OK)
			rc = walk_dir(w, fd, clen, depth + 1);
		close(fd);
	} else {
		warnf(w, "%s/%s: skipped: not a file, directory or symbolic "
		    "link", w->path, clen);
		w->s->skipped++;
		rc = PD_OK;
	}
	w->path[plen] = '\0';
	return rc;
}

static enum pd_err
walk_dir(struct walk *w, int dfd, size_t plen, unsigned depth)
{
	struct pd_arena names = PD_ARENA_INIT;
	char **v = NULL;
	size_t n = 0, i;
	enum pd_err rc;

	if ((rc = read_names(w, dfd, plen, &v, &n, &names)) != PD_OK)
		return rc;
	for (i = 0; i < n && rc == PD_OK; i++)
		rc = visit(w, dfd, v[i], plen, depth);
	pd_free(v);
	pd_arena_free(&names);
	return rc;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct nd_item *x = a, *y = b;

	return pr_path_cmp(x->e.path, x->e.path_len, y->e.path, y->e.path_len);
}

/* Order hardlinked files by inode, then by path order. */
static int
inode_cmp(const void *a, const void *b, void *base)
{
	const struct nd_item *items = base;
	const struct nd_item *x = &items[*(const size_t *)a];
	const struct nd_item *y = &items[*(const size_t *)b];

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static enum pd_err
number_groups(struct nd_scan *s, struct pd_error *err)
{
	size_t *idx = NULL, n = 0, i, j, k;
	uint32_t next = 1;

	for (i = 0; i < s->n; i++)
		n += s->items[i].e.type == PR_FILE && s->items[i].nlink > 1;
	if (n < 2)
		return PD_OK;
	if ((idx = pd_calloc(n, sizeof(*idx))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "hardlinks");
	for (i = 0, j = 0; i < s->n; i++)
		if (s->items[i].e.type == PR_FILE && s->items[i].nlink > 1)
			idx[j++] = i;
	qsort_r(idx, n, sizeof(*idx), inode_cmp, s->items);
	/* Runs of one inode: the first (lowest path) leads. */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && s->items[idx[j]].dev ==
		    s->items[idx[i]].dev && s->items[idx[j]].ino ==
		    s->items[idx[i]].ino; j++)
			;
		if (j - i < 2)
			continue;
		s->items[idx[i]].e.link = 1;	/* numbered below */
		for (k = i + 1; k < j; k++) {
			s->items[idx[k]].flags |= ND_ITEM_MEMBER;
			s->items[idx[k]].leader = idx[i];
		}
	}
	pd_free(idx);
	/* Number leaders in path order; members take their leader's. */
	for (i = 0; i < s->n; i++) {
		struct nd_item *it = &s->items[i];
		if (it->flags & ND_ITEM_MEMBER)
			it->e.link = s->items[it->leader].e.link;
		else if (it->e.link)
			it->e.link = next++;
	}
	s->ngroups = next - 1;
	return PD_OK;
}

enum pd_err
nd_scan(const char *src, const struct stat *exclude, struct nd_scan *s,
    nd_warn_fn *warn, void *warn_arg, struct pd_error *err)
{
	struct walk *w;
	struct stat st;
	enum pd_err rc;

	memset(s, 0, sizeof(*s));
	s->rootfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		return pd_fail_errno(err, errno == ENOENT ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, errno, "source %s", src);
	if (fstat(s->rootfd, &st) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "source %s", src);
	s->root_mode = st.st_mode & 07777;
	s->root_mtime = ts(&st.st_mtim);
	if ((w = pd_calloc(1, sizeof(*w))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "scanning %s", src);
	w->s = s;
	w->src = src;
	w->exclude = exclude;
	w->warn = warn;
	w->warn_arg = warn_arg;
	w->err = err;
	rc = walk_dir(w, s->rootfd, 0, 0);
	pd_free(w);
	if (rc != PD_OK)
		return rc;
	if (s->n > 1)
		qsort(s->items, s->n, sizeof(*s->items), item_cmp);
	return number_groups(s, err);
}

void
nd_scan_free(struct nd_scan *s)
{
	pd_free(s->items);
	pd_arena_free(&s->arena);
	if (s->rootfd >= 0)
		close(s->rootfd);
	memset(s, 0, sizeof(*s));
	s->rootfd = -1;
}
