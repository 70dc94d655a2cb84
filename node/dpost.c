/*
 * Queuing tasks for the loop (daemon.h): a schedule that fires, an
 * inotify report or the daily clean-up asks for a task, but queuing one
 * is an LMDB write transaction, which waits for any other writer and
 * syncs the disk: not for the event loop.  The loop posts the tree's
 * name here and one thread of the daemon's queues the task.  Asking
 * twice before the thread gets to it asks once.
 */
#include <inttypes.h>
#include <string.h>

#include "../common/log.h"
#include "../common/mem.h"
#include "daemon_int.h"

struct dm_ask {
	char		 tree[PR_TREE_NAME_MAX + 1];	/* "": clean-up */
	const char	*why;		/* a string constant */
};

/* Queue tree's task: only a log line if that fails. */
static void
submit_logged(struct nd_daemon *d, const char *tree, const char *why)
{
	struct pd_error e = { 0 };
	uint64_t id;
	enum pd_err rc;

	/* A run under way (say, resumed at start) answers a schedule or a
	 * change as well as a new one would. */
	rc = dm_submit(d, tree, true, &id, &e);
	pd_log_context(tree, id);
	if (rc == PD_OK)
		log_info("queued (%s)", why);
	else if (rc == PD_ERR_CONFLICT)
		log_debug("%s: already queued", why);
	else
		log_warn("%s: cannot queue: %s", why, e.msg);
	pd_log_context(NULL, 0);
}

static void *
poster(void *arg)
{
	struct nd_daemon *d = arg;
	struct dm_ask a;

	pthread_mutex_lock(&d->post_mu);
	for (;;) {
		while (d->nasks == 0 && !d->post_stop)
			pthread_cond_wait(&d->post_cv, &d->post_mu);
		if (d->post_stop)
			break;
		a = d->asks[0];
		memmove(d->asks, d->asks + 1, --d->nasks * sizeof(*d->asks));
		pthread_mutex_unlock(&d->post_mu);
		submit_logged(d, a.tree, a.why);
		pthread_mutex_lock(&d->post_mu);
	}
	pthread_mutex_unlock(&d->post_mu);
	return NULL;
}

void
dm_post(struct nd_daemon *d, const char *tree, const char *why)
{
	struct dm_ask *v;
	size_t i;

	pthread_mutex_lock(&d->post_mu);
	for (i = 0; i < d->nasks; i++)
		if (strcmp(d->asks[i].tree, tree) == 0)
			goto out;
	if (d->nasks == d->asksize) {
		if ((v = pd_reallocarray(d->asks, d->asksize * 2 + 8,
		    sizeof(*v))) == NULL) {
			log_warn("%s: not queued: out of memory", why);
			goto out;
		}
		d->asks = v;
		d->asksize = d->asksize * 2 + 8;
	}
	snprintf(d->asks[d->nasks].tree, sizeof(d->asks[0].tree), "%s", tree);
	d->asks[d->nasks++].why = why;
	pthread_cond_signal(&d->post_cv);
out:
	pthread_mutex_unlock(&d->post_mu);
}

enum pd_err
dm_post_start(struct nd_daemon *d, struct pd_error *err)
{
	if (pthread_create(&d->post_th, NULL, poster, d) != 0)
		return pd_fail(err, PD_ERR_NOMEM, "the task poster thread");
	d->post_running = true;
	return PD_OK;
}

void
dm_post_stop(struct nd_daemon *d)
{
	if (d->post_running) {
		pthread_mutex_lock(&d->post_mu);
		d->post_stop = true;
		pthread_cond_signal(&d->post_cv);
		pthread_mutex_unlock(&d->post_mu);
		pthread_join(d->post_th, NULL);
		d->post_running = false;
	}
	pd_free(d->asks);
	d->asks = NULL;
	d->nasks = d->asksize = 0;
}
