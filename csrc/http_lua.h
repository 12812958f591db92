/* core.http, the HTTP engine (http.c) as a userdata: see http_lua.c. */
#ifndef CLOUD_HTTP_LUA_H
#define CLOUD_HTTP_LUA_H

#include <lua.h>

/* Makes the engine's metatable and sets core.http in the table at stack index core. */
void http_lua_register(lua_State *L, int core);

#endif
