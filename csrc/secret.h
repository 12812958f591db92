/* Secrets (the SK, a security token) as userdata whose bytes are wiped when collected or closed. */
#ifndef CLOUD_SECRET_H
#define CLOUD_SECRET_H

#include <lua.h>
#include "canon.h"

#define SECRET_MT "cloud.core.secret"

/* Makes the secret metatable and sets core.secret and core.header_line in the table at
 * stack index core. */
void secret_lua_register(lua_State *L, int core);
struct sign_key;

/* The bytes of a secret userdata or a plain string at i; raises the argument error naming
 * `where` and `field` (never the value) otherwise. For a secret, *key receives its keyed
 * HMAC context. mt: stack index of the secret metatable (see secret_push_metatable), or 0. */
cstr secret_check(lua_State *L, int i, int mt, const char *where, const char *field,
                  const struct sign_key **key);
void secret_push_metatable(lua_State *L);
/* Pushes a new secret holding a copy of p[0..n), n > 0. May raise (memory). */
void secret_push(lua_State *L, const char *p, size_t n);
/* 1 and the bytes in *out when the value at i is an open secret; 0 otherwise. Never raises. */
int secret_peek(lua_State *L, int i, cstr *out);

#endif
