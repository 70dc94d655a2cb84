/*
 * zstd streaming compression for objects, deltas and packs on the wire
 * (DESIGN.md, "Words": a delta is zstd-compressed; new content comes
 * whole, zstd-compressed).
 *
 * Both directions push: the caller feeds bytes in pieces of any size and
 * a sink function receives the output, in pieces of at most
 * ZSTD_CStreamOutSize() or ZSTD_DStreamOutSize() bytes (128 KiB), as soon
 * as zstd produces it.  Memory stays bounded whatever the stream's size.
 *
 * The decoder takes untrusted input: its output is capped (max_out, from
 * the signed manifest), and it refuses frames whose window is larger than
 * 2^DL_ZWINDOW_LOG_MAX bytes, so a hostile frame cannot make it allocate
 * more than about that much.  Several frames one after another decode as
 * the concatenation of their contents, as the zstd format allows.
 *
 * Threads: an encoder or decoder belongs to one thread at a time; any
 * number of them may run at once on different threads.  An encoder or
 * decoder that failed is poisoned: later calls return the same error code
 * again (dl_zenc_reset() makes an encoder usable again).
 */
#ifndef DL_ZSTD_H
#define DL_ZSTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

/* Largest window a frame may ask of the decoder: 2^27 = 128 MiB. */
#define DL_ZWINDOW_LOG_MAX	27

/*
 * Window of every other frame pulpdist makes: 2^20 = 1 MiB.  A receiver
 * holds a decoder of about the window for each transfer under way (8 at
 * once in a pull), so the level's own window (2 MiB at 6, 8 MiB at 19)
 * cost a first sync of the kernel tree 25 MB of its peak memory for 3%
 * fewer bytes on the wire.
 */
#define DL_ZWINDOW_LOG_SENT	20

/* The level pulpdist uses when nothing else is configured. */
#define DL_ZLEVEL_DEFAULT	3

/*
 * Content compressed once and kept for every receiver (objects, batch
 * responses): on source trees level 6 is 13% smaller than 3, which is
 * what brings a first sync's wire below rsync -z's, at about 60 MB/s a
 * core, paid by the first receiver only.
 */
#define DL_ZLEVEL_KEPT		6

/*
 * Receives n > 0 output bytes at out, valid only during the call.
 * Returns PD_OK to go on; any other code stops the encoder or decoder,
 * which returns that code to its caller.  A sink that wants its own text
 * in the error records it with pd_fail() in the same struct pd_error the
 * caller passed (through arg) before returning; otherwise a generic text
 * is recorded.
 */
typedef enum pd_err dl_zsink(void *arg, const void *out, size_t n);

/* Encoder. */
struct dl_zenc;

/*
 * Make an encoder at the given level (ZSTD_minCLevel() to
 * ZSTD_maxCLevel(); 0 is zstd's default).  Frames carry a content
 * checksum.  long_window turns on long-distance matching with a window of
 * 2^DL_ZWINDOW_LOG_MAX bytes (better for big files with far repeats, and
 * still within what dl_zdec accepts); without it the window is
 * 2^DL_ZWINDOW_LOG_SENT bytes.
 *
 * Errors: PD_ERR_USAGE (level out of range), PD_ERR_NOMEM.  On success
 * *zp is the caller's, to free with dl_zenc_free().
 */
enum pd_err dl_zenc_new(int level, bool long_window, struct dl_zenc **zp,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Compress the next n bytes of input (n may be 0).  Output that is ready
 * goes to sink(arg, ...) before the call returns; zstd may hold some back
 * until a later call.  The input is not kept after the call.
 *
 * Errors: whatever sink returned; PD_ERR_NOMEM; PD_ERR_USAGE (zstd refused
 * the call).
 */
enum pd_err dl_zenc_feed(struct dl_zenc *, const void *in, size_t n,
	    dl_zsink *sink, void *arg, struct pd_error *) PD_WARN_UNUSED;

/*
 * End the current frame: everything fed so far has gone to sink when
 * this returns PD_OK.  The encoder may then be fed again, which starts a
 * new frame (the output of both is one valid zstd stream).  Finishing
 * without feeding anything writes a frame of empty content.
 *
 * Errors: as dl_zenc_feed().
 */
enum pd_err dl_zenc_finish(struct dl_zenc *, dl_zsink *sink, void *arg,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Forget any unfinished frame and any earlier failure, keeping level and
 * window; the next feed starts a new frame.
 */
void	dl_zenc_reset(struct dl_zenc *);

/* Free an encoder at any point; NULL is a no-op. */
void	dl_zenc_free(struct dl_zenc *);

/* Decoder for untrusted input. */
struct dl_zdec;

/*
 * Make a decoder whose total output may not pass max_out bytes.
 *
 * Errors: PD_ERR_NOMEM.  On success *zp is the caller's, to free with
 * dl_zdec_free().
 */
enum pd_err dl_zdec_new(uint64_t max_out, struct dl_zdec **zp,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Decompress the next n bytes of the stream (n may be 0).  Output goes to
 * sink(arg, ...) as zstd produces it; bytes beyond max_out never reach
 * the sink.  The input is not kept after the call.
 *
 * Errors: PD_ERR_CORRUPT (not zstd, bad block, checksum mismatch: the
 * text has ZSTD_getErrorName()), PD_ERR_LIMIT (output over max_out, or a
 * frame asks for a window over 2^DL_ZWINDOW_LOG_MAX bytes), PD_ERR_NOMEM,
 * or whatever sink returned.
 */
enum pd_err dl_zdec_feed(struct dl_zdec *, const void *in, size_t n,
	    dl_zsink *sink, void *arg, struct pd_error *) PD_WARN_UNUSED;

/*
 * Declare the end of the stream.  Succeeds only if it ended at a frame
 * boundary after at least one frame; a stream that is empty or stops
 * inside a frame is PD_ERR_CORRUPT.  On success *out_len (if not NULL)
 * holds the total bytes given to the sink.
 */
enum pd_err dl_zdec_finish(struct dl_zdec *, uint64_t *out_len,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Make z as new, for another stream whose output may not pass max_out
 * bytes, at any point (a failed or unfinished stream is dropped).  It
 * keeps the buffers the last stream grew: a fresh decoder's window is
 * about a megabyte of pages the kernel must fault in, once for every
 * response of a pull that asks for hundreds.
 */
void	dl_zdec_reset(struct dl_zdec *z, uint64_t max_out);

/* Free a decoder at any point; NULL is a no-op. */
void	dl_zdec_free(struct dl_zdec *);

/*
 * Compress everything read from in_fd (from its offset to end of file)
 * into one zstd frame written to out_fd (at its offset), at the given
 * level, without long-distance matching.  Neither descriptor is closed.
 * A regular file's size goes in the frame header.  On success *in_len
 * and *out_len (each if not NULL) hold the bytes read and written.
 *
 * Errors: PD_ERR_IO (naming which side), and those of dl_zenc_new().
 */
enum pd_err dl_zcompress_fd(int in_fd, int out_fd, int level,
	    uint64_t *in_len, uint64_t *out_len, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Decompress the untrusted zstd stream read from in_fd into out_fd, at
 * most max_out bytes of output.  Neither descriptor is closed; on failure
 * out_fd may have received a prefix, which the caller throws away.  On
 * success *out_len (if not NULL) holds the bytes written.
 *
 * Errors: PD_ERR_IO (naming which side), and those of dl_zdec_feed() and
 * dl_zdec_finish().
 */
enum pd_err dl_zdecompress_fd(int in_fd, int out_fd, uint64_t max_out,
	    uint64_t *out_len, struct pd_error *) PD_WARN_UNUSED;

#endif
