/*
 * Manifests: the canonical, signed list of a version's entries.
 * The byte format is specified in spec/MANIFEST.md; this module is its
 * only reader and writer.
 *
 * A struct pr_manifest is plain data: build one with pr_manifest_new()
 * and pr_manifest_add(), or get one from pr_manifest_parse().  Entry
 * strings live in the manifest's own arena and die with it.  A manifest
 * is not safe to change from two threads; reading from many is fine.
 */
#ifndef PR_MANIFEST_H
#define PR_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/buf.h"
#include "../common/sha256.h"
#include "limits.h"
#include "sign.h"

#define PR_MANIFEST_MAGIC	"pulpdist-manifest 1"
/* What the signature covers: this prefix, then the 32-byte manifest id. */
#define PR_SIGN_CONTEXT		"pulpdist manifest v1\n"

enum pr_type {
	PR_DIR = 'd',
	PR_FILE = 'f',
	PR_LINK = 'l',
};

/*
 * Twelve bytes, four-aligned, so that an entry packs its small fields
 * behind it: a pull holds two arrays of 80,000 entries, and 16 bytes
 * less each is 2.5 MB of an update's peak.
 */
struct pr_time {
	int64_t		 sec;		/* seconds since the epoch */
	uint32_t	 nsec;		/* 0..999999999 */
} __attribute__((packed, aligned(4)));

/*
 * 80 bytes, without holes.  The narrow fields hold what the format
 * allows (limits.h): paths and targets of PR_PATH_MAX and PR_TARGET_MAX
 * bytes, permission bits, three types.
 */
struct pr_entry {
	const char	*path;		/* decoded, NUL-terminated */
	const char	*target;	/* link target (PR_LINK), else NULL */
	uint64_t	 size;		/* bytes (PR_FILE), else 0 */
	struct pr_time	 mtime;
	uint16_t	 path_len;	/* bytes in path */
	uint16_t	 target_len;	/* bytes in target */
	uint16_t	 mode;		/* permission bits; links 0777 */
	uint8_t		 type;		/* enum pr_type */
	uint32_t	 link;		/* hardlink group (PR_FILE), 0 none */
	unsigned char	 sha[PD_SHA256_LEN];	/* content (PR_FILE) */
};

_Static_assert(sizeof(struct pr_entry) == 80, "pr_entry has no holes");
_Static_assert(PR_PATH_MAX <= UINT16_MAX && PR_TARGET_MAX <= UINT16_MAX,
    "path lengths fit pr_entry");

struct pr_manifest {
	char		 tree[PR_TREE_NAME_MAX + 1];
	uint64_t	 version;	/* 1, 2, 3... */
	bool		 has_parent;	/* false only for version 1 */
	unsigned char	 parent[PD_SHA256_LEN];	/* previous manifest id */
	int64_t		 created;	/* seconds since the epoch */
	int64_t		 expires;	/* seconds since the epoch, 0 never */
	unsigned char	 keyid[PR_KEYID_LEN];	/* signing key */
	uint32_t	 root_mode;	/* the tree's top directory */
	struct pr_time	 root_mtime;
	struct pr_entry	*entries;	/* sorted by path bytes */
	size_t		 nentries;
	/* Set by pr_manifest_sign() and pr_manifest_parse(). */
	bool		 is_signed;
	unsigned char	 id[PD_SHA256_LEN];	/* SHA-256 of the body */
	unsigned char	 sig[PR_SIG_LEN];
	/* private */
	size_t		 cap;
	struct pd_arena	 arena;
};

/* Totals of a manifest, for logs and reports. */
struct pr_stats {
	uint64_t	 files;
	uint64_t	 dirs;
	uint64_t	 links;
	uint64_t	 bytes;		/* sum of file sizes, hardlinks once */
};

struct pr_manifest *pr_manifest_new(void);
void	pr_manifest_free(struct pr_manifest *);

/*
 * Take m's strings into the manifest: pr_manifest_add_kept may then add
 * entries of m without copying their paths.  m stays the caller's, and
 * the two can be freed in either order (pd_arena_keep).
 */
enum pd_err pr_manifest_keep_strings(struct pr_manifest *,
	    const struct pr_manifest *m) PD_WARN_UNUSED;
enum pd_err pr_manifest_add_kept(struct pr_manifest *,
	    const struct pr_entry *) PD_WARN_UNUSED;
/* Copy e (and its strings) into m.  Order does not matter until sorted. */
enum pd_err pr_manifest_add(struct pr_manifest *, const struct pr_entry *)
	    PD_WARN_UNUSED;
/* Sort entries by path bytes, as the encoding requires. */
void	pr_manifest_sort(struct pr_manifest *);

/*
 * Check every rule of spec/MANIFEST.md that does not depend on the
 * encoding: header fields, sorted unique paths, safe paths, parents that
 * are directories, field ranges, hardlink groups.  The error names the
 * entry.
 */
enum pd_err pr_manifest_check(const struct pr_manifest *, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Append the canonical body (everything but the signature line) to out.
 * *content_off, if not NULL, receives the offset of the "root" line: the
 * bytes from there on depend only on the tree's content, not on its
 * version, dates or key.
 */
enum pd_err pr_manifest_encode(const struct pr_manifest *, struct pd_buf *out,
	    size_t *content_off, struct pd_error *) PD_WARN_UNUSED;

/*
 * Receives the next n > 0 bytes of an encoding, valid only during the
 * call.  Any code but PD_OK stops the encoding, which returns it and
 * leaves err as the sink left it (the sink shares the caller's err
 * through arg if it has a text to give).
 */
typedef enum pd_err pr_sink(void *arg, const void *, size_t);

/* What an encoding to a sink hashed on the way. */
struct pr_msums {
	unsigned char	 id[PD_SHA256_LEN];	 /* of the body */
	unsigned char	 content[PD_SHA256_LEN]; /* content digest */
	uint64_t	 len;			 /* bytes of the body */
};

/*
 * The body, as pr_manifest_encode() makes it, given to sink in pieces
 * (about 64 KiB) as it is made, never whole in memory.  sink may be
 * NULL to hash only.  sums, if not NULL, gets the body's id and content
 * digest (pr_manifest_content_digest) and length.
 */
enum pd_err pr_manifest_encode_to(const struct pr_manifest *, pr_sink *sink,
	    void *arg, struct pr_msums *sums, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Check, encode, sign with key (whose id must equal m->keyid) and append
 * the signed manifest to out; sets m->id, m->sig, m->is_signed.
 */
enum pd_err pr_manifest_sign(struct pr_manifest *, const struct pr_key *,
	    struct pd_buf *out, struct pd_error *) PD_WARN_UNUSED;

/*
 * Parse untrusted bytes of a signed manifest.  Everything is checked
 * (format, canonical form, pr_manifest_check rules, limits) before *out
 * is set; the signature is read but not verified: call
 * pr_manifest_verify() with the trusted key before using the entries.
 */
enum pd_err pr_manifest_parse(const void *, size_t, struct pr_manifest **out,
	    struct pd_error *) PD_WARN_UNUSED;
/*
 * pr_manifest_parse of bytes in a read-only mapping of a file, which it
 * gives back to the kernel page by page behind the parser: a manifest
 * of 80,000 entries is 11 MB of text, and it then costs a megabyte of
 * resident memory next to its entries instead.  Never for other memory:
 * MADV_DONTNEED would zero it.  digest, if not NULL, gets the content
 * digest (pr_manifest_content_digest) from the same pass.
 */
enum pd_err pr_manifest_parse_mapped(const void *, size_t,
	    struct pr_manifest **out, unsigned char *digest,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Sign a body that pr_manifest_encode() already appended to out at
 * body_off: hash it, sign, append the signature line.
 */
enum pd_err pr_manifest_seal(struct pr_manifest *, const struct pr_key *,
	    struct pd_buf *out, size_t body_off, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * The SHA-256 of the content part of a signed manifest that parsed: from
 * its "root" line to its signature line, the bytes after the
 * content_off pr_manifest_encode() gives.  Equal trees give equal
 * digests whatever their versions, dates or keys.
 */
enum pd_err pr_manifest_content_digest(const void *, size_t,
	    unsigned char out[PD_SHA256_LEN], struct pd_error *)
	    PD_WARN_UNUSED;

/* PD_OK if m is signed by key (key id and signature both match). */
enum pd_err pr_manifest_verify(const struct pr_manifest *,
	    const struct pr_key *, struct pd_error *) PD_WARN_UNUSED;

/* The entry with this path, or NULL. */
const struct pr_entry *pr_manifest_find(const struct pr_manifest *,
	    const char *path, size_t len);

void	pr_manifest_stats(const struct pr_manifest *, struct pr_stats *);

/* Order of paths in a manifest: bytewise, a prefix first. */
int	pr_path_cmp(const char *, size_t, const char *, size_t);

/* NULL if name is a valid tree name, else why not. */
const char *pr_tree_name_check(const char *);

/* The message a manifest signature covers, for an id. */
void	pr_manifest_signed_msg(const unsigned char *id,
	    unsigned char out[sizeof(PR_SIGN_CONTEXT) - 1 + PD_SHA256_LEN]);

#endif
