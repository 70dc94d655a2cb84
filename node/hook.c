/*
 * Running the on_publish hook (hook.h says what it promises).
 *
 * DESIGN: posix_spawn, not fork: the daemon is multi-threaded, and
 * glibc's posix_spawn (clone with CLONE_VFORK) runs only its own
 * async-signal-safe steps before exec: new process group, default
 * signals, empty mask, stdin from /dev/null, stdout and stderr into a
 * pipe, every other descriptor closed (addclosefrom: the node's sockets
 * and catalog must not leak into a lab's scripts).  Everything that
 * allocates (argv, the environment) is made before the spawn.
 *
 * The caller's thread then waits with poll() on the pipe and on a pidfd
 * of the command (readable when it exits, without reaping it), so that
 * output is read as it comes and the timeout is exact.  The command is
 * reaped only after its process group was signalled: while the leader
 * is an unreaped zombie its pid, hence the group id, cannot be reused by
 * an unrelated process, so kill(-pid) hits only what the hook started.
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/mem.h"
#include "hook.h"

extern char **environ;

#define NVARS		5
#define SLICE_MS	100	/* poll slice when there is no pidfd */
#define DRAIN_MAX	16	/* reads of leftover output after exit */

static const char *const varnames[NVARS] = {
	"PULPDIST_TREE", "PULPDIST_VERSION", "PULPDIST_PATH",
	"PULPDIST_PREV_VERSION", "PULPDIST_PUBLISH",
};

static char *
var(const char *name, const char *value)
{
	size_t a = strlen(name), b = strlen(value);
	char *p;

	if ((p = pd_malloc(a + b + 2)) == NULL)
		return NULL;
	memcpy(p, name, a);
	p[a] = '=';
	memcpy(p + a + 1, value, b + 1);
	return p;
}

/* Is e "NAME=..." for one of our names? */
static bool
ours(const char *e)
{
	size_t i, n;

	for (i = 0; i < NVARS; i++) {
		n = strlen(varnames[i]);
		if (strncmp(e, varnames[i], n) == 0 && e[n] == '=')
			return true;
	}
	return false;
}

static void
free_env(char **env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < NVARS; i++)
		pd_free(env[i]);
	pd_free(env);
}

/* Our NVARS variables (allocated) first, then the node's (borrowed). */
static char **
make_env(const struct nd_hook_req *req)
{
	char ver[32], prev[32], **env;
	size_t n, i, j;

	for (n = 0; environ != NULL && environ[n] != NULL; n++)
		continue;
	if ((env = pd_calloc(n + NVARS + 1, sizeof(*env))) == NULL)
		return NULL;
	snprintf(ver, sizeof(ver), "%" PRIu64, req->version);
	snprintf(prev, sizeof(prev), "%" PRIu64, req->prev_version);
	env[0] = var(varnames[0], req->tree);
	env[1] = var(varnames[1], ver);
	env[2] = var(varnames[2], req->path);
	env[3] = var(varnames[3], prev);
	env[4] = var(varnames[4], req->publish);
	for (i = 0; i < NVARS; i++)
		if (env[i] == NULL) {
			free_env(env);
			return NULL;
		}
	for (i = 0, j = NVARS; i < n; i++)
		if (!ours(environ[i]))
			env[j++] = environ[i];
	return env;
}

/* Keep the last ND_HOOK_OUTPUT_MAX bytes written. */
static void
keep(struct nd_hook_result *res, const char *buf, size_t n)
{
	size_t drop;

	res->output_total += n;
	if (n >= ND_HOOK_OUTPUT_MAX) {
		memcpy(res->output, buf + n - ND_HOOK_OUTPUT_MAX,
		    ND_HOOK_OUTPUT_MAX);
		res->output_len = ND_HOOK_OUTPUT_MAX;
	} else {
		if (res->output_len + n > ND_HOOK_OUTPUT_MAX) {
			drop = res->output_len + n - ND_HOOK_OUTPUT_MAX;
			memmove(res->output, res->output + drop,
			    res->output_len - drop);
			res->output_len -= drop;
		}
		memcpy(res->output + res->output_len, buf, n);
		res->output_len += n;
	}
	res->output[res->output_len] = '\0';
}

/* Read what the pipe has; closes it (-1) at end of file or error. */
static void
read_some(int *fd, struct nd_hook_result *res)
{
	char buf[4096];
	ssize_t n;

	n = read(*fd, buf, sizeof(buf));
	if (n > 0) {
		keep(res, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	close(*fd);
	*fd = -1;
}

/*
 * Has pid exited?  Not reaped: the group id stays reserved.  ECHILD
 * (SIGCHLD ignored by the process: the kernel reaped it) counts as yes.
 */
static bool
exited(pid_t pid)
{
	siginfo_t si;
	int rc;

	memset(&si, 0, sizeof(si));
	rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
	return (rc == 0 && si.si_pid == pid) || (rc < 0 && errno == ECHILD);
}

/* Move fd above stderr, where the spawn's dup2 cannot clobber it. */
static int
above_stdio(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/*
 * Read output until pid exits or the time is up (false).  Without a
 * pidfd the wait is sliced.
 */
static bool
wait_until(pid_t pid, int pidfd, int *outfd, int64_t deadline,
    struct nd_hook_result *res)
{
	struct pollfd pfd[2];
	int64_t left;
	nfds_t n;

	for (;;) {
		if (exited(pid))
			return true;
		if ((left = deadline - pd_mono_ms()) <= 0)
			return false;
		n = 0;
		if (*outfd >= 0) {
			pfd[n].fd = *outfd;
			pfd[n++].events = POLLIN;
		}
		if (pidfd >= 0) {
			pfd[n].fd = pidfd;
			pfd[n++].events = POLLIN;
		} else if (left > SLICE_MS)
			left = SLICE_MS;
		if (poll(pfd, n, (int)left) > 0 && *outfd >= 0 &&
		    pfd[0].revents != 0)
			read_some(outfd, res);
	}
}

static enum pd_err
spawn(const struct nd_hook_req *req, pid_t *pid, int *outfd,
    struct pd_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	char *argv[4], **env;
	int p[2] = { -1, -1 }, devnull = -1, rc;

	if ((env = make_env(req)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "on_publish hook of tree "
		    "%s", req->tree);
	if ((devnull = above_stdio(open("/dev/null",
	    O_RDONLY | O_CLOEXEC))) < 0 || pipe2(p, O_CLOEXEC) != 0 ||
	    (p[0] = above_stdio(p[0])) < 0 || (p[1] = above_stdio(p[1])) < 0) {
		rc = errno;
		free_env(env);
		if (devnull >= 0)
			close(devnull);
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		return pd_fail_errno(err, PD_ERR_IO, rc, "on_publish hook "
		    "of tree %s: pipe for its output", req->tree);
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if ((rc = posix_spawn_file_actions_adddup2(&fa, devnull, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, p[1], 1)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, p[1], 2)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0) {
		argv[0] = "sh";
		argv[1] = "-c";
		argv[2] = (char *)req->command;
		argv[3] = NULL;
		rc = posix_spawn(pid, "/bin/sh", &fa, &at, argv, env);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free_env(env);
	close(devnull);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return pd_fail_errno(err, PD_ERR_IO, rc, "on_publish hook of "
		    "tree %s: starting /bin/sh", req->tree);
	}
	*outfd = p[0];
	return PD_OK;
}

enum pd_err
nd_hook_run(const struct nd_hook_req *req, struct nd_hook_result *res,
    struct pd_error *err)
{
	const char *sig;
	int64_t deadline;
	bool done, killed = false;
	int outfd = -1, pidfd, st, i, fl;
	enum pd_err rc;
	pid_t pid, reaped;

	memset(res, 0, sizeof(*res));
	res->end = ND_HOOK_NOT_RUN;
	if (req->command == NULL || req->command[0] == '\0' ||
	    req->tree == NULL || req->path == NULL || req->publish == NULL ||
	    req->timeout_ms == 0)
		return pd_fail(err, PD_ERR_USAGE, "on_publish hook of tree "
		    "%s: no command, paths or timeout",
		    req->tree ? req->tree : "?");
	if ((rc = spawn(req, &pid, &outfd, err)) != PD_OK)
		return rc;
	/* No pidfd (old kernel): wait_until polls in slices instead. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	deadline = pd_mono_ms() + req->timeout_ms;
	if (!(done = wait_until(pid, pidfd, &outfd, deadline, res))) {
		killed = true;
		kill(-pid, SIGTERM);
		done = wait_until(pid, pidfd, &outfd,
		    pd_mono_ms() + ND_HOOK_KILL_GRACE_MS, res);
		/* Whatever of the group is left, SIGTERM or not. */
		kill(-pid, SIGKILL);
	}
	while ((reaped = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		continue;
	if (pidfd >= 0)
		close(pidfd);
	/* What is already in the pipe; not what background children may
	 * write later. */
	if (outfd >= 0 && (fl = fcntl(outfd, F_GETFL)) >= 0 &&
	    fcntl(outfd, F_SETFL, fl | O_NONBLOCK) == 0)
		for (i = 0; i < DRAIN_MAX && outfd >= 0; i++)
			read_some(&outfd, res);
	if (outfd >= 0)
		close(outfd);

	if (reaped != pid) {
		res->end = killed ? ND_HOOK_TIMED_OUT : ND_HOOK_EXITED;
		res->code = -1;
		return pd_fail(err, PD_ERR_IO, "on_publish hook of tree %s "
		    "version %" PRIu64 ": its exit status is lost (SIGCHLD "
		    "ignored?)", req->tree, req->version);
	}
	res->code = WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st);
	if (killed) {
		res->end = ND_HOOK_TIMED_OUT;
		return pd_fail(err, PD_ERR_LIMIT, "on_publish hook of tree "
		    "%s version %" PRIu64 ": timed out after %u ms (process "
		    "group killed%s)", req->tree, req->version,
		    req->timeout_ms, done ? "" : " with SIGKILL");
	}
	if (WIFSIGNALED(st)) {
		res->end = ND_HOOK_SIGNALED;
		sig = sigabbrev_np(res->code);
		return pd_fail(err, PD_ERR_IO, "on_publish hook of tree %s "
		    "version %" PRIu64 ": killed by signal %d (SIG%s)",
		    req->tree, req->version, res->code, sig ? sig : "?");
	}
	res->end = ND_HOOK_EXITED;
	if (res->code != 0)
		return pd_fail(err, PD_ERR_IO, "on_publish hook of tree %s "
		    "version %" PRIu64 ": exited with status %d", req->tree,
		    req->version, res->code);
	return PD_OK;
}
