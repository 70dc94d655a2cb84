/*
 * Shared by the two halves of the watcher only: node/watch.c (the
 * watcher thread, which owns libinotifytools) and node/watch_api.c (the
 * calls the loop makes).  The interface is watch.h.
 */
#ifndef ND_WATCH_INT_H
#define ND_WATCH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watch.h"

struct tree {
	struct tree	*next;
	char		*name;
	char		*root;		/* absolute, no trailing '/' */
	unsigned	 quiet_ms;
	uint64_t	 last_ms;	/* time of the last event */
	uint64_t	 retry_ms;	/* no rescan before */
	unsigned	 failures;	/* rescans failed in a row */
	bool		 dirty;		/* changed since the last report */
	bool		 rescan;	/* watches must be rebuilt */
	bool		 rescanned;	/* ND_WATCH_RESCANNED for the report */
	bool		 started;	/* ND_WATCH_STARTED for the report */
	struct pd_error	 err;		/* why not fully watched */
};

/* slots[wd]: the tree and directory of a live watch (t NULL: none). */
struct slot {
	struct tree	*t;
	char		*path;
};

enum cmd_kind { CMD_ADD, CMD_REMOVE, CMD_OVERFLOW };

struct cmd {
	struct cmd	*next;
	enum cmd_kind	 kind;
	char		*name;
	char		*root;
	unsigned	 quiet_ms;
};

struct rep {
	struct rep	*next;
	char		*tree;
	unsigned	 flags;
	struct pd_error	 error;
};

/* What nd_watch_add checks names and roots against (loop side only). */
struct reg {
	struct reg	*next;
	char		*name;
	char		*root;
};

struct nd_watch {
	pthread_mutex_t	 mu;		/* guards quit, cmds, reps */
	bool		 quit;
	struct cmd	*cmds, *cmds_tail;
	struct rep	*reps, *reps_tail;
	int		 efd;		/* readable while reps != NULL */
	pthread_t	 thread;
	bool		 started;
	struct reg	*regs;

	/* The watcher thread's own. */
	struct tree	*trees;
	struct slot	*slots;
	size_t		 nslots;
	size_t		 nlive;		/* slots in use */
	size_t		 ndead;		/* records the library keeps in vain */
	bool		 reset;		/* start the library afresh */
	bool		 down;		/* the library could not restart */
};

/* The watcher thread's main function; arg is the struct nd_watch. */
void	*nd_w_run(void *arg);
void	 nd_w_free_tree(struct tree *);
void	 nd_w_free_cmd(struct cmd *);

#endif
