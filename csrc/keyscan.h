/* Reading the ECS metadata service's security key answer
 * ({"credential": {"access", "secret", "securitytoken", "expires_at", ...}}) in C, so that
 * the temporary secret key and the security token never become Lua strings. A strict
 * JSON parser over a buffer, with no Lua: it can be fuzzed alone. */
#ifndef CLOUD_KEYSCAN_H
#define CLOUD_KEYSCAN_H

#include <stddef.h>
#include "buf.h"

/* Arrays and objects nested deeper than this are refused. */
#define KEYSCAN_MAX_DEPTH 32

enum { KEYSCAN_ACCESS, KEYSCAN_SECRET, KEYSCAN_TOKEN, KEYSCAN_EXPIRES_AT, KEYSCAN_NFIELDS };
enum { KEYSCAN_OK, KEYSCAN_EINVALID, KEYSCAN_ENOMEM };

typedef struct {
  cbuf f[KEYSCAN_NFIELDS]; /* unescaped values of credential.*; wiped by keyscan_free */
  unsigned char set[KEYSCAN_NFIELDS]; /* 1: the member was a string */
  const char *error;       /* on KEYSCAN_EINVALID: a static reason, never input bytes */
} keyscan_result;

void keyscan_init(keyscan_result *r);
/* Overwrites every kept byte, then frees. Idempotent. */
void keyscan_free(keyscan_result *r);

/* Parses p[0..n). The top level must be an object; "credential" must be an object when
 * present; every other member is validated and skipped. A repeated member: the last one
 * wins. Returns KEYSCAN_OK, KEYSCAN_EINVALID (r->error) or KEYSCAN_ENOMEM. */
int keyscan_parse(keyscan_result *r, const char *p, size_t n);

#endif
