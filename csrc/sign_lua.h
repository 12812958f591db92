#ifndef CLOUD_SIGN_LUA_H
#define CLOUD_SIGN_LUA_H

#include <lua.h>

/* Pushes core.sign: a closure over its per-state scratch (contexts and buffers). */
void sign_lua_push(lua_State *L);

#endif
