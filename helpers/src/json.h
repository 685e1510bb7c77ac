/* json.h -- just enough JSON for flat request objects: look up a top-level key and
 * read its string or unsigned-integer value; escape strings for output. */
#ifndef FLUIDMEM_JSON_H
#define FLUIDMEM_JSON_H

#include <stddef.h>
#include <stdint.h>

/* 0 on success, -1 if the key is missing or has another type */
int json_get_str(const char *obj, const char *key, char *out, size_t n);
int json_get_u64(const char *obj, const char *key, uint64_t *out);
/* writes s as a quoted JSON string; returns bytes written (truncates to fit n) */
size_t json_quote(char *out, size_t n, const char *s);

#endif
