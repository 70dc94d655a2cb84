/*
 * The namer's queue: a ring of files under one mutex, one thread taking
 * them in order.  The order matters only to nd_namer_wait, which waits
 * for the files done (named or failed) to reach the count given.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/mem.h"
#include "namer.h"

struct file {
	int	 fd;
	char	*tmp;		/* NULL: unnamed (O_TMPFILE) */
	char	*path;
};

struct nd_namer {
	pthread_mutex_t		 mu;
	pthread_cond_t		 more;		/* queued, or stop */
	pthread_cond_t		 done;		/* a file was done */
	pthread_t		 thread;
	bool			 running;
	bool			 stop;
	struct file		 ring[ND_NAMER_MAX];
	size_t			 head, len;
	uint64_t		 given;		/* files taken */
	struct nd_namer_stats	 st;
};

static void
file_free(struct file *f)
{
	close(f->fd);
	pd_free(f->tmp);
	pd_free(f->path);
}

bool
nd_name_durable(int fd, const char *tmp, const char *path)
{
	bool named;

	if (fsync(fd) != 0) {
		if (tmp != NULL)
			unlink(tmp);
		return false;
	}
	/* EEXIST: another maker won; its bytes equal these. */
	if (tmp != NULL) {
		if (!(named = rename(tmp, path) == 0))
			unlink(tmp);
		return named;
	}
	return pd_link_fd(fd, AT_FDCWD, path) == 0 || errno == EEXIST;
}

static void *
run(void *arg)
{
	struct nd_namer *n = arg;
	struct file f;
	bool ok;

	pthread_mutex_lock(&n->mu);
	for (;;) {
		while (n->len == 0 && !n->stop)
			pthread_cond_wait(&n->more, &n->mu);
		if (n->len == 0)
			break;
		f = n->ring[n->head];
		n->head = (n->head + 1) % ND_NAMER_MAX;
		n->len--;
		pthread_mutex_unlock(&n->mu);
		ok = nd_name_durable(f.fd, f.tmp, f.path);
		file_free(&f);
		pthread_mutex_lock(&n->mu);
		if (ok)
			n->st.named++;
		else
			n->st.failed++;
		pthread_cond_broadcast(&n->done);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

enum pd_err
nd_namer_new(struct nd_namer **out, struct pd_error *err)
{
	struct nd_namer *n;
	int e;

	*out = NULL;
	if ((n = pd_calloc(1, sizeof(*n))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "namer");
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->more, NULL);
	pthread_cond_init(&n->done, NULL);
	if ((e = pthread_create(&n->thread, NULL, run, n)) != 0) {
		nd_namer_free(n);
		return pd_fail_errno(err, PD_ERR_NOMEM, e, "namer thread");
	}
	n->running = true;
	*out = n;
	return PD_OK;
}

void
nd_namer_free(struct nd_namer *n)
{
	if (n == NULL)
		return;
	if (n->running) {
		pthread_mutex_lock(&n->mu);
		n->stop = true;
		pthread_cond_signal(&n->more);
		pthread_mutex_unlock(&n->mu);
		pthread_join(n->thread, NULL);
	}
	pthread_cond_destroy(&n->done);
	pthread_cond_destroy(&n->more);
	pthread_mutex_destroy(&n->mu);
	pd_free(n);
}

bool
nd_namer_add(struct nd_namer *n, int fd, const char *tmp, const char *path)
{
	struct file f = { -1, NULL, NULL };
	bool taken = false;

	pthread_mutex_lock(&n->mu);
	if (n->len == ND_NAMER_MAX || n->stop)
		goto out;
	if ((f.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    (tmp != NULL && (f.tmp = pd_strdup(tmp)) == NULL) ||
	    (f.path = pd_strdup(path)) == NULL)
		goto out;
	n->ring[(n->head + n->len) % ND_NAMER_MAX] = f;
	n->len++;
	n->given++;
	taken = true;
	pthread_cond_signal(&n->more);
out:
	if (!taken) {
		n->st.refused++;
		if (f.fd >= 0)
			file_free(&f);
	}
	pthread_mutex_unlock(&n->mu);
	return taken;
}

void
nd_namer_wait(struct nd_namer *n)
{
	uint64_t want;

	pthread_mutex_lock(&n->mu);
	want = n->given;
	while (n->st.named + n->st.failed < want)
		pthread_cond_wait(&n->done, &n->mu);
	pthread_mutex_unlock(&n->mu);
}

void
nd_namer_stats(struct nd_namer *n, struct nd_namer_stats *out)
{
	pthread_mutex_lock(&n->mu);
	*out = n->st;
	pthread_mutex_unlock(&n->mu);
}
