/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cdh_client.h - the agent's client of the guest's Confidential Data Hub
 * (CDH, confidential-containers/guest-components), over ttRPC on the CDH's
 * unix socket; protos/confidential_data_hub.proto.
 *
 * One function per CDH call, each as upstream's agent makes it
 * (src/agent/src/confidential_data_hub/mod.rs, CDHClient): UnsealSecret,
 * SecureMount and GetResource bounded by agent.cdh_api_timeout, PullImage by
 * agent.image_pull_timeout; the timeout goes out as the request's
 * timeout_nano and also bounds the wait here (a CDH that never answers
 * cannot hold the caller longer). Each call blocks its caller for up to its
 * timeout (PullImage: 20 minutes by default): run it where blocking is
 * acceptable, not in an event loop that serves other requests.
 *
 * The address is fixed, CDH_SOCKET_ADDR, as upstream's CDH_SOCKET_URI: no
 * request, host or configuration value chooses it. cdh_client_new_at exists
 * for tests only.
 *
 * Errors: the CDH's own answer keeps its gRPC status (the CDH says INTERNAL
 * for everything) and its message ("[CDH] [ERROR]: ..."), prefixed with the
 * call ("CDH UnsealSecret: "); no answer within the timeout is
 * DEADLINE_EXCEEDED; no CDH (socket missing, connection refused or closed)
 * is UNAVAILABLE. The connection is made at the first call and made again
 * after it failed, so a restarted CDH is found again.
 *
 * Offers: CDH_SOCKET_ADDR, struct cdh_client, cdh_client_new(),
 *         cdh_client_new_at(), cdh_client_free(), cdh_unseal_secret(),
 *         cdh_secure_mount(), cdh_get_resource(), cdh_pull_image().
 */
#ifndef KATA_COMMON_CDH_CLIENT_H
#define KATA_COMMON_CDH_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* upstream src/agent/src/main.rs CDH_SOCKET / CDH_SOCKET_URI */
#define CDH_SOCKET_PATH "/run/confidential-containers/cdh.sock"
#define CDH_SOCKET_ADDR "unix://" CDH_SOCKET_PATH

struct cdh_client;

/* Timeouts in ms, from struct agent_options (cdh_api_timeout_ms,
 * image_pull_timeout_ms); both must be > 0, as upstream's config requires.
 * Does not connect yet. */
int cdh_client_new(struct cdh_client **out, uint64_t api_timeout_ms, uint64_t image_pull_timeout_ms,
		   struct kerr *err);
/* The same on another address (tests, the test CDH's checks). */
int cdh_client_new_at(struct cdh_client **out, const char *addr, uint64_t api_timeout_ms,
		      uint64_t image_pull_timeout_ms, struct kerr *err);
void cdh_client_free(struct cdh_client *c);

/* SealedSecretService.UnsealSecret: secret is the whole sealed value
 * ("sealed.<...>", as upstream's unseal_env and unseal_file pass it).
 * *plaintext is malloc'd (NUL-terminated past *len, for callers that want a
 * string; it may hold NULs itself). */
int cdh_unseal_secret(struct cdh_client *c, const uint8_t *secret, size_t len, uint8_t **plaintext,
		      size_t *plaintext_len, struct kerr *err);

struct cdh_option {
	const char *key;
	const char *value;
};

/* SecureMountService.SecureMount: volume_type, the options map (sent in the
 * order given), flags and mount_point, as upstream's secure_mount. */
int cdh_secure_mount(struct cdh_client *c, const char *volume_type,
		     const struct cdh_option *options, size_t n_options, const char *const *flags,
		     size_t n_flags, const char *mount_point, struct kerr *err);

/* GetResourceService.GetResource: *data is malloc'd (NUL-terminated past
 * *len). */
int cdh_get_resource(struct cdh_client *c, const char *resource_path, uint8_t **data, size_t *len,
		     struct kerr *err);

/* ImagePullService.PullImage: the CDH unpacks image_url into
 * bundle_path/rootfs (bundle_path exists and is empty, as upstream's
 * pull_image makes it before the call). */
int cdh_pull_image(struct cdh_client *c, const char *image_url, const char *bundle_path,
		   struct kerr *err);

#endif
