/* resp_conn.h -- one non-blocking, pipelined RESP connection on hiredis 0.14.1 (its reader
 * and command formatter only), driven by an epoll loop the caller owns.
 *
 * Design (in the manner of Redis's ae.c): the library owns the transport of one connection
 * -- the socket, the hiredis reader, the output buffer and its EPOLLOUT interest -- and knows
 * nothing of its users. What a reply means, which requests are pending (the caller's FIFO
 * of requests waiting for replies), what happens on a connection loss, when to reconnect and
 * what to (re)send are the caller's: it gets them through hooks (struct resp_conn_hooks) and
 * finds its own state again through the client data pointer `data`.
 *   - writing: the caller appends formatted commands (resp_conn_append*) and calls
 *     resp_conn_flush(), which writes what the socket takes now and asks epoll for EPOLLOUT
 *     while anything is left; on EPOLLOUT the `writable` hook lets the caller append more
 *     (its pending requests) and flush again.
 *   - the output is a queue of segments written with writev: bytes the library owns (copied
 *     into its buffer by resp_conn_append*; consecutive ones share a segment) and bytes it
 *     borrows (resp_conn_append_ref: a page of the write-behind pool goes to the socket
 *     straight from its buffer, no copy). A borrowed segment is the caller's to keep valid
 *     and unchanged until it is written; for a request that is at the latest when its reply
 *     arrives (the server cannot answer bytes it has not read), and resp_conn_close drops
 *     every segment not yet written.
 *   - reading: on EPOLLIN/EPOLLHUP/EPOLLERR every complete reply goes, in order, to the
 *     `reply` hook, and is freed when the hook returns.
 *   - transport errors (EOF, reset, write error) go to the `lost` hook, which must close the
 *     connection (resp_conn_close); a protocol error goes to `broken` (the stream cannot be
 *     resynchronised; the caller fails).
 * Connecting (resolve, connect, handshake) is blocking and bounded by socket timeouts: the
 * caller makes the socket (resp_sock_tune, resp_sync_cmd help) and hands it over with
 * resp_conn_attach(). The caller's FIFO stays the caller's; the library only keeps the
 * pipeline counts (nsent sent, skip to drop) and grows a ring on request (resp_ring_grow). */
#ifndef FLUIDMEM_RESP_CONN_H
#define FLUIDMEM_RESP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct resp_conn;

/* one piece of the output queue: owned bytes out[off..off+len) when ref is NULL, else the
 * caller's len bytes at ref */
struct resp_seg {
	const char *ref;
	size_t off, len;
};

struct resp_conn_hooks {
	/* one reply to the head of the caller's FIFO (skip was 0, nsent > 0; a reply without a
	 * request goes to `broken`); r is freed after the hook returns. The hook may close the
	 * connection (the remaining input is then dropped). */
	void (*reply)(struct resp_conn *c, redisReply *r);
	/* the transport failed (why: "connection closed by the server" or strerror text); the
	 * hook must call resp_conn_close(c) (it may log first: the connection is still open) */
	void (*lost)(struct resp_conn *c, const char *why);
	/* the server sent something that is not RESP; expected not to return (if it does, the
	 * connection is handed to `lost` with why "protocol error") */
	void (*broken)(struct resp_conn *c, const char *why);
	/* EPOLLOUT: the socket takes more; the hook appends what it wants and calls
	 * resp_conn_flush(c) */
	void (*writable)(struct resp_conn *c);
};

struct resp_conn {
	const char *name;                     /* for the caller's messages; not used here */
	const struct resp_conn_hooks *hooks;
	void *data;                           /* client data, never touched here */
	int fd;                               /* -1: closed */
	redisReader *rd;
	char *out;                            /* owned output bytes: out[0..olen) (some written) */
	size_t olen, ocap;
	struct resp_seg *seg;                 /* output queue: seg[shead..shead+scount), in order */
	size_t shead, scount, scap;
	size_t sdone;                         /* bytes of seg[shead] already written */
	bool want_out;                        /* EPOLLOUT is requested */
	/* the pipeline, kept by the caller (the library only reads nsent and counts skip down):
	 * nsent requests (the head of the caller's FIFO) have their commands in `out` or
	 * written; skip replies are still due to requests the caller abandoned (to resend
	 * them): they are dropped before the `reply` hook */
	size_t nsent, skip;
	uint64_t *heard;                      /* if set: CLOCK_MONOTONIC ns of every reply */
	int epfd;
	void *evptr;                          /* epoll_event.data.ptr of the fd */
};

/* Sets the TCP options of a connected socket: TCP_NODELAY, keepalive (idle 5 s, every 2 s,
 * 3 probes: a half-open peer turns into an error, then a reconnect, instead of silence) and
 * TCP_USER_TIMEOUT of user_timeout_ms. Errors are ignored (the options are best effort). */
void resp_sock_tune(int fd, unsigned int user_timeout_ms);

/* One blocking request on fd (argc <= 4, NUL-terminated arguments), its reply parsed with
 * rd. Returns the reply (the caller frees it with freeReplyObject; it may be an error
 * reply), or NULL with err set ("out of memory", "write: ...", "... during CMD",
 * "protocol error"). For handshakes only: the socket should have SO_RCVTIMEO/SO_SNDTIMEO. */
redisReply *resp_sync_cmd(int fd, redisReader *rd, int argc, const char **argv, char *err, size_t errlen);

/* Hands a connected, handshaken socket fd and its reader rd to c (closed before): makes fd
 * non-blocking and registers it with epfd for EPOLLIN with data.ptr evptr. Returns 0, or
 * -1 (errno from epoll_ctl) with c unchanged: fd and rd remain the caller's. The output
 * buffer keeps what was appended before (normally nothing: see resp_conn_close). */
int resp_conn_attach(struct resp_conn *c, int fd, redisReader *rd, int epfd, void *evptr);

/* Closes c if open: leaves epoll, closes the socket, frees the reader and drops the output
 * not yet written, owned and borrowed (the buffers' memory is kept for the next connection),
 * and the pipeline (nsent = skip = 0). */
void resp_conn_close(struct resp_conn *c);

/* Appends n bytes to the output buffer (grows it; exits on out of memory). Not written
 * until resp_conn_flush(). Allowed while closed (dropped by the next resp_conn_close). */
void resp_conn_append(struct resp_conn *c, const void *buf, size_t n);

/* Appends the caller's n bytes at buf by reference: they are written from buf itself
 * (writev), never copied. buf must stay valid and unchanged until they are written or the
 * connection is closed (resp_conn_close drops them): e.g. until the reply to the request
 * they belong to, or until resp_conn_unsent() is 0. Exits on out of memory. */
void resp_conn_append_ref(struct resp_conn *c, const void *buf, size_t n);

/* Bytes appended and not yet written (owned and borrowed). */
size_t resp_conn_unsent(const struct resp_conn *c);

/* Formats one command (hiredis redisFormatCommandArgv) into the output buffer; returns 0,
 * or -1 when out of memory (nothing appended). */
int resp_conn_append_argv(struct resp_conn *c, int argc, const char **argv, const size_t *lens);

/* Writes as much of the output queue as the socket takes now (a no-op when closed);
 * requests EPOLLOUT while some is left, drops it when all is written. A write error goes to
 * the `lost` hook (c is closed when this returns). */
void resp_conn_flush(struct resp_conn *c);

/* Handles epoll events of c's fd (a no-op when c was closed earlier in the same batch):
 * EPOLLIN/EPOLLHUP/EPOLLERR read and dispatch replies (hooks `reply`, `lost`, `broken`);
 * then, if still open, EPOLLOUT calls the `writable` hook. */
void resp_conn_event(struct resp_conn *c, uint32_t events);

/* The caller's FIFO of pending requests is a ring of elements of esz bytes: ring[(head + i)
 * % cap] is the i-th. When it is full (count == cap), resp_ring_grow returns a new array
 * holding the count elements in order from index 0 (the caller sets head to 0), frees the
 * old one and doubles *cap (initial when 0). Exits on out of memory. */
void *resp_ring_grow(void *ring, size_t esz, size_t head, size_t count, size_t *cap, size_t initial);

/* true if r is an error reply with the code `code` ("-LOADING ..." for "LOADING") */
bool resp_err_is(const redisReply *r, const char *code);

#endif
