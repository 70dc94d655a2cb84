/*
 * Unit tests of node/hook.c: the environment a hook sees, its exit
 * status and signals, the timeout killing its whole process group (with
 * SIGKILL when SIGTERM is ignored), bounded output, and never a zombie.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/mem.h"
#include "../../node/hook.h"
#include "unit.h"

static struct nd_hook_result res;	/* 4 KiB: not on the stack */

static void
req_init(struct nd_hook_req *req, const char *command)
{
	memset(req, 0, sizeof(*req));
	req->command = command;
	req->tree = "lab7";
	req->version = 12;
	req->prev_version = 11;
	req->path = "/data/versions/lab7/12";
	req->publish = "/pub/lab7";
	req->timeout_ms = 20000;
}

/* No child of ours is left, zombie or running. */
static void
no_children(void)
{
	errno = 0;
	CU_ASSERT_EQUAL(waitpid(-1, NULL, WNOHANG), -1);
	CU_ASSERT_EQUAL(errno, ECHILD);
}

static void
read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void
test_env(void)
{
	char *tmp = unit_tmpdir(), out[4096], cmd[8192], got[4096];
	struct pd_error err = { 0 };
	struct nd_hook_req req;
	int leak;

	unit_pjoin(out, sizeof(out), tmp, "env");
	/* A descriptor of the node that must not reach the hook. */
	leak = fcntl(0, F_DUPFD, 20);
	CU_ASSERT_FATAL(leak >= 20);
	CU_ASSERT_EQUAL(setenv("PULPDIST_TREE", "stale", 1), 0);
	CU_ASSERT_EQUAL(setenv("HOOKTEST_KEPT", "kept value", 1), 0);
	snprintf(cmd, sizeof(cmd), "printf '%%s|' \"$PULPDIST_TREE\" "
	    "\"$PULPDIST_VERSION\" \"$PULPDIST_PATH\" "
	    "\"$PULPDIST_PREV_VERSION\" \"$PULPDIST_PUBLISH\" "
	    "\"$HOOKTEST_KEPT\" \"$(wc -c)\" "
	    "\"$(test -e /proc/$$/fd/%d && echo leaked)\" > '%s'",
	    leak, out);
	req_init(&req, cmd);
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_OK);
	CU_ASSERT_EQUAL(err.code, PD_OK);
	CU_ASSERT_EQUAL(res.end, ND_HOOK_EXITED);
	CU_ASSERT_EQUAL(res.code, 0);
	read_file(out, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "lab7|12|/data/versions/lab7/12|11|"
	    "/pub/lab7|kept value|0||");

	/* The first version: no previous one is "0". */
	req.prev_version = 0;
	req.version = 1;
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_OK);
	read_file(out, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "lab7|1|/data/versions/lab7/12|0|"
	    "/pub/lab7|kept value|0||");
	unsetenv("PULPDIST_TREE");
	unsetenv("HOOKTEST_KEPT");
	close(leak);
	no_children();
	unit_rmdir(tmp);
}

static void
test_status(void)
{
	struct pd_error err = { 0 };
	struct nd_hook_req req;

	req_init(&req, "echo starting; echo trouble >&2; exit 3");
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_ERR_IO);
	CU_ASSERT_EQUAL(res.end, ND_HOOK_EXITED);
	CU_ASSERT_EQUAL(res.code, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "status 3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "lab7"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "12"));
	CU_ASSERT_STRING_EQUAL(res.output, "starting\ntrouble\n");
	CU_ASSERT_EQUAL(res.output_total, 17);
	no_children();

	pd_error_clear(&err);
	req_init(&req, "kill -USR1 $$");
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_ERR_IO);
	CU_ASSERT_EQUAL(res.end, ND_HOOK_SIGNALED);
	CU_ASSERT_EQUAL(res.code, SIGUSR1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "SIGUSR1"));
	no_children();

	pd_error_clear(&err);
	req_init(&req, "/nonexistent/pulpdist-hook");
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_ERR_IO);
	CU_ASSERT_EQUAL(res.end, ND_HOOK_EXITED);
	CU_ASSERT_EQUAL(res.code, 127);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.output, "pulpdist-hook"));
	no_children();

	pd_error_clear(&err);
	req_init(&req, "");
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_ERR_USAGE);
	CU_ASSERT_EQUAL(res.end, ND_HOOK_NOT_RUN);
	pd_error_clear(&err);
	req_init(&req, "true");
	req.timeout_ms = 0;
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_ERR_USAGE);
	no_children();
}

/* pid is gone, or a zombie that is not ours (reparented). */
static bool
dead(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z';
}

/* Wait (up to 10 s) until pid is dead. */
static bool
wait_dead(pid_t pid)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < 500; i++) {
		if (dead(pid))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static pid_t
read_pid(const char *path)
{
	char buf[64];

	read_file(path, buf, sizeof(buf));
	return (pid_t)strtol(buf, NULL, 10);
}

static void
test_timeout(void)
{
	char *tmp = unit_tmpdir(), pidf[4096], cmd[8192];
	struct pd_error err = { 0 };
	struct nd_hook_req req;
	pid_t child;

	/* A child in the background, and the command itself, sleep. */
	unit_pjoin(pidf, sizeof(pidf), tmp, "pid");
	snprintf(cmd, sizeof(cmd), "sleep 60 & echo $! > '%s'; "
	    "echo waiting; sleep 60", pidf);
	req_init(&req, cmd);
	req.timeout_ms = 300;
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(res.end, ND_HOOK_TIMED_OUT);
	CU_ASSERT_EQUAL(res.code, SIGTERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "timed out"));
	CU_ASSERT_STRING_EQUAL(res.output, "waiting\n");
	no_children();
	child = read_pid(pidf);
	CU_ASSERT_FATAL(child > 0);
	CU_ASSERT(wait_dead(child));

	/* SIGTERM ignored by all of them: SIGKILL after the grace. */
	pd_error_clear(&err);
	snprintf(cmd, sizeof(cmd), "trap '' TERM; sleep 60 & "
	    "echo $! > '%s'; sleep 60", pidf);
	req_init(&req, cmd);
	req.timeout_ms = 300;
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_ERR_LIMIT);
	CU_ASSERT_EQUAL(res.end, ND_HOOK_TIMED_OUT);
	CU_ASSERT_EQUAL(res.code, SIGKILL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "SIGKILL"));
	no_children();
	child = read_pid(pidf);
	CU_ASSERT_FATAL(child > 0);
	CU_ASSERT(wait_dead(child));
	unit_rmdir(tmp);
}

static void
test_output_bounded(void)
{
	struct pd_error err = { 0 };
	struct nd_hook_req req;
	size_t i;
	bool all_a = true;

	req_init(&req, "head -c 100000 /dev/zero | tr '\\0' a; "
	    "printf END >&2");
	CU_ASSERT_EQUAL(nd_hook_run(&req, &res, &err), PD_OK);
	CU_ASSERT_EQUAL(res.output_total, 100003);
	CU_ASSERT_EQUAL(res.output_len, ND_HOOK_OUTPUT_MAX);
	CU_ASSERT_EQUAL(strlen(res.output), ND_HOOK_OUTPUT_MAX);
	CU_ASSERT_STRING_EQUAL(res.output + ND_HOOK_OUTPUT_MAX - 3, "END");
	for (i = 0; i < ND_HOOK_OUTPUT_MAX - 3; i++)
		all_a &= res.output[i] == 'a';
	CU_ASSERT(all_a);
	no_children();
}

static int
add_suite(void)
{
	static const struct unit_test tests[] = {
		{ "environment", test_env },
		{ "status", test_status },
		{ "timeout kills the group", test_timeout },
		{ "output bounded", test_output_bounded },
	};

	return UNIT_SUITE("hook", NULL, NULL, tests);
}

UNIT_REGISTER("hook", add_suite)
