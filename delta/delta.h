/*
 * librsync signatures, deltas and patches as streaming jobs over file
 * descriptors (DESIGN.md, "Flow of one update", steps 1 and 4).
 *
 * Every function here works through fixed buffers of DL_IOBUF bytes: no
 * file is ever read whole into memory.  The one thing that grows with the
 * input is the signature of a basis, which a delta keeps in memory: under
 * 100 bytes per block (36 of sums, plus librsync's array growth and hash
 * table), with blocks of sqrt(basis size) bytes (rs_sig_args), so a few
 * MiB for a 2 GiB basis (3.4 MiB of peak RSS measured for a whole delta
 * and patch) and about 100 MiB for a 1 TiB one.  A patch needs no
 * signature: its memory is fixed.
 *
 * Formats are librsync's own (RS_RK_BLAKE2_SIG_MAGIC signatures with
 * 32-byte BLAKE2 strong sums; RS_DELTA_MAGIC deltas), so Debian's rdiff
 * reads what these functions write and the other way round:
 * "rdiff patch BASIS DELTA NEW" applies a delta from dl_delta(), and
 * dl_patch() applies one from "rdiff delta".
 *
 * Trust: a delta is untrusted (it may come from any peer).  librsync does
 * not check the COPY commands of a delta against the basis; the patcher's
 * copy callback does, and the output is capped at a size the caller takes
 * from the signed manifest.  Signatures are trusted: only this node makes
 * the signatures it uses.
 *
 * Descriptors: unless a function says otherwise, input descriptors are
 * read with read(2) from their current offset to end of file and output
 * descriptors are written with write(2) at their current offset; both may
 * be pipes.  Nothing here closes, syncs or truncates a descriptor the
 * caller passed; making the output durable is the caller's job.  Error
 * texts say what was being read or written ("the basis", "the new file",
 * "the delta"); callers put the path or object name in front of them with
 * pd_prefix().
 *
 * librsync: opened with dlopen(3) by the first call that needs it
 * (dl_sig, dl_delta, dl_delta_sig, dl_patcher_new, dl_patch), once per
 * process.  When it cannot be loaded, each of them fails with PD_ERR_IO
 * and a text naming librsync.so.2 and Debian's package, librsync2.
 *
 * Threads: the functions may run on any number of threads at once; a
 * struct dl_patcher belongs to one thread at a time.  librsync's log
 * output is captured (once per process) so that its messages end up in
 * struct pd_error texts instead of on stderr.  librsync aborts the
 * process when one of its own allocations fails (rs_alloc); that cannot
 * be caught here.
 */
#ifndef DL_DELTA_H
#define DL_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

/* Bytes in each input and output buffer of a job. */
#define DL_IOBUF	(64 * 1024)

/* Largest signature file dl_delta_sig() loads (a 1 TiB basis: 36 MiB). */
#define DL_SIG_FILE_MAX	(64ULL << 20)

/*
 * Write the librsync signature of the basis read from basis_fd to out_fd.
 * The block length comes from rs_sig_args() for the bytes the basis has
 * left (fstat(2) size minus the current offset; librsync's default 2 KiB
 * blocks when basis_fd is not a regular file).
 *
 * On success *out_len (if not NULL) holds the bytes written.
 * Errors: PD_ERR_IO (reading basis_fd or writing out_fd), PD_ERR_NOMEM.
 */
enum pd_err dl_sig(int basis_fd, int out_fd, uint64_t *out_len,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Write to out_fd the delta that turns the basis read from basis_fd into
 * the new file read from new_fd.  The basis is read once, to build its
 * signature in memory (as dl_sig() would), then the new file is read once.
 * Standard librsync delta format: "rdiff patch BASIS DELTA NEW" applies it.
 *
 * On success *out_len (if not NULL) holds the delta's size in bytes.
 * Errors: PD_ERR_IO (reading either input or writing out_fd),
 * PD_ERR_NOMEM.  On failure out_fd has received some prefix of a delta,
 * which the caller throws away.
 */
enum pd_err dl_delta(int basis_fd, int new_fd, int out_fd, uint64_t *out_len,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Like dl_delta(), from a signature already made by dl_sig() (or by
 * "rdiff signature") and read from sig_fd, so that one signature can
 * serve many deltas.  The signature must be one this node made: librsync
 * checks a signature's header only loosely.
 *
 * Errors: PD_ERR_LIMIT (signature over DL_SIG_FILE_MAX bytes),
 * PD_ERR_CORRUPT (not a librsync signature, or truncated), PD_ERR_IO,
 * PD_ERR_NOMEM.
 */
enum pd_err dl_delta_sig(int sig_fd, int new_fd, int out_fd,
	    uint64_t *out_len, struct pd_error *) PD_WARN_UNUSED;

/*
 * A patcher applies one untrusted delta, pushed to it in pieces of any
 * size as they arrive (from a network body, a decompressor, a file).
 *
 * The basis is read with pread(2) at offsets 0 to basis_size - 1; the file
 * offset of basis_fd is neither used nor changed.  A COPY command of the
 * delta that reaches past basis_size (or whose offset and length overflow)
 * stops the patch with PD_ERR_CORRUPT and a text saying that the delta
 * copies past the end of the basis.  basis_size is what the caller knows
 * the basis to be (its manifest entry), not what fstat says: a basis
 * file shorter than basis_size is PD_ERR_CORRUPT too, when a copy
 * reaches the missing bytes.
 *
 * The patched file is written to out_fd at its current offset; the patch
 * stops with PD_ERR_LIMIT as soon as its output would pass max_out bytes
 * (the size the signed manifest promises), before those bytes are
 * written.  Output produced before a failure stays in out_fd; the caller
 * discards it.  A successful patch still proves nothing about the
 * content: the caller checks its SHA-256 against the manifest.
 *
 * Every librsync error (bad magic, unknown command, bad lengths, delta
 * ending early) is PD_ERR_CORRUPT with librsync's description.  Bytes
 * after the delta's END command are PD_ERR_CORRUPT too.
 *
 * A patcher that failed is poisoned: every later dl_patcher_feed() and
 * dl_patcher_finish() returns the same error code again.
 */
struct dl_patcher;

/*
 * Make a patcher.  The patcher borrows basis_fd and out_fd: they must
 * stay open until dl_patcher_free(), which does not close them.
 *
 * Errors: PD_ERR_USAGE (basis_size over INT64_MAX), PD_ERR_NOMEM.
 * On success *pp is the caller's, to free with dl_patcher_free().
 */
enum pd_err dl_patcher_new(int basis_fd, uint64_t basis_size, int out_fd,
	    uint64_t max_out, struct dl_patcher **pp, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Apply the next n bytes of the delta (n may be 0).  The bytes are not
 * kept after the call returns.  Patched output is written as soon as it
 * is known, so one call may write much more than n bytes (a COPY command
 * of a gigabyte writes a gigabyte, DL_IOBUF bytes at a time).
 *
 * Errors: PD_ERR_CORRUPT (see above; also bytes after the END command),
 * PD_ERR_LIMIT (output over max_out), PD_ERR_IO (reading the basis or
 * writing out_fd).
 */
enum pd_err dl_patcher_feed(struct dl_patcher *, const void *buf, size_t n,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Declare the end of the delta.  Succeeds only if the delta ended with its
 * END command; a truncated delta is PD_ERR_CORRUPT.  On success *out_len
 * (if not NULL) holds the bytes written to out_fd.  The patcher is still
 * the caller's to free.
 */
enum pd_err dl_patcher_finish(struct dl_patcher *, uint64_t *out_len,
	    struct pd_error *) PD_WARN_UNUSED;

/* Free a patcher at any point; NULL is a no-op.  Closes nothing. */
void	dl_patcher_free(struct dl_patcher *);

/*
 * Apply the whole delta read from delta_fd: dl_patcher_new(), feed and
 * finish, free.  Same arguments, errors and guarantees as the patcher;
 * PD_ERR_IO also for reading delta_fd.
 */
enum pd_err dl_patch(int basis_fd, uint64_t basis_size, int delta_fd,
	    int out_fd, uint64_t max_out, uint64_t *out_len, struct pd_error *)
	    PD_WARN_UNUSED;

#endif
