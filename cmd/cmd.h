/*
 * The pulpdist command line: one function per subcommand (as git's
 * builtins), dispatched from main.c, plus the small helpers they share.
 * Commands print; nothing below them does.  Exit codes: 0 success,
 * 1 failure, 2 usage error.
 */
#ifndef CMD_H
#define CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../common/err.h"

#define EXIT_USAGE	2

int	cmd_keygen(int, char **);
int	cmd_import(int, char **);
int	cmd_log(int, char **);
int	cmd_show(int, char **);
int	cmd_diff(int, char **);
int	cmd_verify(int, char **);
int	cmd_pull(int, char **);
int	cmd_serve(int, char **);
int	cmd_node(int, char **);
int	cmd_status(int, char **);
int	cmd_tasks(int, char **);
int	cmd_sync(int, char **);
int	cmd_cancel(int, char **);
int	cmd_ca(int, char **);

/* Print "pulpdist CMD: message" and the usage to stderr; returns 2. */
int	usage_error(const char *cmd, const char *usage, const char *fmt, ...)
	    PD_PRINTF(3, 4);
/*
 * After getopt_long returned '?' or ':': name the option that was wrong
 * (unknown, or missing its value) and return 2.
 */
int	bad_option(const char *cmd, const char *usage, char **argv);
/* Log err's text (or its code's name) as an error; returns 1. */
int	fail(const struct pd_error *);

bool	parse_u64_arg(const char *, uint64_t *);
/* "90", "90s", "15m", "12h", "30d" or "never" (0) in seconds. */
bool	parse_duration(const char *, int64_t *);

/* Human forms: "1.5 MiB", "2026-11-22 20:52:14" (UTC). */
void	fmt_bytes(uint64_t, char *, size_t);
void	fmt_time(int64_t, char *, size_t);
/* A path as the manifest spells it (escaped): new string, or NULL. */
char	*esc_path(const char *, size_t);
/* Print a path as the manifest spells it. */
void	put_path(FILE *, const char *, size_t);
/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void	hex(const unsigned char *, size_t, char *out);
/* A JSON string of a path as the manifest spells it. */
json_t	*json_path(const char *, size_t);

/* Write j to stdout, indented, with a newline; takes j's reference. */
int	print_json(json_t *j);

#endif
