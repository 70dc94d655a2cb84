/*
 * Shared by the files of the node configuration only: node/config.c
 * (reading the file, sections, rules between keys), config_val.c (one
 * parser per value type) and config_use.c (the key table, checking
 * files, diff).  The
 * interface is config.h.
 *
 * One table, keys[], says everything about every key: where it may
 * appear, its type, where its value goes, its bounds, its default (as
 * text, parsed like a value, so doc/CONFIG.md and the code say the same
 * thing), whether it is required, whether a reload applies it, and what
 * nd_conf_check_files checks of the path it names.
 */
#ifndef ND_CONFIG_INT_H
#define ND_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "config.h"

/* Where a key may appear. */
#define W_NODE		0x1u
#define W_ORIGIN	0x2u
#define W_MIRROR	0x4u
#define W_TREE		(W_ORIGIN | W_MIRROR)

/* Flags of a key. */
#define K_REQUIRED	0x01u	/* no default: the section must give it */
#define K_RESTART	0x02u	/* a running daemon cannot change it */
#define K_FILE		0x04u	/* names a readable regular file */
#define K_DIR		0x08u	/* names a directory */
#define K_DATA		0x10u	/* a directory, or its parent is one */
#define K_PRIVATE	0x20u	/* a private Ed25519 key file */
#define K_PUBLIC	0x40u	/* a public Ed25519 key file */
#define K_NEVER		0x80u	/* a duration that may be "never" (0) */
#define K_READ		0x100u	/* a directory this process can read */

enum ktype {
	T_NAME,		/* const char *, tree name rules */
	T_PATH,		/* const char *, absolute */
	T_COMMAND,	/* const char *, any non-empty text */
	T_BOOL,		/* bool */
	T_UINT,		/* unsigned, min..max */
	T_DURATION,	/* int64_t seconds, min..max */
	T_RATE,		/* uint64_t bytes per second */
	T_LISTEN,	/* struct nd_conf_addr */
	T_URLS,		/* const struct nd_conf_url *, count after it */
	T_SCHED,	/* const struct nd_sched * */
	T_WINDOW,	/* const struct nd_window * */
	T_LEVEL,	/* enum pd_log_level */
	T_ROLE,		/* enum nd_conf_role */
};

struct keydef {
	const char	*name;
	enum ktype	 type;
	unsigned	 where;		/* W_* */
	size_t		 off;		/* in nd_conf_node or nd_conf_tree */
	int64_t		 min, max;	/* T_UINT, T_DURATION */
	const char	*def;		/* default text; NULL: none */
	unsigned	 flags;		/* K_* */
};

extern const struct keydef nd_conf_keys[];
extern const size_t nd_conf_nkeys;

/* A tree and the line of each of its keys (0: not given). */
struct nd_conf_trec {
	struct nd_conf_tree	 t;
	unsigned		 hdr;		/* line of [tree NAME] */
	unsigned		*line;		/* [nd_conf_nkeys] */
};

struct nd_conf {
	char			*path;
	struct pd_arena		 arena;		/* every string */
	struct nd_conf_node	 node;
	unsigned		 node_hdr;
	unsigned		*node_line;	/* [nd_conf_nkeys] */
	struct nd_conf_trec	*trees;
	size_t			 ntrees;
};

/*
 * Parse one value of key k into the field at base + k->off, strings
 * into the arena.  NULL on success; else why not, a sentence in buf.
 * Allocation failure sets *nomem.
 */
const char *nd_conf_parse_value(const struct keydef *k, const char *value,
	    void *base, struct pd_arena *, bool *nomem, char *buf,
	    size_t bufsz);

/* Free what a parsed value of key k owns outside the arena. */
void	nd_conf_free_value(const struct keydef *k, void *base);

/* Whether two parsed values of key k are the same. */
bool	nd_conf_same_value(const struct keydef *k, const void *a,
	    const void *b);

/* Whether host (an IP literal or a name) is a loopback address. */
bool	nd_conf_loopback(const char *host);

#endif
