/* core.security_key: see keyscan_lua.c. */
#ifndef CLOUD_KEYSCAN_LUA_H
#define CLOUD_KEYSCAN_LUA_H

#include <lua.h>

/* Registers the scratch metatable and pushes core.security_key. */
void keyscan_lua_push(lua_State *L);

#endif
