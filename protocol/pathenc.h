/*
 * The canonical escaping of paths and link targets (spec/MANIFEST.md,
 * "Escaping").  A byte is written as itself when it is printable ASCII
 * other than space and '%', or part of a well-formed UTF-8 sequence;
 * every other byte is written %XX with uppercase hex.  So every byte,
 * newline and NUL included, has exactly one spelling, and an escaped path
 * never contains space or newline.
 */
#ifndef PR_PATHENC_H
#define PR_PATHENC_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/buf.h"

/* Append the escaped form of n bytes to b. */
enum pd_err pr_escape(struct pd_buf *b, const void *, size_t n) PD_WARN_UNUSED;

/*
 * Decode n escaped bytes into out (at least n bytes), setting *outlen.
 * False if the input is not in canonical form: a bad or lowercase %XX, a
 * byte escaped that must be literal, or a literal that must be escaped.
 */
bool	pr_unescape(const char *in, size_t n, char *out, size_t *outlen);

/*
 * A path for a message: escaped, and if longer than outsz - 1 bytes cut
 * in the middle ("head...tail"), so that what follows it in a message
 * (the reason) is never lost.  Returns out.  outsz must be at least 16.
 */
#define PR_SHOW_MAX	256
const char *pr_path_show(const char *p, size_t n, char *out, size_t outsz);

/* True if the n bytes need no escaping (plain printable or UTF-8). */
bool	pr_is_plain(const void *, size_t n);
/* True if the bytes are printable UTF-8 (space and '%' allowed). */
bool	pr_is_printable(const void *, size_t n);

/*
 * Check a decoded tree-relative path: not empty, no leading or trailing
 * '/', no empty, "." or ".." component, no NUL, within PR_PATH_MAX and
 * PR_NAME_MAX per component.  Returns NULL when valid, else a reason.
 */
const char *pr_path_check(const char *, size_t n);

#endif
