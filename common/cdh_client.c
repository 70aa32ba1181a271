/* SPDX-License-Identifier: Apache-2.0 */
/* cdh_client.c - see cdh_client.h. */
#include "cdh_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "confidential_data_hub.pb-c.h"
#include "grpc_status.h"
#include "ttrpc.h"

struct cdh_client {
	char *addr;
	uint64_t api_timeout_ns;
	uint64_t image_pull_timeout_ns;
	struct ttrpc_client *conn; /* NULL until the first call, and after a failure */
};

int cdh_client_new_at(struct cdh_client **out, const char *addr, uint64_t api_timeout_ms,
		      uint64_t image_pull_timeout_ms, struct kerr *err)
{
	if (!api_timeout_ms || !image_pull_timeout_ms)
		return kerr_set(err, -EINVAL,
				"CDH client: timeouts must be > 0 (api %llu ms, "
				"image pull %llu ms)",
				(unsigned long long)api_timeout_ms,
				(unsigned long long)image_pull_timeout_ms);
	/* ns as int64 timeout_nano: 292 years; refuse what would wrap. */
	if (api_timeout_ms > INT64_MAX / 1000000 || image_pull_timeout_ms > INT64_MAX / 1000000)
		return kerr_set(err, -ERANGE, "CDH client: timeout out of range");
	struct cdh_client *c = calloc(1, sizeof(*c));
	if (!c || !(c->addr = strdup(addr))) {
		free(c);
		return kerr_set(err, -ENOMEM, "CDH client: out of memory");
	}
	c->api_timeout_ns = api_timeout_ms * 1000000;
	c->image_pull_timeout_ns = image_pull_timeout_ms * 1000000;
	*out = c;
	return 0;
}

int cdh_client_new(struct cdh_client **out, uint64_t api_timeout_ms, uint64_t image_pull_timeout_ms,
		   struct kerr *err)
{
	return cdh_client_new_at(out, CDH_SOCKET_ADDR, api_timeout_ms, image_pull_timeout_ms, err);
}

void cdh_client_free(struct cdh_client *c)
{
	if (!c)
		return;
	ttrpc_client_free(c->conn);
	free(c->addr);
	free(c);
}

/* One call: connect if needed (within the call's timeout), call, and drop
 * a connection that can no longer be trusted so the next call makes a new
 * one. */
static int cdh_call(struct cdh_client *c, const char *service, const char *method,
		    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		    ProtobufCMessage **resp, uint64_t timeout_ns, struct kerr *err)
{
	int r;
	if (!c->conn) {
		r = ttrpc_client_connect(&c->conn, c->addr, timeout_ns, err);
		if (r < 0) {
			c->conn = NULL;
			kerr_prefix(err, "CDH %s", method);
			if (err)
				err->status = GRPC_UNAVAILABLE;
			return r;
		}
	}
	r = ttrpc_client_call_bounded(c->conn, service, method, req, resp_desc, resp,
				      (int64_t)timeout_ns, err);
	if (r < 0 && ttrpc_client_broken(c->conn)) {
		ttrpc_client_free(c->conn);
		c->conn = NULL;
	}
	if (r < 0)
		kerr_prefix(err, "CDH %s", method);
	return r;
}

/* A copy of a bytes field with a NUL after it. */
static int take_bytes(const ProtobufCBinaryData *b, uint8_t **out, size_t *len, struct kerr *err)
{
	uint8_t *p = malloc(b->len + 1);
	if (!p)
		return kerr_set(err, -ENOMEM, "CDH client: out of memory");
	if (b->len)
		memcpy(p, b->data, b->len);
	p[b->len] = '\0';
	*out = p;
	*len = b->len;
	return 0;
}

int cdh_unseal_secret(struct cdh_client *c, const uint8_t *secret, size_t len, uint8_t **plaintext,
		      size_t *plaintext_len, struct kerr *err)
{
	Api__UnsealSecretInput req = API__UNSEAL_SECRET_INPUT__INIT;
	req.secret.data = (uint8_t *)secret;
	req.secret.len = len;
	ProtobufCMessage *m = NULL;
	int r = cdh_call(c, "api.SealedSecretService", "UnsealSecret", &req.base,
			 &api__unseal_secret_output__descriptor, &m, c->api_timeout_ns, err);
	if (r < 0)
		return r;
	Api__UnsealSecretOutput *out = (Api__UnsealSecretOutput *)m;
	r = take_bytes(&out->plaintext, plaintext, plaintext_len, err);
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

int cdh_secure_mount(struct cdh_client *c, const char *volume_type,
		     const struct cdh_option *options, size_t n_options, const char *const *flags,
		     size_t n_flags, const char *mount_point, struct kerr *err)
{
	cleanup_free Api__SecureMountRequest__OptionsEntry *entries = calloc(n_options ? n_options
										       : 1,
									     sizeof(*entries));
	cleanup_free Api__SecureMountRequest__OptionsEntry **list = calloc(n_options ? n_options
										     : 1,
									   sizeof(*list));
	if (!entries || !list)
		return kerr_set(err, -ENOMEM, "CDH client: out of memory");
	for (size_t i = 0; i < n_options; i++) {
		api__secure_mount_request__options_entry__init(&entries[i]);
		entries[i].key = (char *)options[i].key;
		entries[i].value = (char *)options[i].value;
		list[i] = &entries[i];
	}
	Api__SecureMountRequest req = API__SECURE_MOUNT_REQUEST__INIT;
	req.volume_type = (char *)volume_type;
	req.n_options = n_options;
	req.options = list;
	req.n_flags = n_flags;
	req.flags = (char **)flags;
	req.mount_point = (char *)mount_point;
	ProtobufCMessage *m = NULL;
	int r = cdh_call(c, "api.SecureMountService", "SecureMount", &req.base,
			 &api__secure_mount_response__descriptor, &m, c->api_timeout_ns, err);
	if (r < 0)
		return r;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int cdh_get_resource(struct cdh_client *c, const char *resource_path, uint8_t **data, size_t *len,
		     struct kerr *err)
{
	Api__GetResourceRequest req = API__GET_RESOURCE_REQUEST__INIT;
	req.resourcepath = (char *)resource_path;
	ProtobufCMessage *m = NULL;
	int r = cdh_call(c, "api.GetResourceService", "GetResource", &req.base,
			 &api__get_resource_response__descriptor, &m, c->api_timeout_ns, err);
	if (r < 0)
		return r;
	r = take_bytes(&((Api__GetResourceResponse *)m)->resource, data, len, err);
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

int cdh_pull_image(struct cdh_client *c, const char *image_url, const char *bundle_path,
		   struct kerr *err)
{
	Api__ImagePullRequest req = API__IMAGE_PULL_REQUEST__INIT;
	req.image_url = (char *)image_url;
	req.bundle_path = (char *)bundle_path;
	ProtobufCMessage *m = NULL;
	int r = cdh_call(c, "api.ImagePullService", "PullImage", &req.base,
			 &api__image_pull_response__descriptor, &m, c->image_pull_timeout_ns, err);
	if (r < 0)
		return r;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
