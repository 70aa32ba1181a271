/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonpatch.c - RFC 6902 JSON patch with RFC 6901 pointers (jsonpatch.h).
 * Works on a deep copy, so a failure midway leaves the document untouched.
 */
#include "jsonpatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* The next reference token of pointer *p (after its '/'), unescaped
 * (~1 -> '/', ~0 -> '~') into a new string; *p moves past it. */
static char *next_token(const char **p)
{
	const char *s = *p + 1, *end = strchr(s, '/');
	size_t n = end ? (size_t)(end - s) : strlen(s);
	char *t = malloc(n + 1), *o = t;
	if (!t)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
			*o++ = s[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	*p = s + n;
	return t;
}

/* An array index: digits without a leading zero, below limit; "-" is
 * limit itself when dash_ok (the end, for add). */
static int array_index(const char *t, size_t limit, bool dash_ok, size_t *out)
{
	if (dash_ok && !strcmp(t, "-")) {
		*out = limit;
		return 0;
	}
	if (!*t || (t[0] == '0' && t[1]) || strspn(t, "0123456789") != strlen(t) || strlen(t) > 9)
		return -EINVAL;
	size_t i = strtoul(t, NULL, 10);
	if (i > limit || (!dash_ok && i == limit))
		return -EINVAL;
	*out = i;
	return 0;
}

/* Resolve ptr to its parent container and last token (NULL token: the
 * root itself). */
static int resolve_parent(json_t *doc, const char *ptr, json_t **parent, char **last,
			  struct kerr *err)
{
	*parent = NULL;
	*last = NULL;
	if (!*ptr)
		return 0;
	if (*ptr != '/')
		return kerr_set(err, -EINVAL, "JSON pointer \"%s\" does not start with /", ptr);
	json_t *cur = doc;
	const char *p = ptr;
	for (;;) {
		char *t = next_token(&p);
		if (!t)
			return kerr_set(err, -ENOMEM, "out of memory");
		if (!*p) {
			*parent = cur;
			*last = t;
			return 0;
		}
		json_t *next = NULL;
		size_t i;
		if (json_is_object(cur))
			next = json_object_get(cur, t);
		else if (json_is_array(cur) && array_index(t, json_array_size(cur), false, &i) == 0)
			next = json_array_get(cur, i);
		free(t);
		if (!next)
			return kerr_set(err, -EINVAL, "JSON pointer \"%s\" does not resolve", ptr);
		cur = next;
	}
}

static json_t *get_at(json_t *doc, const char *ptr, struct kerr *err)
{
	json_t *parent;
	cleanup_free char *last = NULL;
	if (resolve_parent(doc, ptr, &parent, &last, err) < 0)
		return NULL;
	if (!last)
		return doc;
	size_t i;
	json_t *v = NULL;
	if (json_is_object(parent))
		v = json_object_get(parent, last);
	else if (json_is_array(parent) && array_index(last, json_array_size(parent), false, &i) == 0)
		v = json_array_get(parent, i);
	if (!v)
		kerr_set(err, -EINVAL, "JSON pointer \"%s\" does not resolve", ptr);
	return v;
}

/* Remove what ptr names; its value is returned (a new reference). */
static json_t *remove_at(json_t *doc, const char *ptr, struct kerr *err)
{
	json_t *parent;
	cleanup_free char *last = NULL;
	if (resolve_parent(doc, ptr, &parent, &last, err) < 0)
		return NULL;
	if (!last) {
		kerr_set(err, -EINVAL, "cannot remove the whole document");
		return NULL;
	}
	size_t i;
	json_t *v = NULL;
	if (json_is_object(parent) && (v = json_object_get(parent, last))) {
		json_incref(v);
		json_object_del(parent, last);
	} else if (json_is_array(parent) &&
		   array_index(last, json_array_size(parent), false, &i) == 0) {
		v = json_incref(json_array_get(parent, i));
		json_array_remove(parent, i);
	}
	if (!v)
		kerr_set(err, -EINVAL, "JSON pointer \"%s\" does not resolve", ptr);
	return v;
}

/* Add v (reference stolen) at ptr; replacing the root replaces *doc. */
static int add_at(json_t **doc, const char *ptr, json_t *v, bool replace, struct kerr *err)
{
	json_t *parent;
	cleanup_free char *last = NULL;
	if (resolve_parent(*doc, ptr, &parent, &last, err) < 0) {
		json_decref(v);
		return -EINVAL;
	}
	if (!last) {
		json_decref(*doc);
		*doc = v;
		return 0;
	}
	size_t i;
	if (json_is_object(parent)) {
		if (replace && !json_object_get(parent, last))
			goto bad;
		return json_object_set_new(parent, last, v) < 0 ? kerr_set(err, -ENOMEM, "oom") : 0;
	}
	if (json_is_array(parent) && array_index(last, json_array_size(parent), !replace, &i) == 0) {
		int r = replace ? json_array_set_new(parent, i, v)
				: json_array_insert_new(parent, i, v);
		return r < 0 ? kerr_set(err, -ENOMEM, "oom") : 0;
	}
bad:
	json_decref(v);
	return kerr_set(err, -EINVAL, "JSON pointer \"%s\" does not resolve", ptr);
}

static int apply_one(json_t **doc, const json_t *op, struct kerr *err)
{
	const char *name = json_string_value(json_object_get(op, "op"));
	const char *path = json_string_value(json_object_get(op, "path"));
	const char *from = json_string_value(json_object_get(op, "from"));
	json_t *value = json_object_get(op, "value");
	if (!json_is_object(op) || !name || !path)
		return kerr_set(err, -EINVAL, "a patch operation needs \"op\" and \"path\"");
	if (!strcmp(name, "add") || !strcmp(name, "replace")) {
		if (!value)
			return kerr_set(err, -EINVAL, "%s %s: no \"value\"", name, path);
		return add_at(doc, path, json_deep_copy(value), name[0] == 'r', err);
	}
	if (!strcmp(name, "remove")) {
		json_t *v = remove_at(*doc, path, err);
		json_decref(v);
		return v ? 0 : -EINVAL;
	}
	if (!strcmp(name, "test")) {
		json_t *v = get_at(*doc, path, err);
		if (!v || !value || !json_equal(v, value))
			return kerr_set(err, -EINVAL, "test %s failed", path);
		return 0;
	}
	if ((!strcmp(name, "move") || !strcmp(name, "copy")) && from) {
		json_t *v = name[0] == 'm' ? remove_at(*doc, from, err)
					   : json_deep_copy(get_at(*doc, from, err));
		if (!v)
			return -EINVAL;
		return add_at(doc, path, v, false, err);
	}
	return kerr_set(err, -EINVAL, "unknown patch operation \"%s\"", name);
}

int jsonpatch_apply(json_t **doc, const json_t *ops, struct kerr *err)
{
	if (!json_is_array(ops))
		return kerr_set(err, -EINVAL, "the patch is not an array");
	json_t *work = json_deep_copy(*doc);
	if (!work)
		return kerr_set(err, -ENOMEM, "out of memory");
	size_t i;
	const json_t *op;
	json_array_foreach(ops, i, op) {
		int r = apply_one(&work, op, err);
		if (r < 0) {
			json_decref(work);
			return kerr_prefix(err, "patch operation %zu", i);
		}
	}
	json_decref(*doc);
	*doc = work;
	return 0;
}
