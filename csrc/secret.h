/* Secrets (the SK) as userdata whose bytes are wiped when collected or closed. */
#ifndef CLOUD_SECRET_H
#define CLOUD_SECRET_H

#include <lua.h>
#include "canon.h"

#define SECRET_MT "cloud.core.secret"

void secret_open(lua_State *L);
int secret_new(lua_State *L);
struct sign_key;

/* The bytes of a secret userdata or a plain string at i; raises naming `field`
 * (never the value) otherwise. For a secret, *key receives its keyed HMAC context.
 * mt: stack index of the secret metatable (see secret_push_metatable), or 0. */
cstr secret_check(lua_State *L, int i, int mt, const char *where, const char *field,
                  const struct sign_key **key);
void secret_push_metatable(lua_State *L);

#endif
