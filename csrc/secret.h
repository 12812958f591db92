/* Secrets (the SK) as userdata whose bytes are wiped when collected or closed. */
#ifndef CLOUD_SECRET_H
#define CLOUD_SECRET_H

#include <lua.h>
#include "canon.h"

#define SECRET_MT "cloud.core.secret"

void secret_open(lua_State *L);
int secret_new(lua_State *L);
/* The bytes of a secret userdata or a plain string at i; raises naming `field`
 * (never the value) otherwise. */
cstr secret_check(lua_State *L, int i, const char *where, const char *field);

#endif
