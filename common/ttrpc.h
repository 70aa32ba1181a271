/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc.h - ttRPC (containerd/ttrpc) server and client on top of protobuf-c.
 *
 * Wire: 10-byte header (u32 BE length, u32 BE stream id, u8 type, u8 flags),
 * payload <= TTRPC_MAX_PAYLOAD. Type 1 request, 2 response, 3 data.
 * Request/Response envelopes are protos/ttrpc.proto (package ttrpc).
 *
 * Server: one struct ttrpc_server per listening socket, driven by a loop.
 * Every decoded request becomes a struct ttrpc_call handed to the dispatch
 * callback. The handler answers exactly once with ttrpc_call_reply*() or
 * ttrpc_call_fail(), now or later (asynchronous handlers keep the call).
 * If the request's timeout_nano passes first, the server answers
 * DEADLINE_EXCEEDED itself and fires the call's cancel callback; if the
 * connection closes, the cancel callback fires too. In both cases the handler
 * must still release the call with a reply/fail (which is then discarded) or
 * ttrpc_call_release(). Many calls are in flight per connection; responses go
 * out in completion order.
 *
 * A malformed frame (bad type, stream id 0/even, oversize, undecodable
 * request) closes that connection only, with a logged reason.
 *
 * Client: blocking, one socket; ttrpc_client_send()/ttrpc_client_recv() allow
 * many requests in flight, ttrpc_client_call() is send+wait for one answer.
 */
#ifndef KATA_COMMON_TTRPC_H
#define KATA_COMMON_TTRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"
#include "loop.h"

#define TTRPC_HEADER_LEN 10
#define TTRPC_MAX_PAYLOAD (4u << 20)

enum ttrpc_msg_type {
	TTRPC_TYPE_REQUEST = 1,
	TTRPC_TYPE_RESPONSE = 2,
	TTRPC_TYPE_DATA = 3,
};

struct ttrpc_md {
	const char *key;
	const char *value;
};

/* ---- server ----
 * Bounded (doc/security.md, "front-end bounds"): connections, calls in
 * flight and memory, per connection and in total; see ttrpc_server.c. */

struct ttrpc_server;
struct ttrpc_call;

typedef void (*ttrpc_dispatch_fn)(struct ttrpc_call *call, void *data);
typedef void (*ttrpc_cancel_fn)(struct ttrpc_call *call, void *data);

/* Whether to serve a peer that just connected (its address from accept);
 * false closes the connection at once. The filter logs its refusals. */
typedef bool (*ttrpc_peer_fn)(const struct sockaddr *peer, socklen_t len, void *data);

/* Takes ownership of listen_fd (non-blocking, listening). */
int ttrpc_server_new(struct ttrpc_server **out, struct loop *l, int listen_fd,
		     ttrpc_dispatch_fn dispatch, void *data, struct kerr *err);
/* Closes the listener and every connection; pending calls are cancelled. */
void ttrpc_server_free(struct ttrpc_server *s);
/* Connections currently open (for tests and metrics). */
unsigned ttrpc_server_connections(const struct ttrpc_server *s);
/* agent.trace: log one INFO line with msg "span" per call when it is
 * answered (or dropped with its connection): service, method, stream id,
 * start and end (wall clock), duration, gRPC status. Calls already in flight
 * keep the setting they started with. Off by default. */
void ttrpc_server_set_trace(struct ttrpc_server *s, bool on);
/* Check every accepted peer with fn (NULL: serve every peer). */
void ttrpc_server_set_peer_filter(struct ttrpc_server *s, ttrpc_peer_fn fn, void *data);

const char *ttrpc_call_service(const struct ttrpc_call *c);
const char *ttrpc_call_method(const struct ttrpc_call *c);
/* The request's payload: valid only inside the dispatch callback (it is
 * freed when dispatch returns, so a parked call holds no request bytes).
 * The request's metadata is not kept at all: nothing reads it. */
const uint8_t *ttrpc_call_payload(const struct ttrpc_call *c, size_t *len);
/* Decode the payload as a d message (inside dispatch only). The caller owns
 * the result (protobuf_c_message_free_unpacked(m, NULL)); the memory the
 * decode took stays counted against the connection's bound until the call
 * ends, whenever the message is freed. NULL with err: RESOURCE_EXHAUSTED
 * when decoding would pass the bound, INVALID_ARGUMENT when the bytes are
 * not a d message. */
ProtobufCMessage *ttrpc_call_unpack(struct ttrpc_call *c, const ProtobufCMessageDescriptor *d,
				    struct kerr *err);
/* Absolute CLOCK_MONOTONIC deadline in ns, 0 when the request had none. */
uint64_t ttrpc_call_deadline(const struct ttrpc_call *c);
/* Nonzero once the deadline passed or the connection closed. */
int ttrpc_call_cancelled(const struct ttrpc_call *c);
void ttrpc_call_set_cancel(struct ttrpc_call *c, ttrpc_cancel_fn fn, void *data);

/* Answer and free the call. resp may be NULL for an empty payload. */
void ttrpc_call_reply(struct ttrpc_call *c, const ProtobufCMessage *resp);
/* An already packed payload: sent as ttrpc_call_reply_iov sends it. */
void ttrpc_call_reply_raw(struct ttrpc_call *c, const uint8_t *payload, size_t len);
/* Told exactly once per reply_notify or reply_iov: sent = true when the whole response
 * frame is in the socket (the peer can read it even if we die now), false
 * when it was dropped unsent (connection closed or failed first). May run
 * inside ttrpc_call_reply_notify itself. */
typedef void (*ttrpc_sent_fn)(void *data, bool sent);
/* ttrpc_call_reply, and fn(data, sent) once the frame left (or never will):
 * for output that must not be released before the host can have it. */
void ttrpc_call_reply_notify(struct ttrpc_call *c, const ProtobufCMessage *resp, ttrpc_sent_fn fn,
			     void *data);
/* ttrpc_call_reply_notify for a response already packed, in pieces (the
 * payload is their concatenation): sent from the caller's bytes, behind
 * the frame's head, in one sendmsg when no answer waits before it; only
 * what the socket does not take (or all, when answers wait) is copied, to
 * wait in the queue. The bytes need stay valid only during this call.
 * Every bound of a packed reply holds (frame size, memory charged as if
 * queued whole). fn may be NULL. */
void ttrpc_call_reply_iov(struct ttrpc_call *c, const struct iovec *iov, unsigned niov,
			  ttrpc_sent_fn fn, void *data);
/* Whether an OK answer with a payload of n bytes would go out now as
 * itself, not replaced by RESOURCE_EXHAUSTED for want of room in the
 * connection's bounds ("unread responses"). Valid until the caller returns
 * to the loop. Only room is judged: true when nothing would be sent at
 * all (call answered, connection closing) and for a payload over the frame
 * limit (refused whatever the room). */
bool ttrpc_call_reply_fits(struct ttrpc_call *c, size_t n);
/* Called once, from the loop, when a response queued on the call's
 * connection has left for the socket (room may have opened: check again
 * with ttrpc_call_reply_fits). May answer or release the call. */
typedef void (*ttrpc_room_fn)(struct ttrpc_call *call, void *data);
/* Wait for room for c's answer: fn(c, data) once, as above. Never fires
 * once the call is answered, released or cancelled (the cancel callback
 * tells the owner then). -EAGAIN, and nothing registered, when there is
 * nothing to wait for: no response queued on the connection (what holds
 * its memory is not output the peer can drain), or the call is over.
 * A second wait before the first fired replaces it. */
int ttrpc_call_wait_room(struct ttrpc_call *c, ttrpc_room_fn fn, void *data);
void ttrpc_call_fail(struct ttrpc_call *c, int grpc_status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answer with the status and message carried by err. */
void ttrpc_call_fail_err(struct ttrpc_call *c, const struct kerr *err);
/* Free without answering; only valid after cancellation. */
void ttrpc_call_release(struct ttrpc_call *c);

/* ---- client ---- */

struct ttrpc_client;

/* Connect to an address (see transport.h), blocking. */
int ttrpc_client_connect(struct ttrpc_client **out, const char *addr, uint64_t timeout_ns,
			 struct kerr *err);
/* Wrap an already connected stream socket (takes ownership). */
int ttrpc_client_from_fd(struct ttrpc_client **out, int fd, struct kerr *err);
void ttrpc_client_free(struct ttrpc_client *c);
int ttrpc_client_fd(const struct ttrpc_client *c);
/* True once a transport or framing failure made the client unusable. */
bool ttrpc_client_broken(const struct ttrpc_client *c);

/* Send one request; *stream_id receives the (odd, increasing) stream id.
 * timeout_ns 0 = no timeout_nano in the request. */
int ttrpc_client_send(struct ttrpc_client *c, const char *service, const char *method,
		      const uint8_t *payload, size_t len, int64_t timeout_ns,
		      const struct ttrpc_md *md, size_t nmd, uint32_t *stream_id, struct kerr *err);

/* Receive the next response, whatever its stream. On an RPC error status the
 * return is 0, *status is the gRPC code and *message (malloc'd) the text;
 * *payload (malloc'd) may be NULL for an empty one. Negative return: transport
 * or framing failure (err->status UNAVAILABLE or INTERNAL). */
int ttrpc_client_recv(struct ttrpc_client *c, uint32_t *stream_id, int *status, char **message,
		      uint8_t **payload, size_t *len, struct kerr *err);

/* One request, wait for its answer. On a non-OK status: returns negative with
 * err->status = that code and err->msg = the server's message. */
int ttrpc_client_call_raw(struct ttrpc_client *c, const char *service, const char *method,
			  const uint8_t *req, size_t req_len, int64_t timeout_ns, uint8_t **resp,
			  size_t *resp_len, struct kerr *err);
/* Typed convenience: packs req, unpacks into *resp with resp_desc
 * (free with protobuf_c_message_free_unpacked). */
int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		      ProtobufCMessage **resp, int64_t timeout_ns, struct kerr *err);
/* ttrpc_client_call with the wait bounded here too, as the Go and Rust
 * ttRPC clients bound it with their context deadline (a server that never
 * answers cannot hold the caller past timeout_ns, which must be > 0 to
 * bound anything). When it passes: -ETIMEDOUT, DEADLINE_EXCEEDED, and the
 * stream is forgotten (a late answer is dropped when read). The client stays
 * usable unless the deadline struck in the middle of a frame. */
int ttrpc_client_call_bounded(struct ttrpc_client *c, const char *service, const char *method,
			      const ProtobufCMessage *req,
			      const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
			      int64_t timeout_ns, struct kerr *err);

/* ---- framing (shared by server, client and the fuzz target) ---- */

struct ttrpc_frame_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_header_encode(uint8_t out[TTRPC_HEADER_LEN], const struct ttrpc_frame_header *h);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_frame_header *h);
/* Validate a header a server received: type, stream id parity, length bound. */
int ttrpc_header_check_request(const struct ttrpc_frame_header *h, struct kerr *err);
/* Validate a header a client received: type response, length bound. */
int ttrpc_header_check_response(const struct ttrpc_frame_header *h, struct kerr *err);

struct Ttrpc__Request; /* protos/ttrpc.pb-c.h */

/* Parse the request frame at the start of buf (what the server and the fuzz
 * target run on untrusted bytes). Returns 1 with *consumed = frame size and
 * *req (free with ttrpc__request__free_unpacked) when a whole valid frame is
 * there; 0 with *consumed = 0 when more bytes are needed (a complete header
 * is checked before its payload arrives, so an oversized frame fails early);
 * negative with err set on a protocol error (bad header, undecodable
 * request). *h is filled whenever a header was decoded. */
int ttrpc_parse_request(const uint8_t *buf, size_t len, size_t *consumed,
			struct ttrpc_frame_header *h, struct Ttrpc__Request **req,
			struct kerr *err);
/* The same, decoding with allocator a (the server's counting allocator;
 * free *req with the same one). When a refuses memory the decode fails
 * like an undecodable request: a's owner tells the two apart. */
int ttrpc_parse_request_alloc(const uint8_t *buf, size_t len, ProtobufCAllocator *a,
			      size_t *consumed, struct ttrpc_frame_header *h,
			      struct Ttrpc__Request **req, struct kerr *err);

#endif
