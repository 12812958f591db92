/* core.security_key: see keyscan_lua.c. */
#ifndef CLOUD_KEYSCAN_LUA_H
#define CLOUD_KEYSCAN_LUA_H

#include <lua.h>

/* Makes the scratch metatable and sets core.security_key in the table at stack index core. */
void keyscan_lua_register(lua_State *L, int core);

#endif
