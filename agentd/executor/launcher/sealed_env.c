/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sealed_env.c - unseal a process's "sealed." environment values through
 * the CDH (sealed_env.h). Upstream only warns and keeps the sealed value
 * when the CDH fails; here the request fails and nothing starts
 * (doc/protocol.md, "Sealed secrets").
 */
#include "sealed_env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cdh_client.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"
#include "utf8.h"

#define SEALED_PREFIX "sealed."

bool sealed_env_cdh_present(void)
{
	struct stat st;
	return lstat(CDH_SOCKET_PATH, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The value of "KEY=VALUE" when it is sealed, else NULL. */
static const char *sealed_value(const char *env)
{
	const char *eq = strchr(env, '=');
	if (!eq || strncmp(eq + 1, SEALED_PREFIX, strlen(SEALED_PREFIX)) != 0)
		return NULL;
	return eq + 1;
}

void sealed_env_free_secret(uint8_t *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
	free(p);
}

/* One entry: *env ("KEY=sealed...") replaced by "KEY=<plaintext>". */
static int unseal_one(struct cdh_client *c, char **env, struct kerr *err)
{
	const char *v = sealed_value(*env);
	size_t klen = (size_t)(v - *env); /* "KEY=" */
	uint8_t *plain = NULL;
	size_t n = 0;
	int r = cdh_unseal_secret(c, (const uint8_t *)v, strlen(v), &plain, &n, err);
	if (r < 0)
		return kerr_prefix(err, "env %.*s", (int)(klen - 1), *env);
	if (memchr(plain, '\0', n) || !utf8_valid((const char *)plain, n)) {
		sealed_env_free_secret(plain, n);
		/* upstream: std::str::from_utf8 fails the same way */
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EILSEQ,
				       "env %.*s: the unsealed value is not UTF-8 text",
				       (int)(klen - 1), *env);
	}
	char *out = malloc(klen + n + 1);
	if (!out) {
		sealed_env_free_secret(plain, n);
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	}
	memcpy(out, *env, klen);
	memcpy(out + klen, plain, n);
	out[klen + n] = '\0';
	sealed_env_free_secret(plain, n);
	free(*env);
	*env = out;
	return 0;
}

int sealed_env_unseal(Grpc__Process *p, uint64_t api_timeout_ms, size_t *n_unsealed,
		      struct kerr *err)
{
	size_t want = 0, done = 0;
	for (size_t i = 0; i < p->n_env; i++)
		if (sealed_value(p->env[i]))
			want++;
	if (n_unsealed)
		*n_unsealed = 0;
	if (!want)
		return 0;
	if (!sealed_env_cdh_present()) {
		log_warn("%zu sealed environment value(s) left as they are: no CDH at %s (as "
			 "upstream without a CDH)",
			 want, CDH_SOCKET_PATH);
		return 0;
	}
	struct cdh_client *c = NULL;
	/* PullImage's timeout is not used here; any non-zero value does. */
	int r = cdh_client_new(&c, api_timeout_ms, api_timeout_ms, err);
	for (size_t i = 0; r == 0 && i < p->n_env; i++)
		if (sealed_value(p->env[i]) && (r = unseal_one(c, &p->env[i], err)) == 0)
			done++;
	cdh_client_free(c);
	if (n_unsealed)
		*n_unsealed = done;
	if (r < 0)
		return kerr_prefix(err, "failed to handle sealed secrets");
	return 0;
}
