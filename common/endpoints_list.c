/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints_list.c - the [endpoints] allowed list as the processes pass it
 * on argv (endpoints.h): names and the comma-joined form only. Apart from
 * endpoints.c so that a process that checks names but no request (the
 * parent) does not link the API's catalog and its descriptors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "endpoints.h"

bool endpoints_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

int endpoints_parse_list(struct agent_options *o, const char *list)
{
	o->endpoints_restricted = true;
	if (!*list)
		return 0;
	size_t n = 1;
	for (const char *c = list; *c; c++)
		n += *c == ',';
	char **names = calloc(n, sizeof(char *));
	cleanup_free char *copy = strdup(list);
	if (!names || !copy) {
		free(names);
		return -ENOMEM;
	}
	size_t k = 0;
	int r = 0;
	char *p = copy;
	for (char *tok = strsep(&p, ","); tok && r == 0; tok = strsep(&p, ",")) {
		if (!endpoints_name_valid(tok))
			r = -EINVAL;
		else if (!(names[k] = strdup(tok)))
			r = -ENOMEM;
		else
			k++;
	}
	if (r < 0) {
		for (size_t i = 0; i < k; i++)
			free(names[i]);
		free(names);
		return r;
	}
	o->allowed_endpoints = names;
	o->n_allowed_endpoints = k;
	return 0;
}
