/* json.c -- a scanner for flat JSON objects. It walks the object token by token (so a
 * key inside a string value is never mistaken for a key) and stops at the wanted key. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char *ws(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return p;
}

/* parse a string at p (p points at '"'); copies into out if non-NULL; returns end */
static const char *str(const char *p, char *out, size_t n)
{
	size_t o = 0;
	if (*p != '"')
		return NULL;
	for (p++; *p && *p != '"'; p++) {
		char c = *p;
		if (c == '\\') {
			p++;
			switch (*p) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (!p[1] || !p[2] || !p[3] || !p[4])
					return NULL;
				c = '?';
				p += 4;
				break;
			case 0: return NULL;
			default: c = *p;
			}
		}
		if (out && o + 1 < n)
			out[o++] = c;
	}
	if (*p != '"')
		return NULL;
	if (out && n)
		out[o] = 0;
	return p + 1;
}

/* skip a scalar value (string, number, true/false/null); nested values unsupported */
static const char *skip_value(const char *p)
{
	if (*p == '"')
		return str(p, NULL, 0);
	if (*p == '{' || *p == '[')
		return NULL;
	while (*p && *p != ',' && *p != '}' && !isspace((unsigned char)*p))
		p++;
	return p;
}

static const char *find(const char *obj, const char *key)
{
	char k[64];
	const char *p = ws(obj);
	if (*p != '{')
		return NULL;
	p = ws(p + 1);
	while (*p == '"') {
		p = str(p, k, sizeof k);
		if (!p)
			return NULL;
		p = ws(p);
		if (*p != ':')
			return NULL;
		p = ws(p + 1);
		if (!strcmp(k, key))
			return p;
		p = skip_value(p);
		if (!p)
			return NULL;
		p = ws(p);
		if (*p == ',')
			p = ws(p + 1);
	}
	return NULL;
}

int json_get_str(const char *obj, const char *key, char *out, size_t n)
{
	const char *p = find(obj, key);
	return p && *p == '"' && str(p, out, n) ? 0 : -1;
}

int json_get_u64(const char *obj, const char *key, uint64_t *out)
{
	const char *p = find(obj, key);
	if (!p || !isdigit((unsigned char)*p))
		return -1;
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	if (*end == '.' || *end == 'e' || *end == 'E')
		return -1;
	*out = v;
	return 0;
}

size_t json_quote(char *out, size_t n, const char *s)
{
	size_t o = 0;
	if (n < 3)
		return 0;
	out[o++] = '"';
	for (; *s && o + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = 0;
	return o;
}
